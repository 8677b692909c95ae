"""One notebook in, diagnostics out: structure checks, the rule families, suppressions."""

from __future__ import annotations

import re
from collections.abc import Callable

from .. import dataflow
from ..findings import CellRef, Finding
from ..notebook import Notebook
from . import hidden_state, kernel_records, production  # noqa: F401  (register their checks)
from .messages import (
    DuplicateCellId,
    InvalidCell,
    MissingCellId,
    SyntaxErrorInCell,
)
from .rules import CHECKS, Context

_LINE_NOQA = re.compile(r"#\s*noqa(?::[\s]*(?P<codes>[A-Za-z]+\d+(?:[\s,]+[A-Za-z]+\d+)*))?", re.I)
_CELL_NOQA = re.compile(
    r"#\s*nb2svc\s*:\s*noqa(?:[:\s]+(?P<codes>[A-Za-z]+\d*(?:[\s,]+[A-Za-z]+\d*)*))?", re.I
)

_PROBLEMS = {  # notebook.Notebook.problems → the message that reports each
    "invalid-cell": InvalidCell,
    "missing-id": MissingCellId,
    "duplicate-id": DuplicateCellId,
}


class Suppressions:
    """`# noqa[: CODES]` on a line, `# nb2svc: noqa [CODES]` anywhere in a cell."""

    def __init__(self, nb: Notebook):
        self.lines: dict[tuple[int, int], tuple[str, ...] | None] = {}
        self.cells: dict[int, tuple[str, ...] | None] = {}
        for cell in nb.cells:
            if not cell.is_code or "noqa" not in cell.source.lower():
                continue
            for lineno, text in enumerate(cell.source.split("\n"), start=1):
                if "#" not in text:
                    continue
                m = _CELL_NOQA.search(text)
                if m:
                    self._add(self.cells, cell.index, m.group("codes"))
                    continue
                m = _LINE_NOQA.search(text)
                if m:
                    self._add(self.lines, (cell.index, lineno), m.group("codes"))

    @staticmethod
    def _add(table: dict, key: object, codes: str | None) -> None:
        if codes is None:
            table[key] = None  # everything
            return
        new = tuple(c.upper() for c in re.split(r"[\s,]+", codes) if c)
        old = table.get(key, ())
        table[key] = None if old is None and key in table else (old or ()) + new

    @staticmethod
    def _covers(codes: tuple[str, ...] | None, code: str) -> bool:
        return codes is None or any(code.startswith(c) for c in codes)

    def suppressed(self, d: Finding) -> bool:
        if d.cell is None:
            return False
        if d.cell.index in self.cells and self._covers(self.cells[d.cell.index], d.code):
            return True
        key = (d.cell.index, d.line)
        return key in self.lines and self._covers(self.lines[key], d.code)


def check_notebook(
    nb: Notebook, enabled: Callable[[str], bool], flow: dataflow.Flow | None = None
) -> list[Finding]:
    """Diagnostics for one notebook; pass `flow` when the caller already analysed it."""
    flow = flow if flow is not None else dataflow.analyze(nb)
    ctx = Context(nb, flow, enabled)
    for cell, problem, details in nb.problems:
        ctx.report(cell, 1, 1, _PROBLEMS[problem](cell=CellRef.of(cell), **details))
    for f in flow.cells:
        err = f.translation.error
        if err is not None:
            line = err.lineno or 1
            col = (err.offset or 1) + f.translation.col_shift.get(line, 0) + f.translation.dedent
            ctx.report(f.cell, line, col, SyntaxErrorInCell(cell=CellRef.of(f.cell), error=err.msg))
    for code, fn in CHECKS:
        if enabled(code):
            ctx.checking = code
            fn(ctx)
    ctx.checking = ""
    suppress = Suppressions(nb)
    out = [d for d in ctx.diagnostics if not suppress.suppressed(d)]
    out.sort(key=Finding.sort_key)
    return out
