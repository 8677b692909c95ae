"""bench/fidelity.py's bookkeeping: each mode's rate, causes, and why notebooks cannot run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "fidelity.py"


def _fidelity():
    spec = importlib.util.spec_from_file_location("fidelity_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fidelity_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_rates_and_causes_per_mode() -> None:
    f = _fidelity()
    equal = {"equal": True, "stdout_equal": True, "displays_equal": True, "lines": 2, "displays": 1}
    shown = {
        "equal": False,
        "stdout_equal": True,
        "displays_equal": False,
        "lines": 0,
        "displays": 3,
        "differences": [
            {"mode": "display", "cell": 4, "cause": "randomness without a seed", "explanation": "x"}
        ],
    }
    crashed = {"equal": False, "cause": "package error", "first_cell": 2, "explanation": "boom"}
    rows = [f.summarize("a", equal), f.summarize("b", shown), f.summarize("c", crashed)]
    assert f.rate(rows).startswith("stdout equal: 2 / 3 (67%)")
    assert "displayed values equal: 1 / 3 (33%)" in f.rate(rows)
    found = f.causes(rows)
    assert found["display"] == {"randomness without a seed": 1, "package error": 1}
    assert found["stdout"] == {"package error": 1}
    assert "cell 4: randomness without a seed" in f.table(rows)


def test_reasons_a_notebook_cannot_run() -> None:
    f = _fidelity()
    entries = {
        "a": {"runnable": True},
        "b": {"runnable": False, "reason": "network (https://)"},
        "c": {"runnable": False, "reason": "FileNotFoundError: [Errno 2] No such file: 'd.csv'"},
        "d": {"runnable": False, "reason": "imports tensorflow"},
        "e": {
            "runnable": False,
            "reason": "AttributeError: 'DataFrame' object has no attribute 'ix'",
        },
    }
    reasons = f.skipped_reasons(entries)
    assert reasons["needs the network"] == 1 and reasons["missing data file"] == 1
    assert reasons["needs a GPU / deep-learning framework"] == 1
    assert reasons["fails on today's libraries or raises (AttributeError)"] == 1


def test_a_missing_corpus_has_no_candidates(tmp_path: Path) -> None:
    f = _fidelity()
    assert f.corpus_candidates(tmp_path) == []


def _nb(tmp_path: Path, name: str, *cells: str, outputs: list | None = None) -> Path:
    import json

    data = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
        "cells": [
            {"cell_type": "code", "source": c, "metadata": {}, "outputs": outputs or []}
            for c in cells
        ],
    }
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_cloud_notebook_is_counted_as_cloud_before_its_framework(tmp_path: Path) -> None:
    f = _fidelity()
    both = _nb(tmp_path, "a.ipynb", "import tensorflow as tf\nfrom google.cloud import storage")
    assert f.static_reason(both) == "needs a cloud account (google.cloud)"
    cli = _nb(tmp_path, "b.ipynb", "import numpy", "! gsutil cp gs://b/x .")
    assert f.static_reason(cli) == "needs a cloud account (gsutil)"
    project = _nb(tmp_path, "c.ipynb", 'PROJECT_ID = "my-project"')
    assert f.static_reason(project) == "needs a cloud account (PROJECT_ID)"
    pip = _nb(tmp_path, "d.ipynb", "%pip install seaborn")
    assert f.static_reason(pip) == "installs packages (pip install in the notebook)"
    # a URL alone does not skip a notebook: it runs, and its failure tells
    assert f.static_reason(_nb(tmp_path, "e.ipynb", "# see https://example.org\nx = 1")) is None


def test_a_failed_run_names_the_network_or_an_error_shown_on_purpose(tmp_path: Path) -> None:
    f = _fidelity()
    nb = _nb(tmp_path, "a.ipynb", "import pandas as pd\ndf = pd.read_csv('data/x.csv')")
    missing = "FileNotFoundError: [Errno 2] No such file or directory: 'data/x.csv'"
    assert f.run_reason(nb, missing, 0) == missing  # no URL: a data file the corpus lacks
    url = _nb(tmp_path, "b.ipynb", "!wget -q https://example.org/x.csv", "open('x.csv')")
    assert f.run_reason(url, missing, 1).startswith("network (downloads its data: wget)")
    assert f.run_reason(nb, "URLError: <urlopen error [Errno -2]>", 0).startswith("network: ")
    saved = [{"output_type": "error", "ename": "TypeError", "evalue": "x", "traceback": []}]
    shown = _nb(tmp_path, "c.ipynb", "1 + None", outputs=saved)
    error = "TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'"
    assert f.run_reason(shown, error, 0) == f"raises as saved: {error}"
    assert f.run_reason(shown, "ValueError: other", 0) == "ValueError: other"
    reasons = f.skipped_reasons(
        {
            "a": {"runnable": False, "reason": f"raises as saved: {error}"},
            "b": {"runnable": False, "reason": "ModuleNotFoundError: No module named 'seaborn'"},
            "c": {"runnable": False, "reason": "ModuleNotFoundError: No module named 'torch'"},
        }
    )
    assert reasons == {
        "raises an error its saved outputs show too": 1,
        "missing module (seaborn)": 1,
        "needs a GPU / deep-learning framework": 1,
    }
