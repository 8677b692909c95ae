"""Conversion keeps the notebook's behaviour: %timeit scopes, `!` interpolation, figures, names
bound on one path only, imports where the notebook had them. Each test builds its notebook."""

import ast
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest
from nbmake import md, notebook, run_package, undefined_names, write

from notebook2service import dataflow
from notebook2service.convert import convert
from notebook2service.lift.interpolate import code_of, command_expression, portable
from notebook2service.linter.checker import check_notebook
from notebook2service.notebook import load_python

slow = [pytest.mark.slow, pytest.mark.integration]


def _convert(tmp_path: Path, nb: dict, name: str = "demo"):
    src = write(tmp_path / f"{name}.ipynb", nb)
    result = convert(src, tmp_path / "out", force=True)
    pipeline = (tmp_path / "out" / result.package / "pipeline.py").read_text()
    return result, pipeline


def _run(tmp_path: Path, package: str, *args: str) -> subprocess.CompletedProcess:
    return run_package(tmp_path / "out", package, tmp_path, *args)


# -- %timeit runs in a scope of its own -------------------------------------------------

TIMEIT = notebook(
    "counts = [0, 0, 0]\nx = [1, 2]",
    "%timeit counts, edges = sorted(x), len(x)",
    "%%timeit -n 1 extra = 5\nwidth = extra + len(x)",
    "%time timed = len(x)",
    "counts[2] += 1\nprint(counts, timed)",
)


def _defs_and_reads(nb: dict, cell: int) -> tuple[object, set[str], set[str]]:
    """The dataflow, every name any cell binds, and the names code cell `cell` reads."""
    flow = dataflow.analyze(load_python(nb))
    defs = {n for f in flow.cells for n in f.defs}
    return flow, defs, {u.name for u in flow.expanded[flow.cells[cell].cell.index]}


def test_timeit_binds_no_name_in_the_dataflow():
    flow, defs, reads = _defs_and_reads(TIMEIT, 1)
    assert {"edges", "extra", "width"} & defs == set()
    assert "timed" in defs  # %time binds in the user namespace; %timeit does not
    assert reads == {"sorted", "x", "len"}
    assert "extra" not in {u.name for u in flow.expanded[flow.cells[2].cell.index]}


def test_lint_agrees_a_name_bound_only_by_timeit_is_undefined():
    nb = notebook("%timeit edges = sorted([3, 1])", "print(edges)")
    findings = check_notebook(load_python(nb), lambda code: True)
    assert any(f.code == "NB104" and "edges" in f.message for f in findings), findings


NESTED_TIMEIT = notebook(
    "counts = [0, 0, 0]\nx = [1, 2]",
    "for i in range(2):\n    %timeit counts, edges = sorted(x), len(x)\n    if i:\n"
    "        %timeit -n1 a = 1; counts = a + len(x)\n    else:\n        pass\n"
    "try:\n    %timeit other = x\nexcept ValueError:\n    pass",
    "counts[2] += 1\nprint(counts, i)",
)


def test_timeit_inside_a_block_binds_no_name_in_the_dataflow():
    flow, defs, reads = _defs_and_reads(NESTED_TIMEIT, 1)
    assert {"edges", "a", "other"} & defs == set()
    assert "counts" not in flow.cells[1].defs  # rebound only inside %timeit's own scope
    assert {"x", "sorted", "len"} <= reads and "a" not in reads  # `a` is local to its scope


def test_lint_agrees_a_name_bound_only_by_a_nested_timeit_is_undefined():
    nb = notebook("for i in range(2):\n    %timeit edges = sorted([3, i])", "print(edges)")
    findings = check_notebook(load_python(nb), lambda code: True)
    assert any(f.code == "NB104" and "edges" in f.message for f in findings), findings


@pytest.mark.slow
@pytest.mark.integration
def test_nested_timeit_does_not_rebind_in_the_package(tmp_path):
    result, pipeline = _convert(tmp_path, NESTED_TIMEIT)
    assert pipeline.count("def _nb2svc_timeit():") == 3
    returned = {s for step in result.manifest.steps for s in step["returns"]}
    assert {"edges", "a", "other"} & returned == set()
    proc = _run(tmp_path, result.package)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0, 0, 1] 1"


@pytest.mark.slow
@pytest.mark.integration
def test_timeit_does_not_rebind_in_the_package(tmp_path):
    result, pipeline = _convert(tmp_path, TIMEIT)
    assert "def _nb2svc_timeit():" in pipeline
    assert "edges" not in {s for step in result.manifest.steps for s in step["returns"]}
    proc = _run(tmp_path, result.package)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0, 0, 1] 2"  # `counts` is still the list, not sorted(x)


