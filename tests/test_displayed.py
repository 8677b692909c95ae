"""Displayed values (a cell's last expression, Jupyter's Out[n]) stay observable in the package:
convert passes them to `show_result(value, cell=N)`, built as libcst nodes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nbmake import md, notebook

from notebook2service.convert import convert


def _pipeline(*cells: str) -> str:
    result = convert(notebook(md("# Steps"), *cells), write=False)
    return result.files[f"{result.package}/pipeline.py"]


def test_last_expression_is_shown_with_its_cell() -> None:
    code = _pipeline("x = [3, 1, 2]\nsorted(x)", "len(x)  # how many")
    assert "show_result(sorted(x), cell=2)" in code
    assert "show_result(len(x), cell=3)  # how many" in code
    assert "from nb2svc_runtime.notebook import show_result" in code


def test_what_jupyter_does_not_display_stays_a_plain_statement() -> None:
    code = _pipeline(
        "x = [1]",
        "len(x);",  # `;` suppresses the display
        "y = len(x)",  # an assignment
        "print(x)",  # returns None
        "None",
        "len(x)\nprint(x)",  # the expression is not the last statement
        "%timeit len(x)",  # %timeit returns None
        "for i in x:\n    i",
    )
    assert "show_result" not in code


def test_time_magic_and_tuples_still_display() -> None:
    code = _pipeline("x = [1]", "%time len(x)", "x[0], len(x)")
    assert "show_result(len(x), cell=3)" in code
    assert "show_result((x[0], len(x)), cell=4)" in code
    compile(code, "pipeline.py", "exec")


def test_a_notebook_that_defines_the_hook_keeps_its_own(tmp_path: Path) -> None:
    result = convert(
        notebook("def show_result(v, cell):\n    return v", "show_result(1, 2)\n3"), write=False
    )
    code = result.files[f"{result.package}/pipeline.py"]
    assert "show_result(3" not in code
    assert any(f.name == "display-hook-taken" for f in result.findings)


def test_show_prints_displayed_values(tmp_path: Path) -> None:
    nb = notebook(md("# Steps"), "x = [3, 1, 2]\nsorted(x)", "print('done')\nlen(x)")
    result = convert(nb, tmp_path / "out", name="shown")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "out"))
    env.pop("NB2SVC_SHOW", None)
    run = [sys.executable, "-m", "shown"]
    quiet = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "done\n"
    shown = subprocess.run([*run, "--show"], env=env, capture_output=True, text=True, timeout=120)
    assert shown.stdout == "Out[cell 2]: [1, 2, 3]\ndone\nOut[cell 3]: 3\n"
    assert result.package == "shown"


def test_a_display_the_notebook_defines_is_shown() -> None:
    code = _pipeline(
        "class display:\n    def __init__(self, *a):\n        self.a = a", "display('x')"
    )
    assert "show_result(display('x'), cell=3)" in code  # the author's quotes (not reformatted)
