"""Data safety: -o/--force never touches anything but a folder nb2svc wrote; parallel converts.

Every case snapshots the whole tree (paths, bytes, modes, inodes, link counts) before and
after and asserts that nothing outside the output folder changed.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from nbmake import code, notebook, write

from notebook2service.cli import main
from notebook2service.convert import convert
from notebook2service.output import OutputExistsError, check_output_dir


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirs, files in os.walk(root):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirs[:] = []
            continue
        for name in dirs + files:
            p = here / name
            if skip is not None and p == skip:
                continue
            st = p.lstat()
            data = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
            out[str(p.relative_to(root))] = (st.st_mode, st.st_ino, st.st_nlink, data)
    return out


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "proj"
    (d / "data").mkdir(parents=True)
    (d / "data" / "train.csv").write_text("a,b\n1,2\n")
    (d / "notes.txt").write_text("mine\n")
    write(d / "nb.ipynb", notebook(code("import pandas as pd\nx = 1\nprint(x)")))
    (tmp_path / "user_folder").mkdir()
    (tmp_path / "user_folder" / "thesis.tex").write_text("years of work\n")
    monkeypatch.chdir(tmp_path)
    return d


def _refused(capsys: pytest.CaptureFixture, args: list[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.count("\n") == 0, err
    return err


@pytest.mark.parametrize(
    "target",
    ["proj", "proj/data", ".", "..", "user_folder", "proj/nb.ipynb", "proj/notes.txt"],
)
@pytest.mark.parametrize("force", [True, False])
def test_force_never_replaces_what_nb2svc_did_not_write(project, capsys, target, force):
    root = project.parent
    before = snapshot(root)
    args = ["convert", "proj/nb.ipynb", "-o", target] + (["--force"] if force else [])
    err = _refused(capsys, args)
    assert "error" in err
    assert snapshot(root) == before


def test_force_refuses_notebook_ancestors_and_cwd(project, monkeypatch):
    with pytest.raises(OutputExistsError, match="notebook's folder"):
        check_output_dir(project.parent, project / "nb.ipynb", force=True)
    monkeypatch.chdir(project / "data")
    with pytest.raises(OutputExistsError, match="current directory"):
        check_output_dir(project / "data", None, force=True)


def test_force_replaces_a_package_nb2svc_wrote_and_nothing_else(project, capsys):
    root = project.parent
    assert main(["convert", "proj/nb.ipynb", "-o", "pkg"]) in (0, 1)
    assert json.loads((root / "pkg" / "nb2svc.json").read_text())["written"]
    (root / "pkg" / "__pycache__").mkdir(exist_ok=True)
    (root / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"cache")
    before = snapshot(root, skip=root / "pkg")
    assert main(["convert", "proj/nb.ipynb", "-o", "pkg", "--force"]) in (0, 1)
    assert snapshot(root, skip=root / "pkg") == before
    # a user file inside the package: --force refuses instead of deleting it
    (root / "pkg" / "my_results.csv").write_text("precious\n")
    before = snapshot(root)
    err = _refused(capsys, ["convert", "proj/nb.ipynb", "-o", "pkg", "--force"])
    assert "my_results.csv" in err
    assert snapshot(root) == before


def test_a_forged_or_broken_manifest_is_not_ours(project, capsys):
    root = project.parent
    newer = {"package": "x", "nb2svc": "9", "manifest_version": 99}  # cannot say what it wrote
    for text in ("{}", "not json", "[" * 100000, json.dumps({"package": "x"}), json.dumps(newer)):
        (root / "user_folder" / "nb2svc.json").write_text(text)
        before = snapshot(root)
        _refused(capsys, ["convert", "proj/nb.ipynb", "-o", "user_folder", "--force"])
        assert snapshot(root) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_parent(project, capsys):
    ro = project.parent / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        err = _refused(capsys, ["convert", "proj/nb.ipynb", "-o", "ro/pkg"])
        assert "not writable" in err
    finally:
        ro.chmod(0o755)


def test_file_as_output_parent(project, capsys):
    err = _refused(capsys, ["convert", "proj/nb.ipynb", "-o", "proj/notes.txt/pkg"])
    assert "not a folder" in err


def _in_threads(work, n: int = 6) -> None:
    """Run `work` in `n` threads at once, as the JupyterLab server's executor does."""
    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


