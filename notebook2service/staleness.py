"""`nb2svc check-converted`: is each converted package still made from its notebook's code?

A converted package's manifest (``nb2svc.json``) records what it was made from:
``code_sha256`` (the code cells' sources, ``provenance.code_sha256``) and ``notebook_sha256``
(the file's bytes; used only when a manifest predates ``code_sha256``, so such a manifest also
goes stale on output-only changes). The notebook is found from the manifest's ``notebook_path``
(relative to the manifest's folder) or, for older manifests, by its file ``notebook`` name
somewhere in the repository.

Manifests are found in the paths given (a ``nb2svc.json``, a folder to search, or a notebook:
then every manifest in the repository made from that notebook is checked), or in the whole
repository when no path is given (files git tracks or does not ignore; a plain folder walk
outside git).
"""

from __future__ import annotations

import json
import keyword
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .manifest import FILENAME, Manifest, ManifestError, runtime_version
from .notebook import walk_files
from .provenance import code_sha256, file_sha256

_SKIP_DIRS = {
    "node_modules",
    "__pycache__",
    "venv",
    ".venv",
    "env",
    "site-packages",
    ".ipynb_checkpoints",
}


@dataclass
class Status:
    manifest: str  # path of the nb2svc.json, relative to the working folder when possible
    state: str  # fresh | stale | missing | invalid
    notebook: str | None = None
    command: str | None = None  # regenerates the package
    message: str = ""
    compared: str = ""  # code_sha256 | notebook_sha256
    candidates: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == "fresh"

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "candidates"}


def _rel(path: str | Path, base: Path) -> str:
    p = Path(os.path.abspath(path))
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return p.as_posix()


def _walk(root: Path, want: callable) -> list[Path]:  # type: ignore[valid-type]
    return sorted(Path(f) for f in walk_files(root, want, _SKIP_DIRS))


