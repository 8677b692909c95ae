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
