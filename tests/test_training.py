"""nb2svc_runtime.training imported as code (no rendering, no subprocess): hyperparameter
precedence and decoding, script-mode arguments, SM_* variables, channel checks, the failure
file and exit codes, SIGTERM, the steps, and the model saved with raw features and threshold.
The same contract as processes (T1-T10 on a converted package) is in test_sagemaker.py."""

from __future__ import annotations

import json
import os
import signal
import types
from pathlib import Path

import numpy as np
import pytest
from nb2svc_runtime import training
from nb2svc_runtime.training import Layout, Step, Training


@pytest.fixture()
def layout(tmp_path, monkeypatch):
    """A relocated /opt/ml and a clean SM_* environment (restored by monkeypatch)."""
    for key in [k for k in os.environ if k.startswith("SM_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv(training.BASE_ENV, str(tmp_path / "ml"))
    (tmp_path / "ml" / "input" / "config").mkdir(parents=True)
    yield Layout.from_environment()
    for key in [k for k in os.environ if k.startswith("SM_")]:
        os.environ.pop(key)  # set by Training.run with setdefault, outside monkeypatch


def _module(**functions) -> types.ModuleType:
    mod = types.ModuleType("fake_pipeline")
    for name, value in functions.items():
        setattr(mod, name, value)
    return mod


def test_decode_keeps_strings_that_are_not_json():
    assert training.decode("0.5") == 0.5 and training.decode("[1,2]") == [1, 2]
    assert training.decode("true") is True and training.decode('"x"') == "x"
    assert training.decode("base") == "base" and training.decode(3) == 3


@pytest.mark.parametrize(
    "argv, want",
    [
        (["--alpha", "2", "--label", "y"], {"alpha": "2", "label": "y"}),
        (["--alpha=2", "-C", "1"], {"alpha": "2", "C": "1"}),
        (["--flag", "--n-estimators", "5"], {"flag": "true", "n_estimators": "5"}),
        (["--x", "-1"], {"x": "-1"}),  # a negative number is a value, not a name
        (["--", "stray"], {}),
    ],
)
def test_script_mode_arguments(argv, want):
    assert training.script_mode_args(argv) == want


def test_hyperparameter_precedence_file_then_sm_hps_then_argv(layout, monkeypatch):
    (layout.config / "hyperparameters.json").write_text(json.dumps({"a": "1", "b": "1", "c": "1"}))
    monkeypatch.setenv("SM_HPS", json.dumps({"b": "2", "c": "2"}))
    assert training.read_hyperparameters(layout, ["--c", "3"]) == {"a": "1", "b": "2", "c": "3"}


def test_unknown_hyperparameters_are_reported_and_ignored(capsys):
    job = Training("p", "p.ipynb", _module(), hyperparameters={"alpha": 1.0, "label": "base"})
    assert job.parameters({"alpha": "0.5", "zeta": "1"}) == {"alpha": 0.5, "label": "base"}
    assert "ignoring unknown hyperparameters: zeta" in capsys.readouterr().err


def test_environment_matches_the_training_toolkit(layout):
    (layout.config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]})
    )
    (layout.config / "inputdataconfig.json").write_text(json.dumps({"train": {}}))
    layout.channel("extra-set").mkdir(parents=True)
    env = training.environment(layout, {"alpha": "0.5", "sizes": [1, 2]}, ["extra-set", "absent"])
    assert json.loads(env["SM_CHANNELS"]) == ["extra-set", "train"]
    assert env["SM_CHANNEL_EXTRA_SET"] == str(layout.channel("extra-set"))
    assert env["SM_CHANNEL_TRAIN"] == str(layout.channel("train"))
    assert "SM_CHANNEL_ABSENT" not in env
    assert env["SM_HP_ALPHA"] == "0.5" and env["SM_HP_SIZES"] == "[1, 2]"
    assert env["SM_CURRENT_HOST"] == "algo-1" and json.loads(env["SM_HOSTS"]) == ["algo-1", "algo-2"]
    assert env["SM_MODEL_DIR"] == str(layout.base / "model")
    assert json.loads(env["SM_TRAINING_ENV"])["hps"] == env["SM_HPS"]


