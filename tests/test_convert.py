"""nb2svc convert: the package behaves like the notebook (top-down), by construction."""

import json
import subprocess
from pathlib import Path

import pytest
from nbmake import code, md, notebook, run_package, write

from notebook2service.cli import main
from notebook2service.convert import ConvertError, convert
from notebook2service.manifest import Manifest
from notebook2service.render import OutputExistsError, templates_dir

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"


def convert_and_run(
    tmp_path: Path, nb: dict, name: str = "demo"
) -> tuple[dict, subprocess.CompletedProcess, str]:
    src = write(tmp_path / f"{name}.ipynb", nb)
    result = convert(src, tmp_path / "out", force=True)
    proc = run_package(tmp_path / "out", result.package, tmp_path)
    pipeline = (tmp_path / "out" / result.package / "pipeline.py").read_text()
    return result.manifest, proc, pipeline


def stdout_of(nb_path: Path) -> str:
    data = json.loads(nb_path.read_text())
    out = []
    for cell in data["cells"]:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                out.append("".join(o["text"]) if isinstance(o["text"], list) else o["text"])
    return "".join(out)


@pytest.mark.parametrize(
    "name", ["churn_classification", "house_prices_regression", "parameterized_training"]
)
def test_samples_print_exactly_what_the_notebook_printed(tmp_path, name):
    result = convert(SAMPLES / f"{name}.ipynb", tmp_path / "out")
    proc = run_package(tmp_path / "out", result.package, SAMPLES)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == stdout_of(SAMPLES / f"{name}.ipynb")
    assert not [f for f in result.findings if f.kind == "generated-code"]


def test_layout_manifest_and_readable_functions(tmp_path):
    result = convert(SAMPLES / "house_prices_regression.ipynb", tmp_path / "out")
    out = tmp_path / "out"
    pkg = out / "house_prices_regression"
    for rel in ("__init__.py", "__main__.py", "pipeline.py"):
        assert (pkg / rel).is_file()
    assert (out / "pyproject.toml").is_file() and (out / "requirements.txt").is_file()
    manifest = Manifest.read(out / "nb2svc.json")
    assert manifest.package == "house_prices_regression"
    assert len(manifest.notebook_sha256) == 64
    names = [s["function"] for s in manifest.steps]
    assert names[:3] == ["load_data", "clean", "feature_engineering"]
    assert not any(n.startswith("cell_") or n.startswith("step_") for n in names)
    clean = next(s for s in manifest.steps if s["function"] == "clean")
    assert clean["parameters"] == ["df"] and clean["returns"] == ["df"]
    pipeline = (pkg / "pipeline.py").read_text()
    assert "def run(" in pipeline and "df_1" not in pipeline
    # every range in the line map points at a real cell and a real line
    lines = pipeline.split("\n")
    for r in manifest.line_map["pipeline.py"]:
        assert 1 <= r["start"] <= r["end"] + 1 <= len(lines) + 1
        above = [ln for ln in lines[: r["start"] - 1] if ln.strip()]  # the marker heads it
        assert above[-1].strip().startswith(f"# cell {r['cell']}")
    req = (out / "requirements.txt").read_text()
    import importlib.metadata as md_

    assert (
        f"scikit-learn=={md_.version('scikit-learn')}" in req
        and f"pandas=={md_.version('pandas')}" in req
    )
    assert result.manifest.cells[0]["target"]


def test_redefinition_and_mutation_flow_through_functions(tmp_path):
    nb = notebook(
        md("## Load"),
        "a = ['a']\nb = []\ndf = {'x': 1}",
        md("## Change"),
        "a[0] = 'z'\nb.append(1)\ndf = dict(df, y=2)",
        md("## Later change"),
        "b.extend([2])",
        md("## Report"),
        "print(a, b, sorted(df))",
    )
    manifest, proc, pipeline = convert_and_run(tmp_path, nb)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "['z'] [1, 2] ['x', 'y']\n"
    change = next(s for s in manifest.steps if s["function"] == "change")
    assert set(change["returns"]) == {"a", "b", "df"}  # in-place changes are explicit outputs
    later = next(s for s in manifest.steps if s["function"] == "later_change")
    assert later["returns"] == ["b"]


