"""nb2svc_runtime.notebook imported as code: what a converted notebook's code needs outside
Jupyter (shell commands, display(), data channels, displayed values, the figure lifecycle),
and a converted package that imports it from the pinned runtime instead of carrying a copy."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import nb2svc_runtime
import pytest
from nb2svc_runtime import notebook

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"


# -- shell ---------------------------------------------------------------------------------


def test_shell_prints_stdout_and_stderr_and_returns_the_exit_code(capsys):
    assert notebook.shell("echo out; echo err >&2; exit 3") == 3
    printed = capsys.readouterr().out
    assert printed.splitlines() == ["out", "err"]


def test_shell_lines_are_what_the_command_printed():
    assert notebook.shell_lines("printf 'a\\nb b\\n'; echo c >&2") == ["a", "b b", "c"]
    assert notebook.shell_lines("true") == []


def test_display_logs_each_object_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger=notebook.__name__):
        notebook.display({"k": 1}, [2], metadata={"x": 1})
    assert [r.getMessage() for r in caplog.records] == ["display: {'k': 1}", "display: [2]"]


# -- data channels ---------------------------------------------------------------------------


def test_read_channel_is_the_notebook_read_without_sagemaker(tmp_path, monkeypatch):
    monkeypatch.delenv("SM_CHANNEL_TRAIN_DATA", raising=False)
    calls = []
    got = notebook.read_channel(
        lambda p, **kw: calls.append((p, kw)) or "x", "train-data", "a.csv", sep=";"
    )
    assert got == "x" and calls == [("a.csv", {"sep": ";"})]


def test_read_channel_concatenates_the_channel_files(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    (tmp_path / "b.csv").write_text("v\n3\n4\n")
    (tmp_path / "a.csv").write_text("v\n1\n2\n")
    (tmp_path / ".hidden").write_text("not data")
    (tmp_path / "_SUCCESS").write_text("")
    monkeypatch.setenv("SM_CHANNEL_TRAIN_DATA", str(tmp_path))
    frame = notebook.read_channel(pd.read_csv, "train-data", "local.csv")
    assert list(frame["v"]) == [1, 2, 3, 4] and list(frame.index) == [0, 1, 2, 3]

    np = pytest.importorskip("numpy")
    arrays = notebook.read_channel(lambda p: np.array([Path(p).stem]), "train-data", "x")
    assert list(arrays) == ["a", "b"]
    assert notebook.read_channel(lambda p: Path(p).name, "train-data", "x") == ["a.csv", "b.csv"]


def test_read_channel_single_file_and_empty_channel(tmp_path, monkeypatch):
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="channel 'train'"):
        notebook.read_channel(str, "train", "x")
    (tmp_path / "only.txt").write_text("1")
    assert notebook.read_channel(lambda p: Path(p).read_text(), "train", "x") == "1"


def test_read_channel_reads_the_file_of_the_notebooks_name(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("nested")
    (tmp_path / "train.csv").write_text("flat")
    (tmp_path / "test.csv").write_text("other")
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path))
    read = lambda p: Path(p).read_text()  # noqa: E731
    assert notebook.read_channel(read, "train", "data/train.csv") == "nested"
    assert notebook.read_channel(read, "train", "../inputs/train.csv") == "flat"  # its tail
    (tmp_path / "notes.txt").write_text("not a part")
    parts = notebook.read_channel(read, "train", "shards.csv")  # no such name: the .csv parts
    assert sorted(parts) == ["flat", "nested", "other"]


def test_run_await_runs_every_top_level_await_on_one_loop():
    import asyncio

    async def current():
        return asyncio.get_running_loop()

    first = notebook.run_await(current())
    assert notebook.run_await(current()) is first and not first.is_closed()
    first.close()
    assert notebook.run_await(current()) is not first  # a closed loop is replaced


# -- displayed values ------------------------------------------------------------------------


def test_plain_text_is_ipythons_form_and_repr_without_ipython(monkeypatch):
    pytest.importorskip("IPython")
    wide = list(range(40))
    assert "\n" in notebook.plain_text(wide)  # IPython wraps it as Out[n] does; repr does not
    monkeypatch.setitem(sys.modules, "IPython.core.formatters", None)  # import fails
    assert notebook.plain_text(wide) == repr(wide)


def _call_from(module: str, value: object, cell: int) -> None:
    """show_result called by code in `module`, as a converted package's pipeline calls it."""
    exec(
        "show_result(value, cell=cell)",
        {"__name__": module, "show_result": notebook.show_result, "value": value, "cell": cell},
    )


def test_show_result_logs_on_the_calling_package_displayed_logger(caplog, monkeypatch):
    monkeypatch.delenv("NB2SVC_SHOW", raising=False)
    with caplog.at_level(logging.INFO):
        _call_from("churn.pipeline", 42, 3)
        _call_from("churn.pipeline", None, 4)  # None is not shown, as in Jupyter
        _call_from("script", "s", 5)
    got = [(r.name, r.getMessage()) for r in caplog.records]
    assert got == [("churn.displayed", "cell 3: Out: 42"), ("script.displayed", "cell 5: Out: 's'")]


def test_show_result_prints_under_show(capsys, monkeypatch):
    monkeypatch.setenv("NB2SVC_SHOW", "1")
    _call_from("pkg.pipeline", 7, 2)
    _call_from("pkg.pipeline", "a\nb", 3)  # its text form is one line: the quoted repr
    assert capsys.readouterr().out == "Out[cell 2]: 7\nOut[cell 3]: 'a\\nb'\n"
    monkeypatch.setenv("NB2SVC_SHOW", "no")
    _call_from("pkg.pipeline", 7, 2)
    assert capsys.readouterr().out == ""


