"""The image for real: built with podman (chroot isolation) on a base made from Debian packages,
`train` run in it as the non-root user SageMaker uses with /opt/ml mounted, then `serve`,
answering boto3's sagemaker-runtime from the host.

Skipped when podman/buildah/debootstrap are absent; `NB2SVC_IMAGE_TESTS=1` (set by .ci/run)
makes that a failure instead.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from notebook2service.convert import convert
from notebook2service.image.base_image import ensure_base_image
from notebook2service.image.build import build_image

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(1800)]

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"
REQUIRED = os.environ.get("NB2SVC_IMAGE_TESTS") == "1"
USER = "10001"


def _need(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        message = f"not installed: {', '.join(missing)}"
        if REQUIRED:
            pytest.fail(message + " (NB2SVC_IMAGE_TESTS=1)")
        pytest.skip(message)


@pytest.fixture(scope="module")
def base():
    _need("podman", "buildah", "debootstrap")
    return ensure_base_image("3.11")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _container(tag: str) -> str:
    proc = subprocess.run(["buildah", "from", tag], capture_output=True, text=True, check=True)
    return proc.stdout.strip().splitlines()[-1]


def _run_args(c: str, ml: Path, *env: str) -> list[str]:
    envs = [a for e in env for a in ("--env", e)]
    return ["buildah", "run", "--isolation", "chroot", "--user", USER, *envs,
            "-v", f"{ml}:/opt/ml", c, "--"]


def _opt_ml(tmp: Path, channels: dict[str, list[Path]]) -> Path:
    ml = tmp / "ml"
    for name, files in channels.items():
        d = ml / "input" / "data" / name
        d.mkdir(parents=True)
        for f in files:
            shutil.copy(f, d / f.name)
    (ml / "input" / "config").mkdir(parents=True)
    (ml / "input" / "config" / "hyperparameters.json").write_text("{}")
    for sub in ("model", "output"):
        (ml / sub).mkdir()
    subprocess.run(["chown", "-R", USER, str(ml)], check=True)
    return ml


def _wait_ping(port: int, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError("serve did not answer /ping")


def _invoke(port: int, body: str) -> str:
    import boto3
    import botocore
    from botocore.config import Config

    url = f"http://127.0.0.1:{port}"
    client = boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=url,
                          config=Config(signature_version=botocore.UNSIGNED,
                                        retries={"max_attempts": 1}))
    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint",
                                lambda request, **kw: setattr(request, "url", url + "/invocations"))
    r = client.invoke_endpoint(EndpointName="local", Body=body.encode(), ContentType="text/csv",
                               Accept="text/csv")
    return r["Body"].read().decode()


def _expected(model_dir: Path, rows: list[list[float]]) -> list[float]:
    import numpy as np
    import skops.io

    path = model_dir / "model.skops"
    sys.path.insert(0, str(model_dir.parents[1] / "pkg"))
    try:
        model = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    finally:
        sys.path.pop(0)
    return [float(v) for v in model.predict(np.asarray(rows, dtype=float))]


def build_train_serve(out: Path, base: str, tmp: Path, channels: dict[str, list[Path]]) -> dict:
    built = build_image(out, base=base, host_pip=True, timeout=1800)
    ml = _opt_ml(tmp, channels)
    c = _container(built.tag)
    server = None
    try:
        train = subprocess.run([*_run_args(c, ml), "python", "/srv/app/bin/entrypoint", "train"],
                               capture_output=True, text=True, timeout=900)
        assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-2000:]
        signature = json.loads((ml / "model" / "signature.json").read_text())
        port = _free_port()
        server = subprocess.Popen(
            [*_run_args(c, ml, f"SAGEMAKER_BIND_TO_PORT={port}"),
             "python", "/srv/app/bin/entrypoint", "serve"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        _wait_ping(port, server)
        n = signature["n_features"]
        rows = [[float(i + j) for j in range(n)] for i in range(3)]
        got = [float(v) for v in _invoke(port, "\n".join(",".join(map(str, r)) for r in rows))
               .splitlines()]
        shutil.copytree(out, tmp / "pkg", dirs_exist_ok=True)  # model_code for the host's load
        assert got == pytest.approx(_expected(ml / "model", rows))
    finally:
        if server is not None:
            os.killpg(server.pid, 15)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)
        subprocess.run(["buildah", "rm", c], capture_output=True)
    report = {"tag": built.tag, "build_seconds": round(built.seconds, 1),
              "image_bytes": built.size_bytes}
    print(json.dumps(report), file=sys.stderr)
    return report


def test_sample_image_builds_trains_and_serves(base, tmp_path):
    out = tmp_path / "house"
    convert(SAMPLES / "house_prices_regression.ipynb", out)
    report = build_train_serve(out, base, tmp_path,
                               {"train": [SAMPLES / "data" / "house_prices.csv"]})
    assert report["image_bytes"]


def test_notebook_transformer_pipeline_image_trains_and_serves(base, tmp_path):
    # the model references a class the notebook defines: it loads from model_code.py
    out = tmp_path / "ct"
    convert(SAMPLES / "custom_transformer.ipynb", out)
    build_train_serve(out, base, tmp_path, {"train": [SAMPLES / "data" / "house_prices.csv"]})


LOCAL_NOTEBOOK = [
    "import pandas as pd\nfrom sklearn.linear_model import LinearRegression\nimport helpers_05_08",
    "df = pd.read_csv('data/points.csv')\nX = helpers_05_08.features(df)\ny = df['y']",
    "model = LinearRegression().fit(X, y)\nprint(round(model.score(X, y), 3))",
]


def test_local_module_notebook_image_builds_trains_and_serves(base, tmp_path):
    from nbmake import notebook, write

    nb_dir = tmp_path / "nb"
    (nb_dir / "data").mkdir(parents=True)
    (nb_dir / "helpers_05_08.py").write_text(
        "def features(df):\n    out = df[['a', 'b']].copy()\n    out['ab'] = out.a * out.b\n"
        "    return out\n"
    )
    rows = "\n".join(f"{i},{i % 7},{2 * i + (i % 7) * 3 + 1}" for i in range(60))
    (nb_dir / "data" / "points.csv").write_text("a,b,y\n" + rows + "\n")
    nb = notebook(*LOCAL_NOTEBOOK)
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.2"}
    src = write(nb_dir / "local.ipynb", nb)
    out = tmp_path / "out"
    result = convert(src, out)
    assert result.manifest.sagemaker["model"] == "model"
    assert "helpers" not in (out / "requirements.txt").read_text()
    build_train_serve(out, base, tmp_path, {"train": [nb_dir / "data" / "points.csv"]})