def test_a_config_file_that_is_not_an_object_is_an_error(layout):
    (layout.config / "hyperparameters.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        training.read_hyperparameters(layout, [])


def test_channels_must_be_folders_holding_files(layout, monkeypatch):
    with pytest.raises(FileNotFoundError, match="channel 'train': no folder"):
        training.check_channels(layout, ["train"])
    layout.channel("train").mkdir(parents=True)
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(layout.channel("train")))
    with pytest.raises(FileNotFoundError, match="holds no files"):
        training.check_channels(layout, ["train"])
    (layout.channel("train") / "part.csv").write_text("a\n1\n")
    training.check_channels(layout, ["train"])


def test_steps_run_in_order_with_parameters_and_globals():
    calls = []

    def load(scale):
        calls.append("load")
        return [1.0 * scale, 2.0 * scale]

    def split(rows):
        return rows[:1], rows[1:]

    def score(head, tail, offset):
        return head[0] + tail[0] + offset

    mod = _module(load=load, split=split, score=score, offset=10)
    steps = [Step("load", ["scale"], ["rows"]), Step("split", ["rows"], ["head", "tail"]),
             Step("score", ["head", "tail", "offset"], ["total"])]
    job = Training("p", "p.ipynb", mod, steps=steps, hyperparameters={"scale": 1})
    values = job.run_steps({"scale": 2})
    assert values["total"] == 16.0 and calls == ["load"]
    assert training.numeric_results(values, exclude=["scale"]) == {"total": 16.0}


def test_a_step_returning_the_wrong_number_of_values_fails():
    job = Training("p", "p.ipynb", _module(f=lambda: (1, 2, 3)), steps=[Step("f", [], ["a", "b"])])
    with pytest.raises(ValueError):
        job.run_steps({})


def test_main_writes_failure_file_and_exit_code(layout, capsys):
    def boom():
        raise RuntimeError("the data is wrong")

    job = Training("p", "p.ipynb", _module(boom=boom), steps=[Step("boom")])
    assert job.main(["train"]) == training.EXIT_FAILED
    text = (layout.output / "failure").read_text()
    assert text.startswith("RuntimeError: the data is wrong\n") and "Traceback" in text
    assert "training failed: RuntimeError" in capsys.readouterr().err


def test_sigterm_stops_the_steps_with_143(layout):
    def stop_me():
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("not reached: the handler raises first")

    before = signal.getsignal(signal.SIGTERM)
    try:
        job = Training("p", "p.ipynb", _module(stop_me=stop_me), steps=[Step("stop_me")])
        assert job.main([]) == training.EXIT_TERMINATED
    finally:
        signal.signal(signal.SIGTERM, before)
    assert "Terminated: training stopped by SIGTERM" in (layout.output / "failure").read_text()


def test_model_saved_with_raw_features_threshold_and_metrics(layout):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("skops")
    from nb2svc_runtime import model_io
    from sklearn.linear_model import LogisticRegression

    def features(frame):
        return frame.drop(columns=["label"]).assign(ab=frame["a"] * frame["b"])

    def fit(frame):
        X = mod.features(frame)  # a step calls the module's global, as a pipeline does
        model = LogisticRegression().fit(X, frame["label"])
        return model, X, model.score(X, frame["label"])

    rng = np.random.default_rng(0)
    data = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    data["label"] = np.where(data["a"] > 0, "yes", "no")
    mod = _module(features=features, fit=fit, data=data)
    job = Training(
        "p", "p.ipynb", mod, steps=[Step("fit", ["data"], ["model", "X", "accuracy"])],
        model="model", fit_x="X", feature_function="features", target="label", threshold=0.3,
    )
    assert job.main([]) == 0, (layout.output / "failure").read_text()
    sig = model_io.read_signature(layout.base / "model")
    assert sig["format"] == "skops" and sig["features"] == ["a", "b", "ab"]
    assert sig["raw_features"] == ["a", "b"] and sig["raw_dtypes"] == ["float64", "float64"]
    assert sig["feature_function"] == "features" and sig["threshold"] == 0.3
    assert mod.features is features  # the recording wrapper is gone after training
    metrics = json.loads((layout.output / "data" / "metrics.json").read_text())
    assert set(metrics) == {"accuracy"} and 0.5 < metrics["accuracy"] <= 1.0
    model, _ = model_io.load_model(layout.base / "model")
    assert list(model.classes_) == ["no", "yes"]


def test_sm_model_dir_is_honoured(layout, monkeypatch, tmp_path):
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "elsewhere"))
    assert layout.model_dir == Path(tmp_path / "elsewhere")
