"""Where each import goes: module level, or kept in its step where the notebook ran it.

Hoisting every import to the top of pipeline.py would make an import that fails late in the
notebook (a missing optional package, a name removed from a library) fail the whole package at
import time, before any step runs and outside the training entrypoint's failure handling. So an
import is hoisted only when hoisting cannot move a failure earlier than the notebook had it:

* it sits in the notebook's leading cells (before any cell runs code other than assignments of
  literals, such as the parameters cell): it ran first anyway;
* it imports from the standard library, or is a `from __future__` / star import (those must be
  at module level);
* the same name is already hoisted with the same meaning (a re-import);
* a function the notebook defines reads the name as a global (module-level functions need it).

Every other import stays in its step, in notebook order, and the names it binds are module
globals (the step declares `global`), so later steps and functions see them as the notebook did.
A hoisted import's leading comments stay in the cell when the cell goes on with other code:
they usually describe what follows, not the import alone.
"""

from __future__ import annotations

import ast
import re
import sys

import libcst as cst

from ..dataflow import Flow
from .build import CellParts, import_names
from .interpolate import code_of


def place_imports(cells: list[CellParts], flow: Flow) -> set[str]:
    """Move the imports that must not be hoisted back into their cells' bodies; returns the
    names those imports bind (module globals bound inside steps)."""
    function_reads = {n for fns in flow.functions.values() for fn in fns for n in fn.free}
    meaning = _import_meanings(flow)
    hoisted: set[str] = set()
    kept_names: set[str] = set()
    leading = True
    for c in cells:
        keep = []
        for stmt in c.imports:
            names = import_names(stmt)
            if leading or _always_hoisted(stmt) or set(names) & (hoisted | function_reads):
                hoisted.update(n for n in names if meaning.get(n, True))
            else:
                keep.append(stmt)
        if keep:
            kept_names.update(n for s in keep for n in import_names(s))
            c.imports = [s for s in c.imports if s not in keep]
            inline = {id(s) for s in c.imports} | {id(d) for d in c.definitions}
            c.body = [s for s in c.ordered if id(s) not in inline]
        if (c.body and not _constants_only(c.body)) or c.error is not None:
            leading = False
        _comments_stay(c)
    return kept_names - hoisted


def _constants_only(body: list[cst.BaseStatement]) -> bool:
    """Assignments of literals (a parameters cell, constants): running them first cannot fail,
    so imports after them still count as the notebook's leading imports."""
    try:
        tree = ast.parse("\n".join(code_of(s) for s in body))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for stmt in tree.body:
        value = getattr(stmt, "value", None)
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Expr)) or value is None:
            return False
        try:
            ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
    return True


def _import_meanings(flow: Flow) -> dict[str, bool]:
    """name → whether every cell that binds it imports the same thing (a plain re-import)."""
    qual: dict[str, str] = {}
    same: dict[str, bool] = {}
    for f in flow.cells:
        for n in f.defs:
            q = f.imports.get(n)
            if q is None or qual.setdefault(n, q) != q:
                same[n] = False
            else:
                same.setdefault(n, True)
    return same


def _always_hoisted(stmt: cst.SimpleStatementLine) -> bool:
    for s in stmt.body:
        if isinstance(s, cst.ImportFrom):
            if isinstance(s.names, cst.ImportStar) or s.relative:
                return isinstance(s.names, cst.ImportStar)
            module = code_of(s.module).split(".")[0] if s.module is not None else ""
            if module != "__future__" and module not in sys.stdlib_module_names:
                return False
        elif isinstance(s, cst.Import):
            if any(code_of(a.name).split(".")[0] not in sys.stdlib_module_names for a in s.names):
                return False
    return True


_ABOUT_IMPORTS = re.compile(r"\b(?:import|librar|package|module|dependenc)", re.I)


def _about_imports(line: cst.EmptyLine) -> bool:
    """`# the imports for plotting`: a comment that describes the import, not the code after."""
    return line.comment is not None and bool(_ABOUT_IMPORTS.search(line.comment.value))


def _comments_stay(c: CellParts) -> None:
    """A hoisted import's leading comments move to the cell's next statement that stays."""
    hoisted = {id(s) for s in c.imports}
    carried: list[cst.EmptyLine] = []
    swaps: dict[int, cst.BaseStatement] = {}
    for stmt in c.ordered:
        if id(stmt) in hoisted:
            go = [ln for ln in stmt.leading_lines if not _about_imports(ln)]
            if any(ln.comment is not None for ln in go):
                carried += go
                stay = [ln for ln in stmt.leading_lines if _about_imports(ln)]
                swaps[id(stmt)] = stmt.with_changes(leading_lines=stay)
        elif carried:
            lines = [*carried, *stmt.leading_lines]  # type: ignore[attr-defined]
            swaps[id(stmt)] = stmt.with_changes(leading_lines=lines)
            carried = []
    if carried or not swaps:  # an import-only cell: its comments describe its imports
        return
    for attr in ("imports", "definitions", "body", "ordered"):
        setattr(c, attr, [swaps.get(id(s), s) for s in getattr(c, attr)])
