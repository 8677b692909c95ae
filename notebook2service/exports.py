"""What ``from module import *`` binds, for a local module, read statically.

A notebook that runs ``from preamble import *`` with ``preamble.py`` next to it (or a file an
earlier cell wrote with ``%%writefile``) gets the names that module exports: its literal
``__all__``, else its public top-level bindings, following its own star imports of local
modules (a cycle is followed once, at most :data:`MAX_DEPTH` deep). The source is parsed with
:mod:`ast`, never imported or run; a file over :data:`MAX_MODULE_BYTES` is not read.

    stars = StarResolver(Path("nb_dir"), written={"server.py": "<text>"})
    ex = stars("preamble")
    ex.names    # {"np": "numpy", "helper": "preamble.helper", ...}: local name -> qualified
    ex.reason   # None when every name is known, else why not (one line)
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .local_modules import Unreadable, module_file, read_source

__all__ = [
    "Exports",
    "StarResolver",
    "MAX_DEPTH",
    "MAX_MODULE_BYTES",
    "exports_of",
    "target_names",
]

MAX_MODULE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 8


@dataclass
class Exports:
    names: dict[str, str] = field(default_factory=dict)  # local name -> qualified name
    reason: str | None = None  # why the names may be incomplete (None: they are all known)


_BLOCKS = (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)


def _top_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, into if/try/with/for/while blocks (not into def/class)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, _BLOCKS) or stmt.__class__.__name__ in ("TryStar", "Match"):
            for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                for sub in getattr(stmt, name, None) or ():
                    inner = getattr(sub, "body", None)
                    if isinstance(sub, ast.stmt):
                        yield from _top_statements([sub])
                    elif inner:  # an except handler or a match case
                        yield from _top_statements(inner)


def target_names(node: ast.AST) -> Iterator[ast.Name]:
    """The names an assignment (or del) target binds: `a`, `a, *b`, `[a, (b, c)]`; not `a.b`
    or `a[i]`, which need `a` already. The one walk of targets (dataflow and lift use it too)."""
    if isinstance(node, ast.Name):
        yield node
    elif isinstance(node, (ast.Tuple, ast.List)):
        for elt in node.elts:
            yield from target_names(elt)
    elif isinstance(node, ast.Starred):
        yield from target_names(node.value)


def _literal_strings(node: ast.AST | None) -> list[str] | None:
    if isinstance(node, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return [e.value for e in node.elts]  # type: ignore[attr-defined]
    return None


def _dunder_all(body: list[ast.stmt]) -> tuple[list[str] | None, bool]:
    """(`__all__`'s names, whether it is literal); (None, True) when the module has none."""
    names: list[str] | None = None
    for stmt in _top_statements(body):
        value: ast.AST | None = None
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if not any(n.id == "__all__" for t in targets for n in target_names(t)):
                continue
            value = stmt.value
        elif (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and getattr(stmt.value.func.value, "id", None) == "__all__"
        ):
            args = stmt.value.args
            value = ast.List(args, ast.Load()) if stmt.value.func.attr == "append" else args[0]
        else:
            continue
        found = _literal_strings(value)
        if found is None:
            return None, False
        keep = isinstance(stmt, ast.AugAssign) or isinstance(stmt, ast.Expr)
        names = (names or []) + found if keep else found
    return names, True


StarImport = tuple[str, int]  # (module as written, level)


def _bindings(module: str, body: list[ast.stmt]) -> tuple[dict[str, str], list[StarImport]]:
    """Every top-level name the module binds (-> qualified name) and its own star imports."""
    names: dict[str, str] = {}
    stars: list[StarImport] = []
    for stmt in _top_statements(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[stmt.name] = f"{module}.{stmt.name}"
        elif isinstance(stmt, ast.Import):
            for a in stmt.names:
                names[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(stmt, ast.ImportFrom):
            source = stmt.module or ""
            for a in stmt.names:
                if a.name == "*":
                    stars.append((source, stmt.level))
                else:
                    names[a.asname or a.name] = f"{source}.{a.name}" if source else a.name
        elif isinstance(stmt, ast.Delete):
            for t in stmt.targets:
                for n in target_names(t):
                    names.pop(n.id, None)
        else:
            targets = _assigned(stmt)
            for t in targets:
                for n in target_names(t):
                    names[n.id] = f"{module}.{n.id}"
    return names, stars


def _assigned(stmt: ast.stmt) -> list[ast.AST]:
    if isinstance(stmt, ast.Assign):
        return list(stmt.targets)
    if isinstance(stmt, ast.AugAssign) or (isinstance(stmt, ast.AnnAssign) and stmt.value):
        return [stmt.target]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.target]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [i.optional_vars for i in stmt.items if i.optional_vars is not None]
    return []


class StarResolver:
    """``resolver(module)``: the :class:`Exports` of a local module, or None when ``module`` is
    not local (a library: nb2svc does not read installed packages). Results are cached."""

    def __init__(
        self, root: Path | str | None, written: Callable[[], dict[str, str]] | None = None
    ):
        self.root = Path(root).resolve() if root else None
        self.written = written or dict
        self._cache: dict[str, Exports | None] = {}

    def __call__(self, module: str) -> Exports | None:
        if module not in self._cache:
            self._cache[module] = self._exports(module, set(), 0)
        return self._cache[module]

    def _source(self, module: str) -> tuple[str, str | None] | None:
        """(file name, text or None when unreadable) of a local module; None: not local."""
        rel = module.replace(".", "/")
        written = self.written()
        for name in (f"{rel}.py", f"{rel}/__init__.py"):
            if name in written:
                return name, written[name]
        path = module_file(self.root, module) if self.root is not None else None
        if path is None:
            return None
        name = path.relative_to(self.root).as_posix()
        try:
            return name, read_source(path, MAX_MODULE_BYTES)
        except Unreadable:
            return name, None

    def _exports(self, module: str, seen: set[str], depth: int) -> Exports | None:
        found = self._source(module)
        if found is None:
            return None
        name, text = found
        if text is None:
            return Exports(reason=f"{name} cannot be read (or is over {MAX_MODULE_BYTES} bytes)")
        try:
            tree = ast.parse(text, filename=name)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return Exports(reason=f"{name} is not valid Python")
        package = module if name.endswith("__init__.py") else module.rpartition(".")[0]
        follow = lambda m: self._nested(m, seen | {module}, depth)  # noqa: E731
        return exports_of(module, tree.body, follow, package)

    def _nested(self, module: str, seen: set[str], depth: int) -> Exports | None:
        if module in seen:
            return Exports()  # a cycle: its names are being collected already
        if depth >= MAX_DEPTH:
            return Exports(reason=f"star imports nested more than {MAX_DEPTH} deep")
        return self._exports(module, seen, depth + 1)


def exports_of(
    module: str,
    body: list[ast.stmt],
    follow: Callable[[str], Exports | None],
    package: str = "",
) -> Exports:
    """The names ``from module import *`` binds, given the module's statements; ``follow``
    resolves the module's own star imports (None: not local); ``package`` is what its
    relative imports are relative to."""
    listed, literal = _dunder_all(body)
    if not literal:
        return Exports(reason=f"`{module}.__all__` is computed, not a literal list")
    names, stars = _bindings(module, body)
    out = Exports()
    for source, level in stars:
        target = _absolute(source, level, package)
        nested = follow(target) if target else None
        if nested is None:
            out.reason = out.reason or f"`{module}` itself does `from {source} import *`"
            continue
        out.reason = out.reason or nested.reason
        for n, q in nested.names.items():
            names.setdefault(n, q)
    if listed is not None:  # a literal `__all__` names everything, wherever it comes from
        out.names = {n: names.get(n, f"{module}.{n}") for n in listed}
        out.reason = None
    else:
        out.names = {n: q for n, q in names.items() if not n.startswith("_")}
    return out


def _absolute(source: str, level: int, package: str) -> str | None:
    """`from .x import *` inside package `pkg` -> `pkg.x`; absolute names unchanged."""
    if not level:
        return source
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    joined = ".".join([*base, source] if source else base)
    return joined or None
