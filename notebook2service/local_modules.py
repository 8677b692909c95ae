"""Local modules a notebook imports: copied into the package, never written as requirements.

A notebook that runs ``import helpers`` with ``helpers.py`` (or a ``helpers/`` package) next to
it imports *that file*. Writing ``helpers`` into requirements.txt would make ``pip install`` in
the image fetch whatever the public index holds under that name (dependency confusion), so the
file is copied next to the generated package instead, with what it needs, found statically:

- the local modules it imports in turn (transitively);
- files named by string literals in it that exist relative to the notebook's folder
  (``open("lookup.json")``), up to :data:`MAX_FILE_BYTES` each.

Nothing here imports or runs the module: it is read and parsed with :mod:`ast`.

    found = find_local_modules(Path("nb_dir"), ["helpers", "numpy"])
    found.names   # {"helpers"}
    found.files   # {"helpers.py": "<source>", "lookup.json": "<text>"}
    found.errors  # one-line messages when a module cannot be copied
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "LocalModules",
    "find_local_modules",
    "module_file",
    "read_source",
    "Unreadable",
    "MAX_FILE_BYTES",
    "MAX_FILES",
]

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_FILES = 500


@dataclass
class LocalModules:
    names: set[str] = field(default_factory=set)  # top-level import names found locally
    files: dict[str, str] = field(default_factory=dict)  # path (relative to notebook dir) -> text
    errors: list[str] = field(default_factory=list)


class Unreadable(Exception):
    """A local file nb2svc does not read: over the size limit, unreadable or not UTF-8."""


def read_source(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a local file (a module or a data file it names), read once here for
    the package copy and for star imports; raises Unreadable with a one-line reason."""
    try:
        if path.stat().st_size > limit:
            raise Unreadable(f"larger than {limit} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Unreadable(f"cannot be read ({exc.__class__.__name__})") from None


def module_file(root: Path, module: str) -> Path | None:
    """The file (``a/b.py`` or ``a/b/__init__.py``) of a local module under ``root``."""
    if not all(part.isidentifier() for part in module.split(".")):
        return None
    rel = module.replace(".", "/")
    for name in (f"{rel}.py", f"{rel}/__init__.py"):
        if (root / name).is_file():
            return root / name
    return None


def _candidates(root: Path, name: str) -> list[Path]:
    """The files that make up local module ``name`` under ``root`` ([] when it is not local)."""
    single = module_file(root, name)
    if single is not None and single.name != "__init__.py":
        return [single]
    folder = root / name  # a package, with or without __init__.py
    if folder.is_dir() and any(folder.glob("*.py")):
        return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    return []


def _imports_and_strings(tree: ast.AST) -> tuple[set[str], set[str]]:
    modules: set[str] = set()
    strings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if 0 < len(node.value) < 260 and "\n" not in node.value:
                strings.add(node.value)
    return modules, strings


def _read(path: Path, found: LocalModules) -> str | None:
    try:
        return read_source(path)
    except Unreadable as exc:
        found.errors.append(f"{path.name}: {exc}; not copied")
        return None


def _data_file(root: Path, text: str) -> Path | None:
    """The file a string literal names, relative to the notebook folder and inside it."""
    try:
        path = (root / text).resolve()
        if path.is_file() and path.is_relative_to(root) and path.suffix != ".py":
            return path
    except (OSError, ValueError):
        return None
    return None


def _add_module(root: Path, path: Path, found: LocalModules, queue: list[str]) -> None:
    rel = path.relative_to(root).as_posix()
    if rel in found.files or len(found.files) >= MAX_FILES:
        return
    text = _read(path, found)
    if text is None:
        return
    found.files[rel] = text
    try:
        tree = ast.parse(text, filename=rel)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        found.errors.append(f"{rel}: not valid Python; copied, but what it needs is not known")
        return
    modules, strings = _imports_and_strings(tree)
    queue.extend(sorted(modules))
    for s in sorted(strings):
        data = _data_file(root, s)
        if data is not None:
            data_rel = data.relative_to(root).as_posix()
            if data_rel not in found.files:
                body = _read(data, found)
                if body is not None:
                    found.files[data_rel] = body


def find_local_modules(notebook_dir: Path | str | None, modules: Iterable[str]) -> LocalModules:
    """The notebook's local modules (and what they need) among the top-level ``modules``."""
    found = LocalModules()
    if not notebook_dir:
        return found
    root = Path(notebook_dir).resolve()
    if not root.is_dir():
        return found
    queue = [m.split(".")[0] for m in modules if isinstance(m, str) and m and m[0] != "."]
    seen: set[str] = set()
    while queue:
        name = queue.pop(0)
        if name in seen or not name.isidentifier():
            continue
        seen.add(name)
        paths = _candidates(root, name)
        if not paths:
            continue
        found.names.add(name)
        for path in paths:
            _add_module(root, path, found, queue)
    return found


def local_dependencies(
    notebook_dir: Path | str | None, modules: Iterable[str], written: Iterable[str], findings: list
) -> LocalModules:
    """:func:`find_local_modules`, minus files the notebook writes itself, with findings."""
    from .findings import note

    written = set(written)
    own = {Path(t).stem for t in written if str(t).endswith(".py")}
    found = find_local_modules(notebook_dir, [m for m in modules if m not in own])
    for rel in [r for r in found.files if r in written]:
        del found.files[rel]  # %%writefile wins: it is what the notebook ran last
    for name in sorted(found.names):
        message = (
            f"import {name}: a local module next to the notebook; copied into the package, "
            "not written as a requirement"
        )
        findings.append(note("convert", "local-module", "info", message, module=name))
    for message in found.errors:
        findings.append(note("convert", "local-module-not-copied", "error", message))
    return found


def requirement_findings(warnings: Iterable[str]) -> list:
    """Every requirement warning as a finding (none is thrown away)."""
    from .findings import note

    return [note("convert", "requirement", "warning", w) for w in warnings]


def image_environment(context: dict, local: LocalModules) -> dict:
    """The manifest's record of where the image's Python and requirements came from."""
    import sys

    return {
        "python": context.get("python_version"),
        "python_from": context.get("python_from"),
        "requirements_from": sys.executable,
        "local_modules": sorted(local.files),
    }