# -- names read through a string the code evaluates (pd.eval, df.query("@name")) -----------

EVALUATED = notebook(
    md("# Data"),
    "import pandas as pd\ndf1 = pd.DataFrame({'A': [1, 2]})\ndf2 = df1 * 2\nlimit = 1",
    md("# Use"),
    "%timeit pd.eval('df1 + df2')",
    "print(pd.eval('df1 + df2').A.tolist(), df1.query('A > @limit').A.tolist())",
)


def test_names_in_evaluated_strings_are_reads():
    flow = dataflow.analyze(load_python(EVALUATED))
    reads = [{u.name for u in flow.expanded[f.cell.index]} for f in flow.cells]
    assert {"df1", "df2"} <= reads[1]  # %timeit pd.eval('df1 + df2'), in its own scope
    assert {"df1", "df2", "limit"} <= reads[2] and "A" not in reads[2]  # `A` is a column


@pytest.mark.slow
@pytest.mark.integration
def test_evaluated_strings_find_their_names_in_the_package(tmp_path):
    pytest.importorskip("pandas")
    result, pipeline = _convert(tmp_path, EVALUATED)
    assert "def _nb2svc_timeit(df1=df1, df2=df2):" in pipeline
    proc = _run(tmp_path, result.package)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[3, 6] [2]"


# -- `!cmd {expr}` is built as nodes and parses on every supported Python ----------------


@pytest.mark.parametrize(
    "command",
    [
        """echo "a" {d['k']}""",
        """echo {d["a"] + d['k']} 'x' "y" \\n""",
        "echo {(lambda: 1)()} {x if x else 0} $x $HOME {{literal}} {}",
        "printf '%s' {'#'} {x!r}",
    ],
)
def test_shell_commands_parse_under_old_grammars(command):
    source = code_of(command_expression(command, {"x"}))
    assert portable(source), source
    ast.parse(source, mode="eval")


# What IPython's own formatter makes of each line (`InteractiveShell.var_expand`: its
# DollarFormatter; a line it cannot format runs as written). `known`: the notebook's names.
EXPANDED = [
    "echo A {x!r} B",  # a conversion: the repr
    "echo {x!s} {x!a} {n!r}",
    "echo {n:.2f} {x}",  # a format spec: IPython evaluates `n:.2f`, fails, runs it as written
    "echo {x!s:>10}",
    "echo {d['k']!r:>5}",
    "echo {x[1:3]} {(lambda: 1)()}",  # the `:` of a slice or a lambda is kept in the field
    "echo {x=} {x}",
    "echo {a != b}",  # a `!` that is not a conversion: a format error, so as written
    "echo {x!z}",
    "echo {} {x}",
    "echo {{lit}} {x} }}",
    "echo $x $n.real $$x {x}",
    "echo $HOME {x}",  # `HOME` is no notebook name: IPython's eval fails, the line is as written
    "awk '{print $1}' f",
    "echo '$x' $x",
    "echo $1 {x!r}",
    "printf '%s' {'#'} {x!r}",  # no quote fits every field: a concatenation of format() calls
    "echo { and } {x}",
]


@pytest.mark.parametrize("command", EXPANDED)
def test_shell_lines_expand_like_ipython(command):
    text = pytest.importorskip("IPython.utils.text")
    ns = {"x": "a'b c", "n": 3.14159, "d": {"k": 5}}
    try:
        expected = text.DollarFormatter().vformat(command, args=[], kwargs=dict(ns))
    except Exception:
        expected = command
    source = code_of(command_expression(command, set(ns)))
    assert portable(source), source
    assert eval(source, dict(ns)) == expected, source  # noqa: S307 (our own generated code)


def test_conversions_are_formatted_string_nodes():
    node = command_expression("echo {x!r} {y!s}", {"x", "y"})
    assert isinstance(node, cst.FormattedString)
    fields = [p for p in node.parts if isinstance(p, cst.FormattedStringExpression)]
    assert [(code_of(f.expression), f.conversion) for f in fields] == [("x", "r"), ("y", "s")]


def test_dataflow_reads_the_names_of_converted_fields_only_when_ipython_expands():
    flow = dataflow.analyze(
        load_python(notebook("x = 1\nn = 2", "!echo {x!r} {n}", "!echo {n:.2f}"))
    )
    reads = [{u.name for u in flow.expanded[f.cell.index]} for f in flow.cells]
    assert reads[1] == {"x", "n"}
    assert reads[2] == set()  # IPython runs `echo {n:.2f}` as written: nothing is read


