"""The pre-commit hooks, run by the real `pre-commit try-repo` against a temporary git repo.

pre-commit installs the hook repository into a virtualenv of its own with pip. To keep the
test offline, pip gets no index and no build isolation, and the packages it would download
(hatchling, nbformat, ...) come from this interpreter's site-packages via PYTHONPATH; the hook
repository is a fresh git copy of this source tree (its working-tree state, committed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_notebooks"

pytest.importorskip("pre_commit", reason="pre-commit is not installed")
pytest.importorskip("hatchling", reason="hatchling is needed to install the hook offline")
if shutil.which("git") is None:  # pragma: no cover
    pytest.skip("git is not installed", allow_module_level=True)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV}
    )


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("hookrepo")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "notebook2service", repo / "notebook2service", ignore=ignore)
    shutil.copytree(ROOT / "templates", repo / "templates", ignore=ignore)
    git(repo, "init", "-q", ".")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "hooks")
    return repo


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    return {
        **os.environ,
        **GIT_ENV,
        "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling for "do not isolate the build"
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONPATH": os.pathsep.join(paths),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    }


@pytest.fixture
def work(tmp_path) -> Path:
    from notebook2service.convert import convert

    shutil.copy(SAMPLES / "churn_classification.ipynb", tmp_path / "clean.ipynb")
    shutil.copy(SAMPLES / "hidden_state.ipynb", tmp_path / "hidden.ipynb")
    (tmp_path / "pyproject.toml").write_text('[tool.nb2svc]\nignore = ["NB105"]\n')
    convert(tmp_path / "clean.ipynb", tmp_path / "svc" / "clean", force=True)
    git(tmp_path, "init", "-q", ".")
    git(tmp_path, "add", "-A")
    return tmp_path


def try_repo(work: Path, hook_repo: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), *args, "--verbose"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_hooks_manifest_declares_both_hooks():
    import yaml  # pre-commit depends on PyYAML

    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"nb2svc-lint", "nb2svc-check-converted"}
    assert hooks["nb2svc-lint"]["types"] == ["jupyter"]
    assert hooks["nb2svc-lint"]["entry"].split()[:2] == ["nb2svc", "lint"]
    assert hooks["nb2svc-check-converted"]["entry"].split()[:2] == ["nb2svc", "check-converted"]


def test_clean_notebook_passes_both_hooks(work, hook_repo, env):
    r = try_repo(work, hook_repo, env, "--files", "clean.ipynb")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "nb2svc lint" in out and "nb2svc check-converted" in out
    assert out.count("Passed") == 2, out


def test_hidden_state_notebook_fails_on_the_right_cell(work, hook_repo, env):
    r = try_repo(work, hook_repo, env, "nb2svc-lint", "--files", "hidden.ipynb")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "Failed" in out
    # the cell that reads a name from a deleted cell, the one that reads a later definition
    assert "hidden.ipynb:cell 6:2:39: NB104" in out
    assert "hidden.ipynb:cell 8:1:14: NB103" in out
    assert "NB105" not in out  # [tool.nb2svc] ignore is honoured
    assert "clean.ipynb" not in out


def test_stale_package_fails_naming_notebook_and_command(work, hook_repo, env):
    nb = json.loads((work / "clean.ipynb").read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    first["source"] = "".join(first["source"]) + "\nEXTRA = 1\n"
    (work / "clean.ipynb").write_text(json.dumps(nb, indent=1))
    git(work, "add", "-A")
    r = try_repo(work, hook_repo, env, "nb2svc-check-converted", "--files", "clean.ipynb")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "svc/clean/nb2svc.json" in out and "clean.ipynb" in out
    assert "nb2svc convert clean.ipynb -o svc/clean --force" in out


def test_lint_of_one_notebook_is_under_150_ms_of_nb2svc_time(tmp_path):
    """The hook runs `nb2svc lint FILE`: its CPU time beyond a bare interpreter, best of 5.

    CPU time (user + system of the child) rather than wall time, so that other work on the
    machine does not decide the result.
    """
    import resource

    nb = tmp_path / "one.ipynb"
    shutil.copy(SAMPLES / "churn_classification.ipynb", nb)
    # as in an installed hook: byte-compiled modules (a warm-up run writes them if needed)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def best(cmd: list[str]) -> float:
        subprocess.run(cmd, cwd=tmp_path, capture_output=True, check=False, env=env)
        times = []
        for _ in range(5):
            start = cpu()
            subprocess.run(cmd, cwd=tmp_path, capture_output=True, check=False, env=env)
            times.append(cpu() - start)
        return min(times)

    bare = best([sys.executable, "-c", "pass"])
    lint = best([sys.executable, "-m", "notebook2service", "lint", "--exit-zero", str(nb)])
    assert lint - bare < 0.150, (lint, bare)