def test_show_result_prints_multiline_values_on_their_own_lines(capsys, monkeypatch):
    monkeypatch.setenv("NB2SVC_SHOW", "true")
    _call_from("pkg.pipeline", 7, 2)
    _call_from("pkg.pipeline", list(range(40)), 3)
    out = capsys.readouterr().out
    assert out.startswith("Out[cell 2]: 7\nOut[cell 3]:\n")
    assert out.endswith(notebook.plain_text(list(range(40))) + "\n")


def test_show_result_formats_nothing_when_nobody_looks(monkeypatch):
    monkeypatch.delenv("NB2SVC_SHOW", raising=False)
    logging.getLogger("quiet.displayed").setLevel(logging.WARNING)
    monkeypatch.setattr(notebook, "plain_text", lambda v: pytest.fail("formatted"))
    _call_from("quiet.pipeline", 1, 1)


# -- figures ---------------------------------------------------------------------------------


@pytest.fixture()
def pyplot(monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(notebook._Figures, "folder", None)
    monkeypatch.setattr(notebook._Figures, "shown", [])
    monkeypatch.setattr(plt, "show", plt.show)  # end_cell replaces it; restore it after
    yield plt
    plt.close("all")


def test_end_cell_saves_each_cells_figures_and_closes_them(pyplot, tmp_path):
    folder = tmp_path / "figs"
    notebook.save_figures_to(str(folder))
    assert folder.is_dir()
    pyplot.plot([1, 2])
    notebook.end_cell("plot", 3)
    assert sorted(p.name for p in folder.iterdir()) == ["plot-cell3-1.png"]
    assert pyplot.get_fignums() == []
    pyplot.plot([1])
    pyplot.show()  # the inline show: kept, closed; the next plot is a new figure
    assert pyplot.get_fignums() == []
    pyplot.plot([2])
    notebook.end_cell("plot", 4)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["plot-cell3-1.png", "plot-cell4-1.png", "plot-cell4-2.png"]
    assert (folder / "plot-cell4-2.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("order", ["runtime first", "pyplot first", "show imported by name"])
def test_show_is_the_inline_backends_from_the_first_cell_on(order):
    """`plt.show()` mid-cell closes the figures in the first plotting cell too, whether the
    package imported matplotlib before the runtime (a hoisted import) or after (a late one)."""
    pytest.importorskip("matplotlib")
    imports = {
        "runtime first": "import nb2svc_runtime.notebook as nb\nimport matplotlib.pyplot as plt",
        "pyplot first": "import matplotlib.pyplot as plt\nimport nb2svc_runtime.notebook as nb",
        "show imported by name": "import nb2svc_runtime.notebook as nb\n"
        "from matplotlib.pyplot import show\nimport matplotlib.pyplot as plt\n"
        "assert show is plt.show",
    }[order]
    code = (
        f"{imports}\nplt.plot([1])\nplt.show()\nplt.plot([2])\n"
        "print(len(plt.gca().lines), len(plt.get_fignums()))\nnb.end_cell('s', 1)\n"
        "print(len(plt.get_fignums()))"
    )
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "1", "0"]  # as under the inline backend


def test_importing_the_runtime_does_not_import_matplotlib():
    code = "import sys, nb2svc_runtime.notebook\nprint('matplotlib' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


def test_end_cell_without_figures_folder_only_closes(pyplot, tmp_path, monkeypatch):
    pyplot.plot([1])
    notebook.end_cell("s", 1)
    assert pyplot.get_fignums() == [] and not list(tmp_path.iterdir())
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot")
    notebook.end_cell("s", 2)  # matplotlib not imported by the notebook: nothing, no import
    assert "matplotlib.pyplot" not in sys.modules


# -- a converted package imports the helpers from the pinned runtime -------------------------


def test_converted_package_imports_helpers_from_the_pinned_runtime(tmp_path, monkeypatch):
    from notebook2service.convert import convert

    monkeypatch.chdir(tmp_path)
    convert(str(SAMPLES / "magics_and_shell.ipynb"), str(tmp_path / "out"))
    out = tmp_path / "out"
    package = json.loads((out / "nb2svc.json").read_text())["package"]
    assert not (out / package / "_runtime.py").exists()
    pipeline = (out / package / "pipeline.py").read_text()
    assert "from nb2svc_runtime.notebook import end_cell, " in pipeline
    assert "._runtime" not in pipeline
    assert (
        "from nb2svc_runtime.notebook import save_figures_to"
        in (out / package / "__main__.py").read_text()
    )
    pin = f"nb2svc-runtime=={nb2svc_runtime.__version__}"
    assert pin in (out / "requirements.txt").read_text().splitlines()
    assert f'"{pin}"' in (out / "pyproject.toml").read_text()
    manifest = json.loads((out / "nb2svc.json").read_text())
    assert manifest["runtime"]["version"] == nb2svc_runtime.__version__


def test_package_without_helpers_does_not_need_the_runtime(tmp_path, monkeypatch):
    from notebook2service.convert import convert

    nb = tmp_path / "plain.ipynb"
    cells = [
        {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
        for s in ("x = 1", "print(x)")
    ]
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    monkeypatch.chdir(tmp_path)
    convert(str(nb), str(tmp_path / "out"))
    out = tmp_path / "out"
    assert "nb2svc-runtime" not in (out / "requirements.txt").read_text()
    assert "nb2svc_runtime.notebook" not in "".join(p.read_text() for p in out.rglob("*.py"))
