"""nb2svc_runtime imported as code: handlers' decisions (threshold, probabilities, bad rows),
model file policy, and convert's static threshold detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from notebook2service.sagemaker.threshold import decision_threshold

pytest.importorskip("skops")
import nb2svc_runtime  # noqa: E402
from nb2svc_runtime import handlers, model_io  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


@pytest.fixture()
def served(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = np.where(X[:, 0] > 0.8, "yes", "no")
    clf = LogisticRegression().fit(X, y)
    sig = model_io.save_model(clf, tmp_path, feature_names=["a", "b"], X_sample=X)
    return tmp_path, clf, sig, X


def test_threshold_detected_statically():
    assert decision_threshold("p = model.predict_proba(X_test)[:, 1] > 0.3\n") == 0.3
    assert decision_threshold("d = (clf.predict_proba(X)[:, 1] > 1)") == 1.0
    assert decision_threshold("d = clf.predict_proba(X)[:, 0] > 0.3") is None
    assert decision_threshold("d = clf.predict_proba(X)[:, 1] > t") is None
    assert decision_threshold("d = clf.predict(X) > 0.3") is None
    assert decision_threshold("def (:") is None


def test_threshold_in_signature_is_applied(served):
    model_dir, clf, sig, X = served
    handlers.configure(None)
    plain = handlers.predict_fn(X, handlers.model_fn(model_dir))
    assert list(plain) == list(clf.predict(X))
    sig["threshold"] = 0.1
    model_io.write_signature(model_dir, sig)
    decided = handlers.predict_fn(X, handlers.model_fn(model_dir))
    want = np.where(clf.predict_proba(X)[:, 1] > 0.1, "yes", "no")
    assert list(decided) == list(want) and list(decided) != list(plain)


def test_probabilities_on_request_with_class_order(served):
    model_dir, clf, _, X = served
    model = handlers.model_fn(model_dir)
    body = json.dumps({"instances": X[:3].tolist(), "probabilities": True})
    data = handlers.input_fn(body, "application/json")
    out, ctype = handlers.output_fn(handlers.predict_fn(data, model), "application/json")
    got = json.loads(out)
    assert ctype == "application/json" and got["classes"] == ["no", "yes"]
    assert np.allclose(got["probabilities"], clf.predict_proba(X[:3]))


@pytest.mark.parametrize(
    ("body", "ctype", "needle"),
    [
        ("1.0,\n", "text/csv", "field 'b' is missing"),
        ('[[1.0, NaN]]', "application/json", "NaN"),
        ('[[1.0, Infinity]]', "application/json", "Infinity"),
        ("[" * 100_000 + "]" * 100_000, "application/json", "nested too deeply"),
        ("1.0,2.0,3.0\n", "text/csv", "expected 2 features"),
    ],
)
def test_bad_rows_are_400_naming_the_field(served, body, ctype, needle):
    model = handlers.model_fn(served[0])
    with pytest.raises(handlers.BadRequest, match=needle):
        handlers.predict_fn(handlers.input_fn(body, ctype), model)


def test_format_comes_from_the_file_not_the_signature(served, tmp_path):
    model_dir, clf, sig, _ = served
    import joblib

    joblib.dump(clf, model_dir / "model.skops")  # a pickle under the skops name
    sig["format"] = "skops"
    model_io.write_signature(model_dir, sig)
    with pytest.raises(model_io.ModelLoadError, match="pickle"):
        model_io.load_model(model_dir)
    sig["format"] = "joblib"  # editing the JSON field does not unlock pickles
    model_io.write_signature(model_dir, sig)
    with pytest.raises(model_io.ModelLoadError, match="pickle"):
        model_io.load_model(model_dir)


def test_check_converted_reports_an_older_runtime(tmp_path, monkeypatch):
    from notebook2service import staleness
    from notebook2service.convert import convert
    from notebook2service.manifest import Manifest

    nb = Path(__file__).resolve().parent.parent / "sample_notebooks" / "churn_classification.ipynb"
    monkeypatch.chdir(tmp_path)
    result = convert(str(nb), str(tmp_path / "pkg"))
    manifest = json.loads((tmp_path / "pkg" / "nb2svc.json").read_text())
    assert manifest["runtime"]["version"] == nb2svc_runtime.__version__
    req = (tmp_path / "pkg" / "requirements.txt").read_text()
    assert f"nb2svc-runtime=={nb2svc_runtime.__version__}" in req
    status = staleness.Status("pkg/nb2svc.json", "fresh", command="nb2svc convert ...")
    assert staleness._check_runtime(status, Manifest.from_dict(manifest), "pkg").state == "fresh"
    manifest["runtime"]["version"] = "0.0.1"
    status = staleness._check_runtime(status, Manifest.from_dict(manifest), "pkg")
    assert status.state == "stale" and "nb2svc-runtime 0.0.1" in status.message
    assert "nb2svc convert ..." in status.message and result.package


def test_a_request_answered_504_while_queued_is_never_run():
    """Two slow requests on one worker: both are answered 504 at the timeout, the one that
    was still queued is skipped (not run after its client left), and the next request is
    answered by the model thread instead of waiting behind it."""
    import asyncio
    import threading
    import time
    import types

    from nb2svc_runtime.app import ModelRunner, ServingApp

    class Failed(Exception):
        status = 500

    calls = []

    def input_fn(body, ctype):
        calls.append(body)
        if body == b"slow":
            time.sleep(30)  # SIGALRM (the runner's timeout) interrupts this
        return body

    fake = types.SimpleNamespace(
        input_fn=input_fn, predict_fn=lambda data, model: data, InferenceError=Failed,
        output_fn=lambda pred, accept: (pred, "text/plain"), Probabilities=type("P", (), {}),
    )
    runner = ModelRunner(timeout=1.0)
    app = ServingApp(fake, "unused", runner, max_body=1024)
    app.model = object()
    loop = asyncio.new_event_loop()
    statuses = {}

    async def post(name, body):
        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        scope = {"type": "http", "path": "/invocations", "method": "POST", "headers": [],
                 "query_string": b""}
        statuses[name] = (await app._route(scope, receive))[0]

    async def scenario():
        try:
            await asyncio.gather(post("first", b"slow"), post("queued", b"slow"))
            await post("after", b"fast")
        finally:
            runner.stop()

    thread = threading.Thread(target=lambda: loop.run_until_complete(scenario()), daemon=True)
    thread.start()
    runner.run()  # the model thread is the main thread (SIGALRM), as in a worker
    thread.join(10)
    assert statuses == {"first": 504, "queued": 504, "after": 200}
    assert calls == [b"slow", b"fast"]  # the queued slow request never ran


class _Echo:
    """A 'model' whose predictions are the frame it was given, to see the casts."""

    def predict(self, X):
        self.seen = X
        return np.zeros(len(X))


def test_columns_are_cast_to_their_training_dtypes_for_small_and_large_csv():
    pytest.importorskip("pandas")
    signature = {"features": ["n", "k", "c", "s"],
                 "dtypes": ["int64", "float64", "category", "object"]}
    model = handlers.ServingModel(_Echo(), signature)
    for lines in (3, 1500):  # rows of strings, and the CSV text read by pandas (> 1000 lines)
        body = "".join(f"{i},{i}.5,red,x{i}\n" for i in range(lines - 1)) + ",2.5,blue,y\n"
        data = handlers.input_fn(body, "text/csv")
        handlers.predict_fn(data, model)
        seen = model.model.seen
        assert [str(t) for t in seen.dtypes[:3]] == ["float64", "float64", "category"]
        assert seen["s"].iloc[0] == "x0"  # an object column stays as sent
        assert np.isnan(seen["n"].iloc[-1]) and seen["k"].iloc[0] == 0.5
    with pytest.raises(handlers.BadRequest, match="expected 4 features"):
        handlers.predict_fn(handlers.input_fn("1,red\n" * 1500, "text/csv"), model)
    with pytest.raises(handlers.BadRequest, match="'n' must be numeric"):
        handlers.predict_fn(handlers.input_fn("a,1,red,x\n", "text/csv"), model)
