"""Cell run provenance (NB109, NB110), the code digest, and `nb2svc check-converted`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbmake import code, notebook, write

from notebook2service import lint
from notebook2service.cli import main
from notebook2service.provenance import cell_record, code_sha256, file_sha256, source_sha256
from notebook2service.staleness import check_converted, regenerate_command

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"


def ran(source, count, session="s1", at="2026-11-25T10:00:00.000Z", ran_source=None):
    """A code cell that ran `ran_source` (default: its current source) in kernel `session`."""
    record = cell_record(ran_source if ran_source is not None else source, session, count, at)
    return code(source, count, metadata={"nb2svc": record})


def codes_at(nb, *codes):
    return [(d.code, d.cell.index) for d in lint(nb, config=False) if d.code in codes]


# ---- hashing -----------------------------------------------------------------------------
def test_source_hash_is_sha256_of_normalized_source():
    assert source_sha256("a = 1\nb = 2") == hashlib.sha256(b"a = 1\nb = 2").hexdigest()
    assert source_sha256("a = 1\r\nb = 2") == source_sha256(["a = 1\n", "b = 2"])
    assert source_sha256("é") == hashlib.sha256("é".encode()).hexdigest()


def test_code_digest_ignores_outputs_counts_metadata_and_markdown():
    base = notebook(("x = 1", 1), ("print(x)", 2))
    other = notebook(
        ("x = 1", 7, [{"output_type": "stream", "name": "stdout", "text": "1\n"}]),
        code("print(x)", 9, metadata={"tags": ["x"]}),
    )
    other["cells"].insert(1, {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# T"})
    assert code_sha256(base) == code_sha256(other)
    assert code_sha256(base) != code_sha256(notebook("x = 2", "print(x)"))
    # cell boundaries count: the same text split differently is other code
    assert code_sha256(notebook("a = 1", "b = 2")) != code_sha256(notebook("a = 1b = 2"))


# ---- NB109 -------------------------------------------------------------------------------
def test_nb109_cell_edited_after_it_ran():
    nb = notebook(ran("x = 1", 1), ran("y = x * 3", 2, ran_source="y = x * 2"))
    found = [d for d in lint(nb, config=False) if d.code == "NB109"]
    assert [(d.cell.index, d.line, d.severity, d.kind) for d in found] == [
        (2, 1, "warning", "hidden-state")
    ]
    assert "cell 2 (In[2]) was edited after it ran" in found[0].message


def test_nb109_not_when_source_matches_or_record_is_for_another_run():
    assert codes_at(notebook(ran("x = 1", 1), ran("y = x", 2)), "NB109", "NB110") == []
    # run again by a frontend without the extension: the record's count is stale, so it
    # says nothing about the saved output
    cell = ran("y = x * 3", 2, ran_source="y = x * 2")
    cell["execution_count"] = 5
    assert codes_at(notebook(ran("x = 1", 1), cell), "NB109") == []
    # cleared outputs: nothing ran
    cell = ran("y = 3", 2, ran_source="y = 2")
    cell["execution_count"] = None
    assert codes_at(notebook(cell), "NB109") == []
    # malformed records are ignored
    bad = code("x = 1", 1, metadata={"nb2svc": {"source_sha256": 3}})
    worse = code("x = 1", 2, metadata={"nb2svc": "yes"})
    assert codes_at(notebook(bad, worse), "NB109", "NB110") == []


def test_nb109_can_be_suppressed_and_deselected():
    nb = notebook(ran("y = 3  # nb2svc: noqa NB109", 1, ran_source="y = 2"))
    assert codes_at(nb, "NB109") == []
    nb = notebook(ran("y = 3", 1, ran_source="y = 2"))
    assert [d for d in lint(nb, config=False, ignore=["NB109"]) if d.code == "NB109"] == []


# ---- NB110 -------------------------------------------------------------------------------
def test_nb110_output_from_an_earlier_kernel_session():
    nb = notebook(
        ran("x = 1", 1, "old", "2026-11-25T10:00:00.000Z"),
        ran("y = 2", 2, "old", "2026-11-25T10:00:01.000Z"),
        # kernel restarted; only the first and last cells were run again
        ran("x = 1", 1, "new", "2026-11-25T11:00:00.000Z"),
        ran("z = x", 2, "new", "2026-11-25T11:00:01.000Z"),
    )
    found = [d for d in lint(nb, config=False) if d.code == "NB110"]
    assert [d.cell.index for d in found] == [1, 2]
    assert found[0].related == (4,) and "earlier kernel session" in found[0].message


def test_nb110_latest_run_is_by_time_not_by_count():
    # the new session's counts are smaller than the old session's
    nb = notebook(
        ran("a = 1", 1, "new", "2026-11-25T11:00:00.000Z"),
        ran("b = 2", 14, "old", "2026-11-25T10:00:00.000Z"),
    )
    assert codes_at(nb, "NB110") == [("NB110", 2)]


def test_nb110_not_within_one_session_or_without_session():
    assert codes_at(notebook(ran("a = 1", 1), ran("b = 2", 2)), "NB110") == []
    nb = notebook(ran("a = 1", 1, None), ran("b = 2", 2, "s"))
    assert codes_at(nb, "NB110") == []


def test_notebooks_without_records_are_unaffected():
    before = lint(SAMPLES / "hidden_state.ipynb", config=False)
    assert not [d for d in before if d.code in ("NB109", "NB110")]


# ---- check-converted ---------------------------------------------------------------------
def _manifest(folder: Path, nb_path: Path, **extra) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"package": "demo", "notebook": nb_path.name, **extra}
    (folder / "nb2svc.json").write_text(json.dumps(data))
    return folder / "nb2svc.json"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q", "."], check=True)
    (tmp_path / "nbs").mkdir()
    nb = write(tmp_path / "nbs" / "demo.ipynb", notebook(("x = 1", 1), ("print(x)", 2)))
    return tmp_path, nb


def test_check_converted_fresh_then_stale_on_code_not_on_outputs(repo, capsys):
    root, nb = repo
    _manifest(
        root / "svc" / "demo", nb, code_sha256=code_sha256(nb), notebook_path="../../nbs/demo.ipynb"
    )
    (status,) = check_converted()
    assert status.state == "fresh" and status.compared == "code_sha256"
    # re-run: new counts and outputs, same code -> still fresh
    data = json.loads(nb.read_text())
    data["cells"][0]["execution_count"] = 5
    data["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]
    nb.write_text(json.dumps(data))
    assert check_converted()[0].state == "fresh"
    # code edit -> stale, naming the notebook and the command
    data["cells"][1]["source"] = ["print(x + 1)"]
    nb.write_text(json.dumps(data))
    assert main(["check-converted"]) == 1
    out = capsys.readouterr().out
    assert "nbs/demo.ipynb" in out
    assert "nb2svc convert nbs/demo.ipynb -o svc/demo --force" in out


def test_check_converted_falls_back_to_file_hash_and_name_search(repo):
    root, nb = repo
    _manifest(root / "build" / "demo", nb, notebook_sha256=file_sha256(nb))
    (status,) = check_converted()
    assert status.state == "fresh" and status.compared == "notebook_sha256"
    assert status.notebook == "nbs/demo.ipynb"
    nb.write_text(nb.read_text().replace('"execution_count": 2', '"execution_count": 3'))
    assert check_converted()[0].state == "stale"


def test_check_converted_given_notebooks_checks_their_packages_only(repo):
    root, nb = repo
    other = write(root / "other.ipynb", notebook("y = 2"))
    _manifest(root / "svc" / "demo", nb, code_sha256="0" * 64)
    _manifest(root / "svc" / "other", other, code_sha256=code_sha256(other))
    assert [s.state for s in check_converted(["other.ipynb"])] == ["fresh"]
    assert [s.state for s in check_converted(["nbs/demo.ipynb"])] == ["stale"]
    assert check_converted(["nbs"]) == []  # a folder without packages
    assert sorted(s.state for s in check_converted(["svc"])) == ["fresh", "stale"]


def test_check_converted_missing_notebook_and_bad_manifest(repo, capsys):
    root, nb = repo
    _manifest(root / "svc" / "gone", root / "gone.ipynb", code_sha256="0" * 64)
    assert check_converted()[0].state == "missing"
    assert main(["check-converted"]) == 1
    (root / "svc" / "gone" / "nb2svc.json").write_text("{")
    assert main(["check-converted", "svc/gone/nb2svc.json"]) == 2


def test_check_converted_respects_gitignore(repo):
    root, nb = repo
    _manifest(root / "build" / "demo", nb, code_sha256="0" * 64)
    (root / ".gitignore").write_text("build/\n")
    assert check_converted() == []
    assert [s.state for s in check_converted(["build"])] == ["stale"]


def test_regenerate_command_names_a_custom_package():
    assert (
        regenerate_command("a/My NB.ipynb", "out", "my_nb")
        == "nb2svc convert 'a/My NB.ipynb' -o out --force"
    )
    assert (
        regenerate_command("a/x.ipynb", "out", "svc")
        == "nb2svc convert a/x.ipynb -o out --name svc --force"
    )


def test_check_converted_against_a_real_conversion(tmp_path, monkeypatch):
    from notebook2service.convert import convert

    monkeypatch.chdir(tmp_path)
    nb = write(tmp_path / "demo.ipynb", notebook(("x = 1", 1), ("print(x)", 2)))
    convert(nb, tmp_path / "svc", force=True)
    assert [s.state for s in check_converted(["demo.ipynb"])] == ["fresh"]
    nb.write_text(nb.read_text().replace("print(x)", "print(x * 2)"))
    assert [s.state for s in check_converted(["demo.ipynb"])] == ["stale"]


def test_cli_check_converted_json(repo, capsys):
    root, nb = repo
    _manifest(root / "svc" / "demo", nb, code_sha256=code_sha256(nb))
    assert main(["check-converted", "--format", "json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["state"] == "fresh" and item["notebook"] == "nbs/demo.ipynb"


def test_lint_path_imports_stay_small():
    # the provenance rule must not pull hashlib/OpenSSL or nbformat onto the lint path
    code_ = (
        "import sys, notebook2service.cli as c; c.main(['lint', '--no-cache', '-q', sys.argv[1]]);"
        "print(sorted(m for m in ('hashlib', 'nbformat', 'libcst', '_hashlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code_, str(SAMPLES / "churn_classification.ipynb")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