def test_helper_functions_reading_globals_keep_working(tmp_path):
    nb = notebook(
        "def scale(v):\n    return v * FACTOR + offset()",
        "def offset():\n    return BASE",
        "FACTOR = len('abc')\nBASE = FACTOR - 2",  # computed: not constants (lift/constants)
        "print(scale(2))",
    )
    manifest, proc, pipeline = convert_and_run(tmp_path, nb)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "7\n"
    assert set(manifest.shared_globals) == {"FACTOR", "BASE"}
    assert "global FACTOR, BASE" in pipeline or "global BASE, FACTOR" in pipeline


def test_ipython_syntax_by_kind(tmp_path):
    nb = notebook(
        "%matplotlib inline\n%load_ext autoreload\nimport os",
        "!pip install requests==2.31.0",
        "%%writefile helper_mod.py\ndef twice(x):\n    return 2 * x\n",
        "from helper_mod import twice\nprint(twice(21))",
        "%%time\ntotal = sum(range(10))\nprint(total)",
        "files = !ls *.ipynb\nprint('demo.ipynb' in files)",
        "!wget -q http://example.invalid/data.csv || true",
        "%bookmark proj",
        "name = 'x'\n!echo {name} done",
    )
    manifest, proc, pipeline = convert_and_run(tmp_path, nb)
    actions = {(a["cell"], a["action"]) for a in manifest.ipython}
    assert (1, "removed") in actions and (2, "requirement") in actions and (3, "file") in actions
    assert (5, "unwrapped") in actions and (6, "shell") in actions and (7, "data") in actions
    assert (8, "comment") in actions
    assert manifest.data_acquisition[0]["cell"] == 7
    assert "helper_mod.py" in manifest.files
    assert (tmp_path / "out" / "helper_mod.py").read_text().startswith("def twice")
    assert any(
        r["name"] == "requests" and r["specifier"] == "==2.31.0" for r in manifest.requirements
    )
    assert "# nb2svc: IPython syntax kept as a comment" in pipeline and "%bookmark" in pipeline
    assert "get_ipython" not in pipeline and "%%time" not in pipeline
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:3] == ["42", "45", "True"]
    assert proc.stdout.rstrip().endswith("x done")


def test_display_only_cells_stay_and_do_not_decide_flow(tmp_path):
    nb = notebook("data = [3, 1, 2]", "data", "sorted(data)", "print(max(data))")
    manifest, proc, pipeline = convert_and_run(tmp_path, nb)
    assert proc.returncode == 0 and proc.stdout == "3\n"
    assert "sorted(data)" in pipeline
    assert all(s["returns"] in ([], ["data"]) for s in manifest.steps)


def test_hidden_state_is_reported_and_top_down_followed(tmp_path):
    nb = notebook(("import math", 1), ("y = x + 1", 3), ("x = 2", 2), ("print(x)", 4))
    src = write(tmp_path / "hs.ipynb", nb)
    result = convert(src, tmp_path / "out")
    codes = {f.code for f in result.findings}
    assert {"NB101", "NB103", "convert"} <= codes
    assert any("`x` is read in cell 2" in f.message for f in result.findings if f.code == "convert")


def test_unparseable_cell_is_kept_as_comment_and_reported(tmp_path):
    nb = notebook("x = 1", "print 'python 2'", "print(x)")
    manifest, proc, pipeline = convert_and_run(tmp_path, nb)
    assert proc.returncode == 0 and proc.stdout == "1\n"
    assert "# print 'python 2'" in pipeline
    assert any(f.code == "NB001" for f in manifest.findings)


def test_loops_with_blocks_star_imports_and_classes(tmp_path):
    nb = notebook(
        "from math import *",
        "class Acc:\n    def __init__(self):\n        self.n = 0\n    def add(self, k):\n        self.n += k * STEP",
        "STEP = 2\nacc = Acc()",
        "for i in range(3):\n    last = i\n    acc.add(i)",
        "with open(__file__ if False else 'f.txt', 'w') as fh:\n    written = fh.write('abc')",
        "print(last, acc.n, written, floor(2.5))",
    )
    manifest, proc, pipeline = convert_and_run(tmp_path, nb)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "2 6 3 2\n"
    assert "from math import *" in pipeline


