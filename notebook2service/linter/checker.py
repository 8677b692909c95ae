"""One notebook in, diagnostics out: structure checks, the rule families, suppressions."""

from __future__ import annotations

import re
from collections.abc import Callable

from .. import dataflow
from ..findings import CellRef, Finding
from ..notebook import Notebook
from . import hidden_state, kernel_records, production  # noqa: F401  (register their checks)
from .messages import Message
from .rules import CHECKS, Context

_LINE_NOQA = re.compile(r"#\s*noqa(?::[\s]*(?P<codes>[A-Za-z]+\d+(?:[\s,]+[A-Za-z]+\d+)*))?", re.I)
_CELL_NOQA = re.compile(
    r"#\s*nb2svc\s*:\s*noqa(?:[:\s]+(?P<codes>[A-Za-z]+\d*(?:[\s,]+[A-Za-z]+\d*)*))?", re.I
)


class SyntaxErrorInCell(
    Message, code="NB001", rule="syntax-error", kind="syntax", severity="error"
):
    """a cell that cannot be parsed even after IPython syntax is translated; the rest of the notebook
    is still checked

    ## What it does
    Reports a cell that cannot be parsed, even after IPython syntax (magics, `!` shell lines,
    `?` help) is translated to Python. The rest of the notebook is still checked.

    ## Why it matters
    A cell that does not parse fails on Restart & Run All and cannot be converted; the names it
    would define are unknown to every other check.

    ## Example
    ```python
    # %%
    for i in range(3)
        print(i)
    ```

    ## Instead
    Fix the syntax error (here: the missing `:`).
    """

    template = (
        "cell {cell.index} cannot be parsed ({error}); it is skipped and the rest of the notebook "
        "is still checked"
    )
    cell: CellRef
    error: str


class MissingCellId(
    Message, code="NB002", rule="missing-cell-id", kind="format", severity="warning"
):
    """a cell without an id in an nbformat ≥ 4.5 notebook

    ## What it does
    Reports a cell without an `id` in a notebook whose nbformat version (4.5 or later) requires
    one.

    ## Why it matters
    Cell ids let tools (diffs, reviews, nb2svc's manifest) refer to a cell across edits; without
    them references fall back to positions, which move.

    ## Example
    ```python
    # a cell saved as {"cell_type": "code", "source": "x = 1"} with no "id"
    ```

    ## Instead
    Open and save the notebook in a current JupyterLab or run `nbformat`'s validator, which adds
    ids.
    """

    template = "cell {cell.index} has no id (nbformat 4.{minor} requires one)"
    cell: CellRef
    minor: int


class DuplicateCellId(
    Message, code="NB003", rule="duplicate-cell-id", kind="format", severity="warning"
):
    """two cells with the same id

    ## What it does
    Reports two cells that share an id.

    ## Why it matters
    Ids must be unique: tools that follow a cell by id pick the wrong one.

    ## Example
    ```python
    # two cells both saved with "id": "a1"
    ```

    ## Instead
    Give one of them a new id (copying cells between notebooks by editing JSON does this).
    """

    template = "cell {cell.index} repeats the id {cell_id!r} of cell {first}"
    cell: CellRef
    cell_id: str
    first: int


class InvalidCell(Message, code="NB004", rule="invalid-cell", kind="format", severity="warning"):
    """a malformed cell (skipped)

    ## What it does
    Reports a malformed cell (wrong type, missing source); it is skipped.

    ## Why it matters
    A malformed cell is not run by Jupyter the way the file suggests, and is not checked.

    ## Example
    ```python
    # {"cell_type": "code", "source": 42}
    ```

    ## Instead
    Repair the cell in the JSON, or delete and re-create it in the editor.
    """

    template = "cell {cell.index} {problem_text}; it was skipped"
    cell: CellRef
    problem: str  # "not-an-object" or "no-cell-type" (`notebook.Notebook.problems`)

    @property
    def problem_text(self) -> str:
        if self.problem == "not-an-object":
            return "is not a JSON object"
        return "has no valid cell_type"


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