def test_portable_rejects_what_only_312_accepts():
    assert not portable("f'{d['k']}'\n")
    assert portable("f\"{d['k']}\"\n")


@pytest.mark.slow
@pytest.mark.integration
def test_shell_interpolation_runs_like_ipython(tmp_path):
    nb = notebook("d = {'k': 'v'}\nn = 2", """!echo "a" {d['k']} {n * 2} $n""")
    result, pipeline = _convert(tmp_path, nb)
    assert not [f for f in result.findings if f.kind in ("cell-unparsable", "generated-code")]
    assert portable(pipeline)
    proc = _run(tmp_path, result.package)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "a v 4 2"


def test_capture_body_with_shell_lines_stays_indented(tmp_path):
    nb = notebook(md("# Run"), "%%capture out\nprint(1)\n!echo {1 + 1}")
    result, pipeline = _convert(tmp_path, nb)
    assert "with contextlib.redirect_stdout(io.StringIO()) as out:" in pipeline
    compile(pipeline, "pipeline.py", "exec")
    assert not [f for f in result.findings if f.kind == "generated-code"]


# -- a name bound on one path only is never returned -------------------------------------

ONE_PATH = notebook(
    md("# Imports"),
    "try:\n    import not_a_module_nb2svc as fast\nexcept ImportError:\n    import json as slow",
    "flag = False\nif flag:\n    y = 1\nfor i in range(2):\n    last = i",
    md("# Use"),
    "print(slow.dumps([1]), y if flag else 0, last)",
)


def test_names_bound_on_one_path_stay_globals_not_returns(tmp_path):
    src = write(tmp_path / "demo.ipynb", ONE_PATH)
    result = convert(src, tmp_path / "out", write=False)
    steps = result.manifest.steps
    returned = {n for s in steps for n in s["returns"]}
    assert {"fast", "slow", "y"} & returned == set()
    assert {"fast", "slow", "y"} <= set(steps[0]["globals"])
    assert "last" in returned  # `for i in range(2)` runs: `last` is bound on every path
    assert not [f for f in result.findings if f.kind == "undefined-in-package"]


@pytest.mark.slow
@pytest.mark.integration
def test_one_path_names_run_without_unbound_locals(tmp_path):
    result, pipeline = _convert(tmp_path, ONE_PATH)
    proc = _run(tmp_path, result.package)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[1] 0 1"
    ruff = undefined_names(pipeline)
    assert ruff.returncode == 0, ruff.stdout


# -- figures: the inline backend's lifecycle ---------------------------------------------

FIGURES = notebook(
    md("# Plot"),
    "import matplotlib.pyplot as plt",
    "fig = plt.figure()\nax = fig.add_subplot(projection='3d')\nax.plot([0, 1], [0, 1], [0, 1])",
    "plt.plot([1, 2])\nplt.axis([0, 1, 0, 1])\nprint(len(plt.get_fignums()))",
    "plt.plot([1])\nplt.show()\nplt.plot([2])\nprint(len(plt.gca().lines))",
)


def test_figures_close_at_the_end_of_each_cell_and_convert_imports_no_matplotlib(tmp_path):
    before = set(sys.modules)
    result, pipeline = _convert(tmp_path, FIGURES)
    assert not {m for m in set(sys.modules) - before if m.startswith("matplotlib")}
    assert pipeline.count("end_cell(") == 3  # after each plotting cell (the import is hoisted)
    assert 'end_cell("plot", 3)' in pipeline.replace("'", '"')
    (tmp_path / "plain").mkdir()
    plain, plain_pipeline = _convert(tmp_path / "plain", notebook("x = 1", "print(x)"))
    assert "end_cell" not in plain_pipeline  # no matplotlib: no lifecycle calls


@pytest.mark.slow
@pytest.mark.integration
def test_figures_follow_the_inline_backend_and_are_saved_by_step_and_cell(tmp_path):
    result, _ = _convert(tmp_path, FIGURES)
    proc = _run(tmp_path, result.package)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "1"]
    proc = _run(tmp_path, result.package, "--figures", str(tmp_path / "figs"))
    assert proc.returncode == 0, proc.stderr
    saved = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert saved == ["plot-cell3-1.png", "plot-cell4-1.png", "plot-cell5-1.png", "plot-cell5-2.png"]
    assert all((tmp_path / "figs" / n).read_bytes().startswith(b"\x89PNG") for n in saved)