def test_six_parallel_converts_of_one_notebook(project):
    root = project.parent
    convert(project / "nb.ipynb", root / "pkg")
    before = snapshot(root, skip=root / "pkg")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            convert(project / "nb.ipynb", root / "pkg", force=True)
        except BaseException as exc:  # noqa: BLE001 - recorded and asserted below
            errors.append(exc)

    _in_threads(work)
    assert errors == []
    assert snapshot(root, skip=root / "pkg") == before  # no backup or temp folder left behind
    assert json.loads((root / "pkg" / "nb2svc.json").read_text())["package"] == "nb"


def test_parallel_first_converts_fail_cleanly_without_force(project):
    root = project.parent
    results: list[object] = []

    def work() -> None:
        try:
            results.append(convert(project / "nb.ipynb", root / "new"))
        except OutputExistsError as exc:
            results.append(exc)

    _in_threads(work)
    ok = [r for r in results if not isinstance(r, OutputExistsError)]
    assert len(results) == 6 and len(ok) >= 1
    assert sorted(p.name for p in root.iterdir()) == ["new", "proj", "user_folder"]


# --- lint --fix: only the counts change, on every kind of file --------------------------------

_STALE = (
    '{\n "cells": [\n  {\n   "cell_type": "code",\n   "execution_count": 3,\n'
    '   "metadata": {"big": 1e400, "price": 1.50},\n   "outputs": [\n    {\n'
    '     "data": {"text/plain": ["2"]},\n     "execution_count": 3,\n     "metadata": {},\n'
    '     "output_type": "execute_result"\n    }\n   ],\n   "source": ["x = 1\\n", "x + 1"]\n'
    '  },\n  {\n   "cell_type": "code",\n   "execution_count": 1,\n   "metadata": {},\n'
    '   "outputs": [],\n   "source": ["y = x"]\n  }\n ],\n'
    ' "metadata": {"kernelspec": {"language": "python", "name": "python3"}},\n'
    ' "nbformat": 4,\n "nbformat_minor": 5\n}\n'
)


def _expected(text: str) -> str:
    return text.replace('"execution_count": 3', '"execution_count": null').replace(
        '"execution_count": 1', '"execution_count": null'
    )


@pytest.mark.parametrize("kind", ["plain", "crlf", "bom", "symlink", "hardlink", "mode"])
def test_fix_changes_only_the_counts(tmp_path, capsys, kind):
    text = _STALE.replace("\n", "\r\n") if kind == "crlf" else _STALE
    raw = (b"\xef\xbb\xbf" if kind == "bom" else b"") + text.encode()
    real = tmp_path / "nb.ipynb"
    real.write_bytes(raw)
    real.chmod(0o664 if kind != "mode" else 0o640)
    target = real
    if kind == "symlink":
        target = tmp_path / "link.ipynb"
        target.symlink_to(real)
    if kind == "hardlink":
        os.link(real, tmp_path / "other.ipynb")
    mode = real.stat().st_mode
    before = snapshot(tmp_path, skip=real)
    main(["lint", "--fix", "--no-cache", str(target)])
    capsys.readouterr()
    want = (b"\xef\xbb\xbf" if kind == "bom" else b"") + _expected(text).encode()
    assert real.read_bytes() == want  # CRLF, BOM, 1e400, 1.50 kept: only the counts changed
    assert real.stat().st_mode == mode
    if kind == "symlink":
        assert target.is_symlink() and target.resolve() == real
    if kind == "hardlink":
        assert (tmp_path / "other.ipynb").read_bytes() == want
        assert real.stat().st_nlink == 2
        before.pop("other.ipynb")
    after = snapshot(tmp_path, skip=real)
    after.pop("other.ipynb", None)
    assert after == before  # no temp file left, nothing else touched


@pytest.mark.slow
def test_parallel_converts_in_processes(project):
    import subprocess
    import sys

    root = project.parent
    convert(project / "nb.ipynb", root / "pkg")
    before = snapshot(root, skip=root / "pkg")
    cmd = [sys.executable, "-m", "notebook2service", "convert", "proj/nb.ipynb", "-o", "pkg"]
    procs = [subprocess.Popen([*cmd, "--force"], cwd=root) for _ in range(4)]
    assert [p.wait(timeout=300) for p in procs] == [0] * 4
    assert snapshot(root, skip=root / "pkg") == before
    assert json.loads((root / "pkg" / "nb2svc.json").read_text())["package"] == "nb"