def _repo_files(root: Path) -> list[Path] | None:
    """Files git tracks or would track under root (None outside a git work tree)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return sorted({root / p for p in out.decode("utf-8", "replace").split("\0") if p})


class _Repo:
    """The files of the repository around the working folder, listed once."""

    def __init__(self, root: Path):
        self.root = root
        self._files: list[Path] | None = None

    @property
    def files(self) -> list[Path]:
        if self._files is None:
            listed = _repo_files(self.root)
            if listed is None:
                listed = _walk(self.root, lambda n: n == FILENAME or n.endswith(".ipynb"))
            self._files = [p for p in listed if ".ipynb_checkpoints" not in p.parts]
        return self._files

    def manifests(self) -> list[Path]:
        return [p for p in self.files if p.name == FILENAME and p.is_file()]

    def notebooks_named(self, name: str) -> list[Path]:
        return [p for p in self.files if p.name == name and p.is_file()]


def _default_package(stem: str) -> str:
    candidate = re.sub(r"\W+", "_", stem).strip("_").lower() or "notebook"
    if candidate[0].isdigit():
        candidate = "nb_" + candidate
    if (
        candidate in sys.stdlib_module_names
        or candidate in ("test", "tests")
        or keyword.iskeyword(candidate)  # `class.ipynb`: `from class import` is a SyntaxError
    ):
        candidate += "_pipeline"
    return candidate


def regenerate_command(notebook: str, out_dir: str, package: str | None) -> str:
    parts = ["nb2svc", "convert", notebook, "-o", out_dir]
    if package and package != _default_package(Path(notebook).stem):
        parts += ["--name", package]
    parts.append("--force")
    return shlex.join(parts)


def _notebook_for(
    manifest_path: Path, data: Manifest, repo: _Repo
) -> tuple[Path | None, list[Path]]:
    rel = data.notebook_path
    if isinstance(rel, str) and rel:
        p = (manifest_path.parent / rel).resolve()
        if p.is_file():
            return p, [p]
    name = data.notebook
    if not isinstance(name, str) or not name or name.startswith("<"):
        return None, []
    candidates = repo.notebooks_named(Path(name).name)
    if len(candidates) <= 1:
        return (candidates[0] if candidates else None), candidates

    # several notebooks with that name: the one nearest to the manifest's folder
    def distance(p: Path) -> tuple[int, str]:
        common = os.path.commonpath([p.resolve(), manifest_path.parent.resolve()])
        steps = len(p.resolve().relative_to(common).parts) + len(
            manifest_path.parent.resolve().relative_to(common).parts
        )
        return steps, p.as_posix()

    candidates.sort(key=distance)
    return candidates[0], candidates


def check_manifest(manifest_path: str | Path, repo: _Repo | None = None) -> Status:
    """The state of one converted package."""
    cwd = Path.cwd().resolve()
    manifest_path = Path(manifest_path).resolve()
    repo = repo or _Repo(cwd)
    shown = _rel(manifest_path, cwd)
    try:
        data = Manifest.read(manifest_path)
    except ManifestError as exc:
        return Status(shown, "invalid", message=f"cannot read the manifest: {exc}")
    out_dir = _rel(manifest_path.parent, cwd)
    package = data.package
    notebook, candidates = _notebook_for(manifest_path, data, repo)
    if notebook is None:
        name = data.notebook
        return Status(
            shown,
            "missing",
            message=f"the notebook it was converted from ({name!r}) is not in the repository; "
            "convert the notebook again or delete the package",
        )
    nb_shown = _rel(notebook, cwd)
    command = regenerate_command(nb_shown, out_dir, package)
    status = Status(
        shown,
        "fresh",
        notebook=nb_shown,
        command=command,
        candidates=[_rel(c, cwd) for c in candidates],
    )
    try:
        if isinstance(data.code_sha256, str):
            status.compared = "code_sha256"
            same = code_sha256(notebook) == data.code_sha256
        elif isinstance(data.notebook_sha256, str):
            status.compared = "notebook_sha256"
            same = file_sha256(notebook) == data.notebook_sha256
        else:
            return Status(
                shown, "invalid", nb_shown, command, "the manifest records no notebook hash"
            )
    except Exception as exc:  # a notebook that does not load is also a stale package
        status.state = "stale"
        status.message = f"{nb_shown} cannot be read ({exc}); fix it, then run: {command}"
        return status
    if not same:
        status.state = "stale"
        what = "code" if status.compared == "code_sha256" else "file"
        status.message = (
            f"{out_dir} is stale: the {what} of {nb_shown} changed since it was converted; "
            f"regenerate it with: {command}"
        )
        return status
    return _check_runtime(status, data, out_dir)


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))


def _check_runtime(status: Status, data: Manifest, out_dir: str) -> Status:
    """A package built against an older nb2svc-runtime than the installed one is stale."""

    entry, current = data.runtime, runtime_version()
    built = entry.get("version") if isinstance(entry, dict) else entry
    if not isinstance(built, str) or current is None:
        return status
    if _version_key(built) < _version_key(current):
        status.state = "stale"
        status.message = (
            f"{out_dir} was built against nb2svc-runtime {built}, {current} is current; "
            f"upgrade it with: {status.command}  (or pin nb2svc-runtime=={current} in "
            f"{out_dir}/requirements.txt)"
        )
    return status


def _manifests_in(paths: Iterable[str], repo: _Repo) -> tuple[list[Path], list[Status]]:
    manifests: list[Path] = []
    problems: list[Status] = []
    notebooks: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            manifests.extend(_walk(p, lambda n: n == FILENAME))
        elif p.name == FILENAME and p.is_file():
            manifests.append(p)
        elif p.suffix == ".ipynb" and p.is_file():
            notebooks.add(p.resolve())
        elif not p.exists():
            problems.append(Status(raw, "invalid", message="no such file or directory"))
    if notebooks:
        for m in repo.manifests():
            try:
                data = Manifest.read(m)
            except ManifestError:
                continue
            nb, candidates = _notebook_for(m.resolve(), data, repo)
            if nb is not None and nb.resolve() in notebooks:
                manifests.append(m)
    return manifests, problems


def check_converted(paths: Sequence[str] | None = None) -> list[Status]:
    """Check the converted packages named by ``paths`` (see the module docstring)."""
    repo = _Repo(Path.cwd().resolve())
    if paths:
        manifests, statuses = _manifests_in(paths, repo)
    else:
        manifests, statuses = repo.manifests(), []
    seen: set[Path] = set()
    for m in manifests:
        key = m.resolve()
        if key in seen:
            continue
        seen.add(key)
        statuses.append(check_manifest(m, repo))
    return statuses


def main(paths: Sequence[str], fmt: str = "text", quiet: bool = False) -> int:
    """The CLI: 0 when every package is fresh, 1 when one is stale or orphaned, 2 on errors."""
    statuses = check_converted(paths)
    if fmt == "json":
        print(json.dumps([s.to_dict() for s in statuses], indent=2))
    else:
        for s in statuses:
            if s.state == "fresh":
                if not quiet:
                    print(f"{s.manifest}: up to date with {s.notebook}")
            elif s.state == "stale":
                print(f"{s.manifest}: {s.message}")
            else:
                print(f"{s.manifest}: {s.state}: {s.message}", file=sys.stderr)
        bad = [s for s in statuses if not s.ok]
        if not quiet or bad:
            n = len(statuses)
            print(
                f"{n} converted package{'s' if n != 1 else ''} checked, {len(bad)} stale or broken"
            )
    if any(s.state == "invalid" for s in statuses):
        return 2
    return 1 if any(s.state in ("stale", "missing") for s in statuses) else 0
