"""Serving imports only what serving needs: a Pipeline holding a notebook-defined transformer is
trained, saved, loaded and served with pipeline.py made unimportable."""

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import libcst as cst
import pytest

from notebook2service.convert import convert
from notebook2service.model_code import model_code_import, split_definitions

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"


def test_split_moves_what_needs_only_imports_and_moved_names():
    imports = ["import numpy as np", "import matplotlib.pyplot as plt", "import pandas as pd"]
    blocks = [
        "def helper(x):\n    return np.log1p(x)",
        "class T:\n    def transform(self, X):\n        return helper(X)",
        "def plot():\n    plt.plot(df)",  # reads the notebook global `df`: stays
        "def uses_global():\n    global counter\n    counter += 1",
    ]
    split = split_definitions(imports, blocks)
    assert split.moved == ["helper", "T"]
    assert "import numpy as np" in split.module and "matplotlib" not in split.module
    assert split.kept == blocks[2:]
    line = cst.Module([]).code_for_node(model_code_import(split.moved)).strip()
    assert line.startswith("from .model_code import helper, T")
    assert split_definitions(imports, ["x = df.y"]).module == ""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_notebook_transformer_served_without_pipeline_py(tmp_path):
    out = tmp_path / "out"
    result = convert(SAMPLES / "custom_transformer.ipynb", out)
    pkg = out / result.package
    assert "class AreaRatios" in (pkg / "model_code.py").read_text()
    assert "class AreaRatios" not in (pkg / "pipeline.py").read_text()
    base = tmp_path / "ml"
    (base / "input" / "data" / "train").mkdir(parents=True)
    shutil.copy(SAMPLES / "data" / "house_prices.csv", base / "input" / "data" / "train")
    env = dict(os.environ, SAGEMAKER_BASE_DIR=str(base), PYTHONPATH=str(out), MPLBACKEND="Agg")
    train = subprocess.run(
        [sys.executable, str(out / "bin" / "train"), "train"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert train.returncode == 0, train.stderr[-2000:]
    # serving must not need the notebook: make pipeline.py (and its plotting imports) fail
    (pkg / "pipeline.py").write_text("raise ImportError('serving imported pipeline.py')\n")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(out / "bin" / "serve"), "serve"],
        env=dict(
            env,
            SAGEMAKER_BIND_TO_PORT=str(port),
            NB2SVC_HOST="127.0.0.1",
            SAGEMAKER_MODEL_SERVER_WORKERS="1",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read()[-2000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "no /ping"
                time.sleep(0.5)
        rows = [[2290, 5, 3.5, 12980], [1500, 2, 1.0, 4000]]
        body = "\n".join(",".join(map(str, r)) for r in rows).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            got = [float(v) for v in r.read().decode().split()]
    finally:
        server.terminate()
        server.wait(timeout=30)
    import numpy as np
    import skops.io

    sys.path.insert(0, str(out))
    try:
        path = base / "model" / "model.skops"
        model = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
        want = [float(v) for v in model.predict(np.asarray(rows, dtype=float))]
    finally:
        sys.path.remove(str(out))
    assert got == pytest.approx(want)