def test_parameters_cell_becomes_options(tmp_path):
    params = code(
        "alpha = 0.5\nn = 3\nlabel = 'run'\nflag = False", metadata={"tags": ["parameters"]}
    )
    nb = notebook(params, "print(label, n * alpha, flag)")
    src = write(tmp_path / "p.ipynb", nb)
    result = convert(src, tmp_path / "out")
    assert [p["name"] for p in result.manifest.parameters] == ["alpha", "n", "label", "flag"]
    proc = run_package(tmp_path / "out", result.package, tmp_path)
    assert proc.stdout == "run 1.5 False\n"
    proc = run_package(
        tmp_path / "out", result.package, tmp_path, "--n", "4", "--label", "x", "--flag", "true"
    )
    assert proc.stdout == "x 2.0 True\n", proc.stderr


def test_output_folder_needs_force_and_input_errors_are_clear(tmp_path, capsys):
    src = write(tmp_path / "a.ipynb", notebook("print(1)"))
    convert(src, tmp_path / "out")
    with pytest.raises(OutputExistsError):
        convert(src, tmp_path / "out")
    assert main(["convert", str(src), "-o", str(tmp_path / "out")]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["convert", str(src), "-o", str(tmp_path / "out"), "--force"]) == 0
    bad = tmp_path / "bad.ipynb"
    bad.write_text("nope")
    assert main(["convert", str(bad), "-o", str(tmp_path / "o2")]) == 2
    assert not (tmp_path / "o2").exists()
    r = write(tmp_path / "r.ipynb", notebook("x <- 1", language="R"))
    with pytest.raises(ConvertError):
        convert(r, tmp_path / "o3")


def test_convert_never_executes_notebook_code(tmp_path):
    marker = tmp_path / "executed"
    nb = notebook(f"open({str(marker)!r}, 'w').write('x')", f"!touch {marker}")
    convert(write(tmp_path / "n.ipynb", nb), tmp_path / "out")
    assert not marker.exists()


def test_templates_ship_with_the_package():
    assert (templates_dir() / "package" / "__main__.py.j2").is_file()
    import notebook2service

    installed_in_site = "site-packages" in notebook2service.__file__
    if installed_in_site:  # a non-editable install: templates must be inside the package
        assert Path(notebook2service.__file__).parent in templates_dir().parents


def test_definition_time_code_stays_in_notebook_order(tmp_path):
    """Class bodies and decorators run when defined: they must see the notebook's state."""
    nb = notebook(
        "rate = 0.5",
        "class Config:\n    lr = rate\n    def show(self):\n        return self.lr",
        "REG = {}\ndef register(fn):\n    REG[fn.__name__] = fn\n    return fn",
        "@register\ndef alpha():\n    return 1",
        "print(Config().show(), sorted(REG))",
    )
    manifest, proc, pipeline = convert_and_run(tmp_path, nb)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "0.5 ['alpha']\n"


def test_closures_see_later_rebinding_and_main_guard(tmp_path):
    nb = notebook(
        md("## A"),
        "base = 2\nscale = lambda v: v * base",
        md("## B"),
        "base = 5\nprint(scale(3))",
        md("## C"),
        "if __name__ == '__main__':\n    print('running main')",
    )
    manifest, proc, pipeline = convert_and_run(tmp_path, nb)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "15\nrunning main\n"


def test_pandas_prints_as_under_jupyter_and_no_shadowing(tmp_path):
    pd = pytest.importorskip("pandas")
    nb = notebook(
        "import pandas as pd",
        "df = pd.DataFrame({f'a_rather_long_column_name_{i}': [i] for i in range(8)})\nprint(df)",
    )
    src = write(tmp_path / "pandas.ipynb", nb)
    result = convert(src, tmp_path / "out")
    assert result.package == "pandas_pipeline"  # `pandas` would shadow the library
    proc = run_package(tmp_path / "out", result.package, tmp_path)
    assert proc.returncode == 0, proc.stderr
    with pd.option_context("display.max_columns", 20):
        expected = (
            str(pd.DataFrame({f"a_rather_long_column_name_{i}": [i] for i in range(8)})) + "\n"
        )
    assert proc.stdout == expected and "..." not in proc.stdout
