"""`verify()` runs a notebook (papermill) and its converted package and compares their stdout.

These tests execute code: each verify starts a kernel and a Python process (a few seconds).
The samples run in a temporary copy of sample_notebooks/ so that files they write
(``nb_helpers.py``) never land in the repository. Offline.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("papermill")
pytest.importorskip("ipykernel")

from nbmake import md, notebook, write  # noqa: E402

from notebook2service.verify import (  # noqa: E402
    VerifyError,
    normalize,
    report_text,
    verify,
)

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"
TIMEOUT = 120


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("verify") / "sample_notebooks"
    shutil.copytree(
        SAMPLES,
        dst,
        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "nb_helpers.py"),
    )
    return dst


@pytest.mark.parametrize("name", ["churn_classification", "parameterized_training"])
def test_sample_notebooks_are_equal(samples: Path, name: str) -> None:
    report = verify(samples / f"{name}.ipynb", timeout=TIMEOUT)
    text = report_text(report)
    assert report.equal, text
    assert report.cause is None and report.first_cell is None
    assert text.startswith("equal: the package printed exactly what the notebook printed (")
    assert report.lines > 0 and report.steps and all(s.equal and s.ran for s in report.steps)
    assert report.total_equal is True
    assert set(report.timings) == {"notebook_s", "convert_s", "package_s"}
    assert "timings: notebook" in text
    json.dumps(report.to_dict())  # serializable for --format json


def test_magics_notebook_is_equal_after_normalization(samples: Path, tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    report = verify(samples / "magics_and_shell.ipynb", timeout=TIMEOUT, workdir=keep)
    text = report_text(report)
    assert report.equal, text
    normalized = {n["cell"]: n for n in report.normalized}
    # %pip, %env, %%writefile, %time, %%time and %timeit chatter, nothing else
    assert set(normalized) == {5, 7, 9, 15, 16, 17}
    assert normalized[9]["removed"] == ["Writing nb_helpers.py"]
    assert any(line.startswith("CPU times:") for line in normalized[15]["removed"])
    # IPython may print "The slowest run took ..." before the timing line
    assert any("per loop (mean ± std. dev. of" in ln for ln in normalized[17]["removed"])
    assert "normalized: magic chatter removed" in text
    # the shell escapes really ran on both sides
    timing = next(s for s in report.steps if 15 in s.cells)
    assert timing.expected == timing.actual and timing.actual
    shell = next(s for s in report.steps if 20 in s.cells)
    assert shell.actual == "processing chunk 0\nprocessing chunk 1\n"
    # workdir keeps the executed notebook and the package for inspection
    assert (keep / "magics_and_shell.executed.ipynb").is_file()
    assert (keep / "package" / "magics_and_shell" / "pipeline.py").is_file()
    assert (keep / "package.stdout.txt").is_file()
    assert report.workdir == str(keep)


def test_unseeded_randomness_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path / "rand.ipynb",
        notebook(md("# Draw"), "import random", "print('draw:')\nprint(random.random())"),
    )
    report = verify(path, timeout=TIMEOUT)
    assert not report.equal
    assert report.cause == "randomness without a seed"
    assert report.first_cell == 3
    assert report.expected.startswith("draw:\n") and report.actual.startswith("draw:\n")
    assert report.expected != report.actual
    text = report_text(report)
    assert text.startswith("different: cell 3 — randomness without a seed: ")
    assert "--- notebook (" in text and "+++ package (" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rand.ipynb"]  # nothing left behind


def test_first_differing_line_names_its_cell(tmp_path: Path) -> None:
    # cells 2 and 4 print the same thing on both sides; cell 5 does not
    path = write(
        tmp_path / "later.ipynb",
        notebook(
            md("# Later"),
            ("print('one')", 1),
            md("## Draw"),
            ("import random\nprint('two')", 2),
            ("print('three', random.random())", 3),
        ),
    )
    report = verify(path, timeout=TIMEOUT)
    assert report.cause == "randomness without a seed"
    assert report.first_cell == 5 and report.execution_count == 3
    assert report_text(report).startswith("different: cell 5 (In[3]) — ")


def test_notebook_error(tmp_path: Path) -> None:
    path = write(tmp_path / "err.ipynb", notebook("print('a')", ("1 / 0", 7), "print('b')"))
    report = verify(path, timeout=TIMEOUT)
    assert not report.equal
    assert report.cause == "notebook error"
    assert report.first_cell == 2 and report.execution_count == 7
    assert "ZeroDivisionError" in report.explanation
    assert report_text(report).startswith("different: cell 2 (In[7]) — notebook error: ")


def test_notebook_timeout_names_the_running_cell(tmp_path: Path) -> None:
    path = write(tmp_path / "slow.ipynb", notebook("print(1)", ("import time\ntime.sleep(30)", 4)))
    report = verify(path, timeout=2)
    assert report.cause == "notebook error"
    assert report.first_cell == 2 and "did not finish within 2 s" in report.explanation


def test_package_error_when_the_notebook_runs(tmp_path: Path) -> None:
    # `eval(name)` reads a name the dataflow cannot see (the string is not a literal): fine
    # in the notebook's one namespace, a NameError in the package, where `x` is local to the
    # previous step function
    path = write(
        tmp_path / "evalnb.ipynb",
        notebook(
            md("# Eval"),
            md("## Define"),
            "x = len('abcde')\nprint(x)",  # computed: not a module-level constant
            md("## Use"),
            'name = "x"\nprint(eval(name))',  # not a literal: eval's read is not seen
        ),
    )
    report = verify(path, timeout=TIMEOUT)
    assert not report.equal
    assert report.cause == "package error"
    assert report.first_cell == 5
    assert report.first_step is not None
    assert "NameError" in report.explanation and "NameError" in report.stderr_tail
    assert "package stderr" in report_text(report)


def test_non_python_kernel_is_a_verify_error(tmp_path: Path) -> None:
    path = write(tmp_path / "r.ipynb", notebook("x <- 1", language="R"))
    with pytest.raises(VerifyError, match="not Python"):
        verify(path)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[]"])
def test_unreadable_notebook_is_a_verify_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(VerifyError):
        verify(path)
    with pytest.raises(VerifyError):
        verify(tmp_path / "missing.ipynb")


def test_normalize_removes_only_the_named_chatter() -> None:
    text = "a\r\nCPU times: user 1 ms, sys: 0 ns, total: 1 ms\nWall time: 2 ms\rb\n"
    assert normalize(text) == (
        "a\nCPU times: user 1 ms, sys: 0 ns, total: 1 ms\nWall time: 2 ms\nb\n",
        [],
    )
    kept, removed = normalize(text, ["time"])
    assert kept == "a\nb\n" and len(removed) == 2
    timeit = "12.3 ms ± 1.2 ms per loop (mean ± std. dev. of 2 runs, 3 loops each)\n"
    assert normalize(timeit, ["timeit"])[0] == ""
    assert normalize("Overwriting x.py\nWriting it down\n", ["writefile"])[0] == ""
    assert normalize("env: A=1\nenv is set\n", ["env"])[0] == "env is set\n"
    note = "Note: you may need to restart the kernel to use updated packages.\n"
    assert normalize(note, ["pip"])[0] == ""
    assert normalize(note, ["time"])[0] == note


def test_printed_object_addresses_are_normalized_like_displayed_ones() -> None:
    printed = "<matplotlib.ticker.LogLocator object at 0x7f274f1393d0>\n"
    assert normalize(printed)[0] == "<matplotlib.ticker.LogLocator object at 0x…>\n"
    assert normalize("0x1f and 255\n")[0] == "0x1f and 255\n"  # a short hex number stays


def test_output_that_differs_only_in_clock_times_is_timing(tmp_path: Path) -> None:
    # the package runs later than the notebook: the file it writes has another modification
    # time, which `ls` shows; nothing else differs
    path = write(
        tmp_path / "clock.ipynb",
        notebook(
            md("# Clock"),
            "with open('out.txt', 'w') as fh:\n    fh.write('x')",
            "!ls -l --time-style=+%Y-%m-%d.%H:%M:%S.%N out.txt",
        ),
    )
    report = verify(path, timeout=TIMEOUT)
    assert not report.equal and report.cause == "timing", report_text(report)
    assert "prints a clock time" in report.explanation


def test_the_cell_that_printed_differently_is_named_not_the_next_one(tmp_path: Path) -> None:
    # cell 3 prints only in the package (`__name__` is the module's name there); cell 4 prints
    # the same on both sides. The package's stdout is attributed to cells through the line map,
    # so the difference is cell 3's, not cell 4's (whose line comes first in the notebook).
    path = write(
        tmp_path / "where.ipynb",
        notebook(
            md("# Where"),
            "print('one')",
            "if __name__ != '__main__':\n    print('imported')",
            "print('four')",
        ),
    )
    report = verify(path, timeout=TIMEOUT)
    assert not report.equal and report.stdout_equal is False
    assert report.first_cell == 3 and report.first_mode == "stdout"
    assert report.expected == "" and report.actual == "imported\n"
    assert report.steps and all(s.ran for s in report.steps)


def test_displayed_values_are_compared(tmp_path: Path) -> None:
    path = write(
        tmp_path / "shown.ipynb",
        notebook(
            md("# Shown"),
            "import random\nx = sorted([3, 1, 2])\nx",
            "object()",  # `<object object at 0x...>`: the address is normalized
            "len(x);",
            "print('same')\nrandom.random()",
        ),
    )
    report = verify(path, timeout=TIMEOUT)
    assert report.stdout_equal is True
    assert report.displays_equal is False and report.displays == 3
    assert report.first_cell == 5 and report.first_mode == "display"
    assert report.cause == "randomness without a seed"
    assert report.expected != report.actual and report.actual.startswith("0.")
    assert report_text(report).startswith("different: cell 5 — randomness without a seed: ")


def test_equal_displays_are_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "same.ipynb", notebook("x = {'b': 1, 'a': [1, 2]}\nx", "print(len(x))"))
    report = verify(path, timeout=TIMEOUT)
    assert report.equal, report_text(report)
    assert report.displays == 1 and report.displays_equal and report.stdout_equal
    assert "1 displayed value)" in report_text(report)


def test_seed_makes_unseeded_draws_comparable(tmp_path: Path) -> None:
    path = write(
        tmp_path / "draws.ipynb",
        notebook(
            "import random\nimport numpy as np",
            "print(random.random())\nnp.random.rand(2)",
            "np.random.randint(0, 100, 3)",
        ),
    )
    before = path.read_bytes()
    report = verify(path, timeout=TIMEOUT, seed=0)
    assert report.equal, report_text(report)
    assert report.seed == 0 and report.displays == 2 and report.lines == 1
    assert path.read_bytes() == before  # the seeding cell went into a scratch copy


def test_a_name_looked_up_at_run_time_is_a_conversion_limit(tmp_path: Path) -> None:
    path = write(
        tmp_path / "lookup.ipynb",
        notebook(
            "class Show:\n    def __init__(self, name):\n        self.name = name\n"
            "    def __repr__(self):\n        return repr(eval(self.name))",
            md("# Use"),
            "x = 5\nShow('x')",
        ),
    )
    report = verify(path, timeout=TIMEOUT)
    assert report.first_cell == 3 and report.first_mode == "display"
    assert report.cause == "conversion limit"
    assert "`eval()` in `Show` (cell 1)" in report.explanation


def test_the_seeded_copy_is_made_from_the_loaded_notebook(tmp_path: Path) -> None:
    from notebook2service.notebook import load
    from notebook2service.verify import SEED_TAG, _seeded_copy

    path = write(tmp_path / "n.ipynb", notebook("x = 1"))
    nb = load(path)
    path.write_text("changed on disk after loading", encoding="utf-8")
    copy = json.loads(_seeded_copy(nb, path, tmp_path, 3).read_text(encoding="utf-8"))
    assert [c["source"] for c in copy["cells"][1:]] == [c["source"] for c in nb.raw["cells"]]
    assert copy["cells"][0]["metadata"]["tags"] == [SEED_TAG] and len(nb.raw["cells"]) == 1
