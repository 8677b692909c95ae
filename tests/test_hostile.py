"""Hostile cells and files: a bound on size and depth before any recursive parser sees them.

Each case runs `nb2svc convert` in a subprocess with a timeout, so a segfault (libcst) or a
hang is detected as such instead of taking the test run down.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from nbmake import code, notebook, write

from notebook2service import lint
from notebook2service.ipython import complexity_error
from notebook2service.notebook import NotebookError, loads

HOSTILE = {
    "unary": "x = " + "-" * 100000 + "1",
    "parens": "x = " + "(" * 5000 + "1" + ")" * 5000,
    "sum": "x = " + "+".join(["1"] * 100000),
    "attributes": "x = a" + ".path" * 50000,
    "lists": "x = " + "[" * 3000 + "]" * 3000,
    "lambdas": "f = " + "lambda: " * 3000 + "1",
    "comprehensions": "x = " + "[ " * 1000 + "1" + " for _ in y]" * 1000,
    "million_lines": "\n".join(f"x{i} = {i}" for i in range(1_000_000)),
}


def _nb(src: str) -> dict:
    return notebook(code("y = [1]\na = 1"), code(src), code("print(y)"))


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_bound_catches_hostile_cell(case):
    assert complexity_error(HOSTILE[case]) is not None
    codes = [d.code for d in lint(_nb(HOSTILE[case]))]
    assert "NB001" in codes


@pytest.mark.parametrize(
    "src",
    [
        "# " + "-" * 200 + "\nx = 1",
        'print("-" * 80)\nprint("(((((" * 50)',
        "x = [[1, 2], [3, 4]]\n" * 1000,
        "s = '" + "+" * 5000 + "'",
    ],
)
def test_bound_keeps_ordinary_cells(src):
    assert complexity_error(src) is None


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_convert_turns_hostile_cell_into_a_diagnostic(tmp_path, case):
    src = write(tmp_path / "h.ipynb", _nb(HOSTILE[case]))
    proc = subprocess.run(
        [sys.executable, "-m", "notebook2service", "convert", str(src), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]  # findings, not a crash (-11) or error
    assert "Traceback" not in proc.stderr
    assert "kept as a comment" in proc.stdout
    pipeline = (tmp_path / "o" / "h" / "pipeline.py").read_text()
    assert "print(y)" in pipeline  # the rest of the notebook is converted


def test_deep_json_is_a_one_line_error():
    with pytest.raises(NotebookError, match="nested more than"):
        loads("[" * 100000 + "]" * 100000)
    with pytest.raises(NotebookError, match="nested more than"):
        loads('{"cells": ' + "[" * 300 + "]" * 300 + "}")


def test_check_converted_on_a_deep_manifest(tmp_path, capsys):
    from notebook2service.cli import main

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "nb2svc.json").write_text('{"package": ' + "[" * 100000 + "]" * 100000 + "}")
    rc = main(["check-converted", str(pkg / "nb2svc.json")])
    out, err = capsys.readouterr()
    assert rc == 1 or rc == 2
    assert "Traceback" not in err and "nested" in (out + err)


def test_huge_notebook_file_is_refused(tmp_path, monkeypatch):
    import notebook2service.notebook as nbmod

    monkeypatch.setattr(nbmod, "MAX_NOTEBOOK_BYTES", 1000)
    f = tmp_path / "big.ipynb"
    f.write_text(json.dumps(_nb("x = 1\n" * 1000)))
    with pytest.raises(NotebookError, match="too large"):
        nbmod.read(f)
    assert Path(f).exists()


# --- tracebacks that became one-line errors or findings -------------------------------------


def _convert(tmp_path, nb, *args):
    from notebook2service.cli import main

    src = write(tmp_path / nb[0], nb[1])
    return main(["convert", str(src), "-o", str(tmp_path / "out"), *args])


def test_writefile_append_adds_to_the_earlier_cell(tmp_path, capsys):
    nb = notebook(
        code("%%writefile helper.py\ndef a():\n    return 1\n"),
        code("%%writefile -a helper.py\ndef b():\n    return 2\n"),
        code("from helper import a, b\nprint(a() + b())"),
    )
    assert _convert(tmp_path, ("w.ipynb", nb)) == 0
    text = (tmp_path / "out" / "helper.py").read_text()
    assert "def a():" in text and "def b():" in text and text.index("a()") < text.index("b()")


@pytest.mark.parametrize("target", [".", "w", "w/__init__.py", "nb2svc.json"])
def test_writefile_onto_generated_names_is_a_warning(tmp_path, capsys, target):
    nb = notebook(code(f"%%writefile {target}\nx = 1\n"), code("print(1)"))
    rc = _convert(tmp_path, ("w.ipynb", nb))
    out, err = capsys.readouterr()
    assert rc == 0 and "Traceback" not in err
    assert f"%%writefile {target}: the name of a folder or file nb2svc writes" in out
    json.loads((tmp_path / "out" / "nb2svc.json").read_text())


@pytest.mark.parametrize(
    "fit", ["enc = LabelEncoder().fit(vals)", "m = LabelEncoder().fit(X=vals, y=vals)"]
)
def test_fit_keywords_do_not_crash(tmp_path, capsys, fit):
    nb = notebook(code(f"from sklearn.preprocessing import LabelEncoder\nvals = ['a', 'b']\n{fit}"))
    assert _convert(tmp_path, ("f.ipynb", nb)) in (0, 1)
    assert "Traceback" not in capsys.readouterr().err


def test_keyword_package_names(tmp_path, capsys):
    nb = notebook(code("x = 1\nprint(x)"))
    assert _convert(tmp_path, ("class.ipynb", nb)) == 0
    train = (tmp_path / "out" / "bin" / "train").read_text()
    compile(train, "train", "exec")  # `from class.train import main` would be a SyntaxError
    for name in ("class", "True"):
        assert _convert(tmp_path, ("n.ipynb", nb), "--name", name, "--force") == 2
        assert "not a usable Python package name" in capsys.readouterr().err


def test_lone_surrogate_converts(tmp_path, capsys):
    from notebook2service.cli import main

    nb = notebook(code("x = '\ud800'\nprint(len(x))"))
    (tmp_path / "s.ipynb").write_text(json.dumps(nb))  # ASCII JSON: "\ud800" escape
    assert main(["convert", str(tmp_path / "s.ipynb"), "-o", str(tmp_path / "out")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert "\\ud800" in (tmp_path / "out" / "s" / "pipeline.py").read_text()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_of_the_wrapper_stops_the_server(tmp_path):
    """`kill -TERM` of `nb2svc serve`/`train` reaches the program it runs (and its group)."""
    import os
    import signal
    import time

    pidfile = tmp_path / "child.pid"
    server = (
        f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    )
    wrapper = (
        "import os, sys\n"
        "from notebook2service.sagemaker.local import run_forwarding_signals\n"
        f"sys.exit(run_forwarding_signals([sys.executable, '-c', {server!r}], dict(os.environ)))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", wrapper])
    try:
        for _ in range(300):
            if pidfile.exists() and pidfile.read_text():
                break
            time.sleep(0.05)
        child = int(pidfile.read_text())
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        for _ in range(200):
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            pytest.fail("the server outlived its wrapper")
    finally:
        if proc.poll() is None:
            proc.kill()
