"""The CLI and reporters: formats, exit codes, selection, configuration, suppression, --fix."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from nbmake import code, notebook, write

from notebook2service.cli import main

HIDDEN = notebook(("a = 1", 1), ("b = a + missing", 4), ("c = b", 2))


@pytest.fixture
def nbfile(tmp_path):
    return write(tmp_path / "hidden.ipynb", HIDDEN)


def run(capsys, *argv):
    code_ = main(list(argv))
    out, err = capsys.readouterr()
    return code_, out, err


def test_text_format_like_ruff(nbfile, capsys):
    rc, out, _ = run(capsys, "lint", "--no-cache", str(nbfile))
    assert rc == 1
    assert f"{nbfile}:cell 2:1:9: NB104 `missing` is defined in no cell" in out
    assert f"{nbfile}:cell 3:1:1: NB101 [*] cell 3 (In[2]) ran before cell 2 (In[4])" in out
    assert "Found 3 findings" in out and "fixable with the `--fix` option" in out


def test_exit_codes(tmp_path, nbfile, capsys):
    clean = write(tmp_path / "clean.ipynb", notebook("x = 1", "print(x)"))
    assert run(capsys, "lint", "--no-cache", str(clean))[0] == 0
    assert run(capsys, "lint", "--no-cache", "--exit-zero", str(nbfile))[0] == 0
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    rc, _, err = run(capsys, "lint", "--no-cache", str(bad))
    assert rc == 2 and err.count("\n") == 1 and "invalid JSON" in err and str(bad) in err
    assert run(capsys, "lint", "--no-cache", str(tmp_path / "nope.ipynb"))[0] == 2
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--select", "XX9"])
    assert exc.value.code == 2


def test_info_findings_do_not_fail_by_default(tmp_path, capsys):
    f = write(tmp_path / "gap.ipynb", notebook(("a = 1", 1), ("b = a", 3)))
    rc, out, _ = run(capsys, "lint", "--no-cache", str(f))
    assert rc == 0 and "NB105" in out
    assert run(capsys, "lint", "--no-cache", "--fail-on", "info", str(f))[0] == 1


def test_folders_are_recursive_and_skip_checkpoints(tmp_path, capsys):
    (tmp_path / "sub" / ".ipynb_checkpoints").mkdir(parents=True)
    write(tmp_path / "sub" / "a.ipynb", notebook("print(undefined_a)"))
    write(
        tmp_path / "sub" / ".ipynb_checkpoints" / "a-checkpoint.ipynb",
        notebook("print(undefined_b)"),
    )
    rc, out, _ = run(capsys, "lint", "--no-cache", str(tmp_path))
    assert "undefined_a" in out and "undefined_b" not in out and rc == 1


def test_json_format(nbfile, capsys):
    rc, out, _ = run(capsys, "lint", "--no-cache", "--format", "json", str(nbfile))
    items = json.loads(out)
    assert rc == 1 and len(items) == 3
    d = next(i for i in items if i["code"] == "NB104")
    assert d["kind"] == "hidden-state" and d["severity"] == "error"
    assert d["cell"] == {"index": 2, "id": "cell-1", "execution_count": 4}
    assert (d["line"], d["column"]) == (1, 9) and d["path"] == str(nbfile)


def test_sarif_format(nbfile, capsys):
    _, out, _ = run(capsys, "lint", "--no-cache", "--format", "sarif", str(nbfile))
    doc = json.loads(out)
    assert doc["version"] == "2.1.0"
    run_ = doc["runs"][0]
    ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    res = next(r for r in run_["results"] if r["ruleId"] == "NB104")
    assert ids[res["ruleIndex"]] == "NB104" and res["level"] == "error"
    assert res["properties"]["cell"]["index"] == 2
    assert res["locations"][0]["logicalLocations"][0]["name"] == "cell 2"
    line = res["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert "missing" in nbfile.read_text().splitlines()[line - 1]


def test_github_annotations_land_on_the_cell_line_in_the_ipynb(tmp_path, capsys):
    nb = notebook("x = 1\ny = 2", "z = 3\nprint(ghost)\n")
    f = write(tmp_path / "g.ipynb", nb)
    _, out, _ = run(capsys, "lint", "--no-cache", "--format", "github", str(f))
    (line,) = [ln for ln in out.splitlines() if "NB104" in ln]
    assert line.startswith(f"::error file={f},line=")
    file_line = int(line.split("line=")[1].split(",")[0])
    assert "print(ghost)" in f.read_text().splitlines()[file_line - 1]
    assert "(cell 2:2:7)" in line


def test_select_and_ignore_by_code_or_prefix(nbfile, capsys):
    _, out, _ = run(
        capsys, "lint", "--no-cache", "--select", "NB1", "--ignore", "NB104,NB105", str(nbfile)
    )
    assert "NB101" in out and "NB104" not in out
    _, out, _ = run(capsys, "lint", "--no-cache", "--select", "NB2", str(nbfile))
    assert "All checks passed" in out


def test_pyproject_configuration_nearest_wins(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text('[tool.nb2svc]\nignore = ["NB104"]\n')
    sub = tmp_path / "team"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[tool.nb2svc]\nselect = ["NB104"]\n')
    write(tmp_path / "top.ipynb", HIDDEN)
    write(sub / "inner.ipynb", HIDDEN)
    _, out, _ = run(capsys, "lint", "--no-cache", str(tmp_path))
    top = [ln for ln in out.splitlines() if "top.ipynb" in ln]
    inner = [ln for ln in out.splitlines() if "inner.ipynb" in ln]
    assert top and not any("NB104" in ln for ln in top)
    assert inner and all("NB104" in ln for ln in inner)
    _, out, _ = run(capsys, "lint", "--no-cache", "--isolated", str(tmp_path / "top.ipynb"))
    assert "NB104" in out


def test_bad_configuration_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text('[tool.nb2svc]\nselekt = ["NB1"]\n')
    f = write(tmp_path / "a.ipynb", HIDDEN)
    rc, _, err = run(capsys, "lint", "--no-cache", str(f))
    assert rc == 2 and "selekt" in err and "Traceback" not in err


def test_noqa_line_and_cell(tmp_path, capsys):
    nb = notebook(
        "print(ghost)  # noqa: NB104",
        "print(ghost2)  # noqa",
        "# nb2svc: noqa NB104\nprint(ghost3)\nprint(ghost4)",
        "print(ghost5)  # noqa: NB201",
        "# nb2svc: noqa\n!ls\nprint(ghost6)",
    )
    f = write(tmp_path / "q.ipynb", nb)
    _, out, _ = run(capsys, "lint", "--no-cache", str(f))
    assert [
        g for g in ("ghost", "ghost2", "ghost3", "ghost4", "ghost5", "ghost6") if f"`{g}`" in out
    ] == ["ghost5"]


def test_fix_clears_stale_counts_only_when_asked(nbfile, capsys):
    before = nbfile.read_text()
    run(capsys, "lint", "--no-cache", str(nbfile))
    assert nbfile.read_text() == before  # never modified without --fix
    rc, out, _ = run(capsys, "lint", "--fix", str(nbfile))
    assert "Fixed 1 finding" in out and "NB101" not in out
    data = json.loads(nbfile.read_text())
    assert [c["execution_count"] for c in data["cells"]] == [None, None, None]
    assert [c["source"] for c in data["cells"]] == [
        c["source"] for c in json.loads(before)["cells"]
    ]
    assert rc == 1  # the undefined name is still there


def test_non_python_kernel_is_skipped(tmp_path, capsys):
    f = write(tmp_path / "r.ipynb", notebook("x <- c(1, 2)", language="R"))
    rc, out, err = run(capsys, "lint", "--no-cache", str(f))
    assert rc == 0 and "skipped" in err and "R" in err


def test_cache_gives_same_results(tmp_path, nbfile, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _, cold, _ = run(capsys, "lint", "--format", "json", str(nbfile))
    assert (tmp_path / ".nb2svc_cache" / ".gitignore").exists()
    _, warm, _ = run(capsys, "lint", "--format", "json", str(nbfile))
    assert json.loads(cold) == json.loads(warm)


def test_parallel_matches_serial(tmp_path, capsys):
    for i in range(12):
        write(tmp_path / f"n{i:02}.ipynb", notebook(("a = 1", 1), (f"b = a + x{i}", 3)))
    _, one, _ = run(capsys, "lint", "--no-cache", "-j", "1", "--format", "json", str(tmp_path))
    _, two, _ = run(capsys, "lint", "--no-cache", "-j", "2", "--format", "json", str(tmp_path))
    assert json.loads(one) == json.loads(two) and len(json.loads(one)) == 24


def test_rules_command_lists_codes(capsys):
    rc, out, _ = run(capsys, "rules")
    assert rc == 0 and "NB101" in out and "NB301" in out


def test_console_script_runs_as_module(nbfile):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "notebook2service",
            "lint",
            "--no-cache",
            "--format",
            "json",
            str(nbfile),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and json.loads(proc.stdout)


def test_library_api_on_memory_and_paths(nbfile):
    from notebook2service import NotebookError, lint

    assert (
        {d.code for d in lint(HIDDEN)}
        == {d.code for d in lint(nbfile)}
        == {"NB101", "NB104", "NB105"}
    )
    import nbformat

    node = nbformat.from_dict(HIDDEN)
    assert len(lint(node)) == 3
    assert len(lint(json.dumps(HIDDEN))) == 3
    assert len(lint([str(nbfile)], select=["NB104"])) == 1
    with pytest.raises(NotebookError):
        lint(Path(nbfile).with_name("missing.ipynb"))


def test_v3_notebook_is_upgraded(tmp_path):
    from notebook2service import lint

    v3 = {
        "metadata": {"name": ""},
        "nbformat": 3,
        "nbformat_minor": 0,
        "worksheets": [
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "input": "y = x + 1",
                        "language": "python",
                        "outputs": [],
                        "prompt_number": 2,
                        "metadata": {},
                    },
                ],
                "metadata": {},
            }
        ],
    }
    f = tmp_path / "v3.ipynb"
    f.write_text(json.dumps(v3))
    (d,) = lint(f, select=["NB104"])
    assert d.code == "NB104" and d.cell.execution_count == 2 and "In[1]" in d.message


def test_code_helper_is_used(tmp_path):
    assert code("x")["cell_type"] == "code"