SHOW_FIRST = (
    "plt.plot([1])\nplt.show()\nplt.plot([2])\nprint(len(plt.gca().lines), len(plt.get_fignums()))"
)


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("late", [False, True], ids=["hoisted import", "import in the cell"])
def test_show_closes_figures_in_the_first_plotting_cell_too(tmp_path, late):
    """The inline backend's `plt.show()` from the first cell on, however matplotlib is imported."""
    first = ("import matplotlib.pyplot as plt\n" if late else "") + SHOW_FIRST
    cells = [md("# Plot"), "x = 1", first, SHOW_FIRST]
    if not late:
        cells.insert(1, "import matplotlib.pyplot as plt")
    result, _ = _convert(tmp_path, notebook(*cells))
    proc = _run(tmp_path, result.package)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "1", "1", "1"]  # what the notebook prints


# -- imports stay where the notebook ran them --------------------------------------------

IMPORTS = notebook(
    "import json",
    md("# Load"),
    "data = json.loads('[1, 2]')\n# the next line doubles the data\nimport csv\ndoubled = data * 2",
    "import libcst\nprint(libcst.parse_expression('1').value)",
    md("# Later"),
    "print(type(libcst.Name('a')).__name__, doubled)",
    md("# Optional"),
    "import not_a_module_nb2svc_late\nprint('unreachable')",
)


def test_late_imports_stay_in_their_step_as_globals(tmp_path):
    result, pipeline = _convert(tmp_path, IMPORTS)
    head = pipeline.split("\ndef ", 1)[0]
    assert "import json" in head and "import csv" in head  # leading cells, and the stdlib
    assert "not_a_module_nb2svc_late" not in head and "import libcst" not in head
    steps = {s["function"]: s for s in result.manifest.steps}
    assert not any("libcst" in s["returns"] or "libcst" in s["parameters"] for s in steps.values())
    assert any("libcst" in s["globals"] for s in steps.values())
    comment = pipeline.index("# the next line doubles the data")
    assert pipeline.index("doubled = data * 2") > comment > pipeline.index("data = json.loads")


@pytest.mark.slow
@pytest.mark.integration
def test_a_late_failing_import_fails_in_its_step_not_at_import(tmp_path):
    result, _ = _convert(tmp_path, IMPORTS)
    proc = _run(tmp_path, result.package)
    assert proc.stdout.split("\n")[:2] == ["1", "Name [1, 2, 1, 2]"]
    assert proc.returncode != 0 and "not_a_module_nb2svc_late" in proc.stderr


# -- other ways a step could end with a name unbound or fail to compile ------------------


def test_rebinding_a_hoisted_import_is_global_and_annotated_globals_compile(tmp_path):
    nb = notebook(
        "import uuid",
        md("# Use"),
        "flag = True\nif flag:\n    print(type(uuid).__name__)\nelse:\n    uuid = uuid.uuid4()",
        "if flag:\n    tag: str = 'a'",
        md("# Later"),
        "print(tag if flag else '')",
    )
    result, pipeline = _convert(tmp_path, nb)
    compile(pipeline, "pipeline.py", "exec")
    use = next(s for s in result.manifest.steps if s["function"].startswith("use"))
    assert {"uuid", "tag"} <= set(use["globals"])


@pytest.mark.slow
@pytest.mark.integration
def test_top_level_await_runs_on_one_loop(tmp_path):
    nb = notebook(
        "import asyncio\nasync def twice(x):\n    await asyncio.sleep(0)\n    return 2 * x",
        "y = await twice(2)\nprint(y, [await twice(i) for i in range(2)])",
    )
    result, pipeline = _convert(tmp_path, nb)
    assert "run_await(twice(2))" in pipeline
    proc = _run(tmp_path, result.package)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "4 [0, 2]"


def test_annotations_are_read_when_the_function_is_defined(tmp_path):
    nb = notebook(
        md("# Types"),
        "Frame = list",
        md("# Helpers"),
        "def first(rows: Frame) -> Frame:\n    return rows[:1]",
        "print(first([1, 2]))",
    )
    flow = dataflow.analyze(load_python(nb))
    assert "Frame" in {u.name for u in flow.expanded[flow.cells[1].cell.index]}
    result, pipeline = _convert(tmp_path, nb)
    head = pipeline.split("\ndef run(", 1)[0]
    assert "\ndef first(" not in head.split("\ndef types", 1)[0]  # not hoisted above `Frame`
    ruff = undefined_names(pipeline)
    assert ruff.returncode == 0, ruff.stdout


def test_an_interpolated_secret_name_is_not_redacted_into_broken_code():
    from notebook2service.redact import redact

    line = '    env = {"NGC_API_KEY": f"{NGC_API_KEY}", "PORT": "8000"}'
    assert redact(line) == line
    assert "sk-live" not in redact('NGC_API_KEY = "sk-live-4f9a8b7c6d5e4f3a2b1c"')
