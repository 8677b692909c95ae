"""SageMaker outputs: decisions, the training contract (T1–T10) as processes, the Dockerfile
statically, deploy.py up to the API call. Serving (S1–S17) is in test_serving.py."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from nbmake import code, md, notebook, write

from notebook2service.cli import main
from notebook2service.convert import convert

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"


def env_for(out: Path, base: Path, **extra) -> dict:
    env = dict(os.environ, SAGEMAKER_BASE_DIR=str(base), MPLBACKEND="Agg", PYTHONPATH=str(out))
    env.pop("SM_HPS", None)
    env.update(extra)
    return env


def lay_out(
    base: Path, channels: dict, hps: dict | None = None, extra_config: bool = False
) -> None:
    for name, files in channels.items():
        d = base / "input" / "data" / name
        d.mkdir(parents=True)
        for f in files:
            shutil.copy(f, d / Path(f).name)
    cfg = base / "input" / "config"
    cfg.mkdir(parents=True)
    (cfg / "hyperparameters.json").write_text(json.dumps(hps or {}))
    if extra_config:  # T3: the real files carry keys we do not use
        (cfg / "resourceconfig.json").write_text(
            json.dumps(
                {
                    "current_host": "algo-1",
                    "hosts": ["algo-1"],
                    "current_instance_type": "ml.m5.large",
                    "instance_groups": [],
                    "network_interface_name": "eth0",
                    "topology": None,
                }
            )
        )
        (cfg / "inputdataconfig.json").write_text(
            json.dumps(
                {n: {"TrainingInputMode": "File", "ContentType": "text/csv"} for n in channels}
            )
        )


def train(
    out: Path, base: Path, *args: str, timeout: float = 300, **extra
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(out / "bin" / "train"), "train", *args],
        env=env_for(out, base, **extra),
        cwd=base.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def house(tmp_path_factory):
    out = tmp_path_factory.mktemp("house") / "out"
    result = convert(SAMPLES / "house_prices_regression.ipynb", out)
    return out, result


def test_decisions_model_channels_slice(house):
    out, result = house
    sm = result.manifest.sagemaker
    assert sm["model"] == "ridge"  # the last one fitted (and used to predict)
    assert sm["fit"] == {"X": "X_train", "y": "y_train"}
    assert sm["channels"] == [
        {
            "name": "train",
            "default": "data/house_prices.csv",
            "reader": "pd.read_csv",
            "cell": 4,
            "line": 2,
        }
    ]
    assert "explore" not in sm["training_steps"]  # the plot is not part of training
    # ridge is the model: the cell's other model (gbr) and its report are not training's
    assert sm["training_steps"][-1] == "train_model"
    part = (out / "house_prices_regression" / "training_steps.py").read_text()
    assert "def train_model(df, feature_cols):" in part and "ridge.fit(X_train, y_train)" in part
    assert "gbr" not in part and "print(" not in part
    assert "the statements of cell 8 the model needs" in part  # one cell: "cell", not "cells"
    assert any(
        "not a Pipeline" in f.message for f in result.findings if f.code == "sagemaker"
    )
    pipeline = (out / "house_prices_regression" / "pipeline.py").read_text()
    assert 'read_channel(pd.read_csv, "train", DATA_PATH)' in pipeline


def test_model_override_and_pipeline_detection(tmp_path):
    r = convert(SAMPLES / "house_prices_regression.ipynb", tmp_path / "o", model="gbr")
    assert r.manifest.sagemaker["model"] == "gbr"
    churn = convert(SAMPLES / "churn_classification.ipynb", tmp_path / "c")
    sm = churn.manifest.sagemaker
    assert sm["model_is_pipeline"] and sm["channels"] == []


def test_notebook_without_model_gets_training_only(tmp_path):
    r = convert(
        write(tmp_path / "n.ipynb", notebook("x = [1, 2]", "print(sum(x))")), tmp_path / "o"
    )
    assert r.manifest.sagemaker["model"] is None
    assert (tmp_path / "o" / "bin" / "train").is_file() and not (
        tmp_path / "o" / "bin" / "serve"
    ).exists()
    assert any("no fitted estimator" in f.message for f in r.findings)


def test_t1_t4_t6_train_reads_every_file_of_the_channel(house, tmp_path):
    out, _ = house
    rows = (SAMPLES / "data" / "house_prices.csv").read_text().splitlines()
    (tmp_path / "a.csv").write_text("\n".join(rows[:151]) + "\n")
    (tmp_path / "b.csv").write_text("\n".join([rows[0], *rows[151:]]) + "\n")
    base = tmp_path / "ml"
    lay_out(base, {"train": [tmp_path / "a.csv", tmp_path / "b.csv"]}, extra_config=True)
    proc = train(out, base)
    assert proc.returncode == 0, proc.stderr
    assert not (base / "output" / "failure").exists()
    # both files, concatenated: the same model as from the one file (train prints nothing
    # of the notebook's: its `print(df.shape)` is not the model's)
    whole = tmp_path / "whole"
    lay_out(whole, {"train": [SAMPLES / "data" / "house_prices.csv"]})
    assert train(out, whole).returncode == 0
    probe = (
        "import sys; from nb2svc_runtime.model_io import load_model; "
        "print([round(float(c), 6) for c in load_model(sys.argv[1])[0].coef_])"
    )
    coefs = [
        subprocess.run(
            [sys.executable, "-c", probe, str(b / "model")], capture_output=True, text=True
        ).stdout
        for b in (base, whole)
    ]
    assert coefs[0] == coefs[1] and coefs[0].startswith("[")
    metrics = json.loads((base / "output" / "data" / "metrics.json").read_text())
    assert isinstance(metrics, dict)
    files = [p for p in (base / "model").rglob("*") if p.is_file()]
    assert files and all(not p.is_symlink() for p in files)
    assert (base / "model" / "signature.json").is_file()


def test_t5_model_survives_tar_round_trip(house, tmp_path):
    out, _ = house
    base = tmp_path / "ml"
    lay_out(base, {"train": [SAMPLES / "data" / "house_prices.csv"]})
    assert train(out, base).returncode == 0
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(base / "model", arcname=".")
    restored = tmp_path / "restored"
    with tarfile.open(tmp_path / "model.tar.gz") as tar:
        tar.extractall(restored, filter="data")
    probe = (
        "import sys; from nb2svc_runtime.model_io import load_model; "
        "m, s = load_model(sys.argv[1]); print(type(m).__name__, s['n_features'])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(restored)],
        env=env_for(out, base),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "Ridge"


def test_t2_t8_hyperparameters_strings_script_mode_and_sm_env(tmp_path):
    params = code(
        "alpha = 1.0\nlabel = 'base'\nsizes = [1]\nflag = False", metadata={"tags": ["parameters"]}
    )
    nb = notebook(
        params,
        "import os, json\nimport numpy as np\nfrom sklearn.linear_model import Ridge",
        "rng = np.random.default_rng(0)\nX = rng.normal(size=(20, 3))\ny = X @ [1.0, 2.0, 3.0]",
        # a file written is kept in train's slice (a print would not be: it is not the model's)
        "model = Ridge(alpha=alpha).fit(X, y)\nwith open('seen.json', 'w') as f:\n"
        "    json.dump([[alpha, label, sizes, flag], "
        "sorted(k for k in os.environ if k.startswith('SM_'))], f)",
        "score = model.score(X, y)",
    )
    out = tmp_path / "o"
    convert(write(tmp_path / "p.ipynb", nb), out)
    base = tmp_path / "ml"
    lay_out(base, {}, hps={"alpha": "0.5", "label": '"x"', "sizes": "[1,2]", "flag": "true"})
    proc = train(out, base)
    assert proc.returncode == 0, proc.stderr
    first, second = json.loads((tmp_path / "seen.json").read_text())
    assert first == [0.5, "x", [1, 2], True]
    seen = set(second)
    assert {
        "SM_MODEL_DIR",
        "SM_CHANNELS",
        "SM_HPS",
        "SM_HP_ALPHA",
        "SM_OUTPUT_DATA_DIR",
        "SM_NUM_CPUS",
        "SM_NUM_GPUS",
        "SM_CURRENT_HOST",
        "SM_HOSTS",
        "SM_INPUT_DATA_CONFIG",
        "SM_RESOURCE_CONFIG",
        "SM_TRAINING_ENV",
    } <= seen
    # script mode: --name value and one-letter names
    base2 = tmp_path / "ml2"
    lay_out(base2, {})
    proc = train(out, base2, "--alpha", "2", "--label", "y", "-Z", "1")
    assert proc.returncode == 0
    assert json.loads((tmp_path / "seen.json").read_text())[0][:2] == [2, "y"]
    assert "score" in json.loads((base2 / "output" / "data" / "metrics.json").read_text())


def test_t7_failure_file_and_exit_code(house, tmp_path):
    out, _ = house
    base = tmp_path / "ml"
    lay_out(base, {"train": []})  # an empty channel
    proc = train(out, base)
    assert proc.returncode != 0
    reason = (base / "output" / "failure").read_text()
    assert "channel 'train'" in reason[:1024] and "no files" in reason[:1024]
    base2 = tmp_path / "ml2"
    (tmp_path / "bad.csv").write_text("price\nnot-a-number\n")
    lay_out(base2, {"train": [tmp_path / "bad.csv"]})
    proc = train(out, base2)
    assert proc.returncode != 0 and (base2 / "output" / "failure").read_text().strip()


def test_t9_sigterm_stops_training_cleanly(tmp_path):
    nb = notebook("import time", "for _ in range(600):\n    time.sleep(0.1)", "print('never')")
    out = tmp_path / "o"
    convert(write(tmp_path / "slow.ipynb", nb), out)
    base = tmp_path / "ml"
    lay_out(base, {})
    proc = subprocess.Popen(
        [sys.executable, str(out / "bin" / "train"), "train"],
        env=env_for(out, base),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().startswith("train: ")  # the handler is in place from here on
    time.sleep(0.5)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=120)
    assert time.monotonic() - start < 120 and rc != 0
    assert "SIGTERM" in (base / "output" / "failure").read_text()


def test_t1_t10_dockerfile_static(house):
    out, _ = house
    text = (out / "Dockerfile").read_text()
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")
    ]
    assert re.match(r"ARG BASE=python:\d+\.\d+-slim$", lines[0]) and lines[1] == "FROM ${BASE}"
    entry = [ln for ln in lines if ln.startswith("ENTRYPOINT")]
    assert len(entry) == 1 and json.loads(entry[0][len("ENTRYPOINT") :].strip())  # exec form
    assert "tini" not in text
    user = [ln for ln in lines if ln.startswith("USER ")]
    assert user and user[-1].split()[1] not in ("root", "0")
    assert "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true" in text
    assert "/opt/ml" not in text  # T10: nothing the program needs lives under /opt/ml
    assert (out / ".dockerignore").is_file()
    reqs = [
        ln
        for ln in (out / "requirements.txt").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert reqs and all("==" in r for r in reqs)
    assert any(r.startswith("skops==") for r in reqs)
    for prog in ("train", "entrypoint"):
        assert os.access(out / "bin" / prog, os.X_OK)


def test_cli_train_lays_out_opt_ml_and_reports_missing_channels(house, tmp_path, capsys):
    out, _ = house
    assert main(["train", str(out)]) == 2
    assert "--data train=" in capsys.readouterr().err
    base = tmp_path / "ml"
    rc = main(["train", str(out), "--data", f"train={SAMPLES / 'data'}", "--base", str(base)])
    assert rc == 0 and (base / "model" / "signature.json").is_file()
    hps = json.loads((base / "input" / "config" / "hyperparameters.json").read_text())
    assert hps == {}


def test_generated_tests_pass(house):
    out, _ = house
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(out / "tests")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=out,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_md_helper_imported():
    assert md("x")["cell_type"] == "markdown"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_feature_path_for_training_and_serving(tmp_path):
    """Row-wise preparation outside a Pipeline becomes prepare_features(), used by both:
    raw rows sent to the server get the predictions the notebook's own model gives."""
    import urllib.request

    import numpy as np

    rng = np.random.default_rng(0)
    rows = ["id,a,b,c,label"]
    for i in range(200):
        a, b, c = rng.uniform(1, 10), rng.uniform(1, 10), rng.uniform(0, 100)
        rows.append(f"{i},{a:.3f},{b:.3f},{c:.3f},{int(a / b + np.log1p(c) / 5 > 1.5)}")
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    nb = notebook(
        "import numpy as np\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
        "from sklearn.model_selection import train_test_split",
        md("## Load"),
        'df = pd.read_csv("data.csv")',
        md("## Features"),
        'df["ratio"] = df["a"] / df["b"]\ndf["log_c"] = np.log1p(df["c"])\n'
        'df = df.drop(columns=["id"])',
        md("## Train"),
        'X = df[["a", "b", "ratio", "log_c"]]\ny = df["label"]\n'
        "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
        "model = LogisticRegression().fit(X_train, y_train)\nprint(round(model.score(X_test, y_test), 3))",
    )
    out = tmp_path / "out"
    result = convert(write(tmp_path / "rowwise.ipynb", nb), out)
    sm = result.manifest.sagemaker
    assert sm["feature_function"] == "prepare_features" and sm["target"] == "label"
    pipeline = (out / "rowwise" / "pipeline.py").read_text()
    # the feature function needs only imports: it lives in model_code.py, which serving imports
    model_code = (out / "rowwise" / "model_code.py").read_text()
    assert "def prepare_features(df):" in model_code and "df = prepare_features(df)" in pipeline
    assert "from .model_code import prepare_features" in pipeline
    base = tmp_path / "ml"
    lay_out(base, {"train": [tmp_path / "data.csv"]})
    assert train(out, base).returncode == 0
    signature = json.loads((base / "model" / "signature.json").read_text())
    assert signature["raw_features"] == ["id", "a", "b", "c"]
    # what the notebook's own code predicts for the first rows
    probe = (
        "import json, os; os.chdir(os.environ['NB_DIR']); from rowwise.pipeline import run; "
        "ns = run(); print(json.dumps(ns['model'].predict(ns['X'].iloc[:5]).tolist()))"
    )
    local = subprocess.run(
        [sys.executable, "-c", probe],
        env=env_for(out, base, NB_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    expected = json.loads(local.stdout.splitlines()[-1])
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(out / "bin" / "serve"), "serve"],
        env=env_for(
            out,
            base,
            SAGEMAKER_BIND_TO_PORT=str(port),
            NB2SVC_HOST="127.0.0.1",
            SAGEMAKER_MODEL_SERVER_WORKERS="1",
        ),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        raw = "\n".join(",".join(r.split(",")[:4]) for r in rows[1:6])
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=raw.encode(),
            headers={"Content-Type": "text/csv", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            served = json.loads(r.read())
        assert served == expected
    finally:
        server.terminate()
        server.wait(timeout=30)
