"""Hidden-state rules (NB1xx): what the saved notebook says versus Restart & Run All."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..dataflow import BUILTINS, CellFlow, Flow, is_ipython_global
from ..findings import CellRef
from .messages import Message, cells_text, counts_text
from .rules import Context, check


def _is_code(source: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in source.splitlines())


def _missing_counts(flow: Flow, limit: int = 1000) -> list[int]:
    """The first `limit` counts missing below the highest one (a count can be huge)."""
    counts = {c.execution_count for c in flow.notebook.code_cells if c.execution_count is not None}
    if not counts:
        return []
    missing: list[int] = []
    k, top = 1, max(counts)
    while k <= top and len(missing) < limit:
        if k not in counts:
            missing.append(k)
        k += 1
    return missing


def _executed(ctx: Context) -> tuple[list[Any], list[Any]]:
    """(non-empty code cells, those of them that ran)."""
    code_cells = [c for c in ctx.notebook.code_cells if c.source.strip()]
    return code_cells, [c for c in code_cells if c.execution_count is not None]


class OutOfOrderExecution(
    Message,
    code="NB101",
    rule="out-of-order-execution",
    kind="hidden-state",
    severity="warning",
    fixable=True,
):
    """saved execution counts not increasing top-down (fixable: `--fix` clears the counts)

    ## What it does
    Reports saved execution counts that do not increase top-down.

    ## Why it matters
    The saved outputs were produced in another order than the notebook reads; a reader and
    Restart & Run All see different results.

    ## Example
    ```python
    # %% In[2]
    x = 1
    # %% In[1]
    print(x)
    ```

    ## Instead
    Restart the kernel and run all cells, then save (`nb2svc lint --fix` clears the counts).
    """

    template = (
        "{cell.label} ran before {above.label} above it: saved execution counts are not in "
        "top-down order"
    )
    cell: CellRef
    above: CellRef


@check("NB101")
def out_of_order(ctx: Context) -> None:
    """Counts must increase top-down."""
    top = None
    for cell in _executed(ctx)[1]:
        if top is not None and cell.execution_count < top.execution_count:
            message = OutOfOrderExecution(cell=CellRef.of(cell), above=CellRef.of(top))
            ctx.report(cell, 1, 1, message, related=(top.index,))
        if top is None or cell.execution_count > top.execution_count:
            top = cell


class UnexecutedCell(
    Message, code="NB102", rule="unexecuted-cell", kind="hidden-state", severity="warning"
):
    """a code cell never executed while cells below it were (`info` when only cells above ran)

    ## What it does
    Reports a code cell that was never executed while cells below it were.

    ## Why it matters
    Its effects are missing from the saved outputs, or the cell is dead code a reader thinks
    matters.

    ## Example
    ```python
    # %% In[1]
    import pandas as pd
    # %% (never run)
    df = pd.read_csv('a.csv')
    # %% In[2]
    print(1)
    ```

    ## Instead
    Run it (Restart & Run All) or delete it.
    """

    template = "cell {cell.index} was never executed{where}; its effects are missing from the saved outputs"
    cell: CellRef
    cells_below_ran: bool

    @property
    def where(self) -> str:
        return " although cells below it were" if self.cells_below_ran else " (cells above it were)"


@check("NB102")
def unexecuted(ctx: Context) -> None:
    """A code cell never executed among executed ones."""
    code_cells, executed = _executed(ctx)
    if not executed:
        return
    last_executed = executed[-1].index
    for cell in code_cells:
        if cell.execution_count is None and _is_code(cell.source):
            after = cell.index < last_executed
            message = UnexecutedCell(cell=CellRef.of(cell), cells_below_ran=after)
            ctx.report(cell, 1, 1, message, severity="warning" if after else "info")


class ExecutionCountGap(
    Message, code="NB105", rule="execution-count-gap", kind="hidden-state", severity="info"
):
    """a gap in the execution counts (common and mild on its own)

    ## What it does
    Reports gaps in the saved execution counts.

    ## Why it matters
    Mild on its own (cells re-run or deleted), but it explains NB104 findings and hints that the
    outputs come from a session the file does not describe.

    ## Example
    ```python
    # %% In[1]
    x = 1
    # %% In[5]
    print(x)
    ```

    ## Instead
    Restart and run all before saving when the outputs matter.
    """

    template = "execution counts skip {missing_text}: cells were re-run or deleted after they ran"
    missing: list[int]

    @property
    def missing_text(self) -> str:
        return counts_text(self.missing)


@check("NB105")
def count_gaps(ctx: Context) -> None:
    """Gaps in the counter (common and mild on its own)."""
    executed = _executed(ctx)[1]
    missing = ctx.once(_missing_counts)
    if executed and missing:
        first_after = next((c for c in executed if c.execution_count > missing[0]), executed[0])
        ctx.report(first_after, 1, 1, ExecutionCountGap(missing=missing))


def _first_definers(flow: Flow) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in flow.cells:
        for name in flow.defs_of(f):
            out.setdefault(name, []).append(f.cell.index)
    return out


NameRead = tuple[Any, Any, str, str, int | None]


def _name_reads(flow: Flow) -> list[NameRead]:
    """Each first read of a name per cell that a top-down run cannot satisfy, as
    (cell flow, use, name, verdict, cell or line) — the verdict is "later" (defined in a
    cell below), "same-cell" (defined further down this cell), "deleted" or "nowhere".
    NB103 and NB104 share one list (Context.once)."""
    return list(_unsatisfied_reads(flow))


def _unsatisfied_reads(flow: Flow) -> Iterator[NameRead]:
    definers = _first_definers(flow)
    defined: set[str] = set()
    deleted: dict[str, int] = {}
    for f in flow.cells:
        seen: set[str] = set()
        for use in flow.expanded[f.cell.index]:
            name = use.name
            if name in seen or name in defined or name in BUILTINS or is_ipython_global(name):
                continue
            seen.add(name)
            later = [i for i in definers.get(name, []) if i > f.cell.index]
            if name in f.defs and f.defs[name] > (use.line, use.col):
                yield f, use, name, "same-cell", f.defs[name][0]
            elif later:
                yield f, use, name, "later", later[0]
            elif name in deleted:
                yield f, use, name, "deleted", deleted[name]
            elif not (name in definers or name in flow.unparsed_names or flow.opaque_defs):
                yield f, use, name, "nowhere", None
        defined |= flow.defs_of(f)
        for name in f.deletes:
            defined.discard(name)
            deleted[name] = f.cell.index
        for name in flow.defs_of(f):
            deleted.pop(name, None)


class _NameRead(Message):
    """A message about a read of `name`, perhaps through a function (`via`)."""

    name: str
    via: str | None

    @property
    def via_text(self) -> str:
        return f" (read by `{self.via}()`)" if self.via else ""


class UseBeforeDefinition(
    _NameRead, code="NB103", rule="use-before-definition", kind="hidden-state", severity="error"
):
    """a name read before the cell that defines it (fails on Restart & Run All)

    ## What it does
    Reports a name read before the cell (or the line of the same cell) that defines it.

    ## Why it matters
    It only works because an earlier run left the name in the kernel; Restart & Run All fails
    there with NameError, and so does the converted package.

    ## Example
    ```python
    # %%
    print(total)
    # %%
    total = 42
    ```

    ## Instead
    Move the defining cell above the reading one (or the definition above the read).
    """

    template = (
        "`{name}`{via_text} is read before {place} defines it; Restart & Run All fails here "
        "with NameError (it only works because an earlier run left it in the kernel)"
    )
    later: int | None = None  # the cell below that defines it
    same_cell: int | None = None  # the line further down this cell that defines it

    @property
    def place(self) -> str:
        if self.later is not None:
            return f"cell {self.later} below"
        return f"line {self.same_cell} of this cell"


@check("NB103")
def use_before_definition(ctx: Context) -> None:
    for f, use, name, verdict, where in ctx.once(_name_reads):
        if verdict == "later":
            message = UseBeforeDefinition(name=name, via=use.via, later=where)
        elif verdict == "same-cell":
            message = UseBeforeDefinition(name=name, via=use.via, same_cell=where)
        else:
            continue
        related = (where,) if verdict == "later" and where is not None else ()
        ctx.report(f.cell, use.line, use.col + 1, message, related=related)


class UndefinedName(
    _NameRead, code="NB104", rule="undefined-name", kind="hidden-state", severity="error"
):
    """a name defined in no cell; names the missing `In[k]` when the counts show a gap

    ## What it does
    Reports a name that no cell defines; when the saved counts show a gap it names the missing
    `In[k]`.

    ## Why it matters
    The definition lived in a deleted cell or only in the kernel: nobody can re-run the notebook
    from the file.

    ## Example
    ```python
    # %% In[1]
    import numpy as np
    # %% In[4]
    y = np.array(xs)
    ```

    ## Instead
    Restore the definition (here: of `xs`) in a cell above its first use.
    """

    template = "`{name}`{via_text} {problem}"
    deleted_in: int | None  # the cell above that deleted it; None: no cell ever defined it
    missing: list[int]  # execution counts missing before the reading cell's

    @property
    def problem(self) -> str:
        if self.deleted_in is not None:
            return f"was deleted in cell {self.deleted_in} above and is not defined again"
        if not self.missing:
            return "is defined in no cell: it lived in a deleted cell or only in the kernel"
        verb = "is" if len(self.missing) == 1 else "are"
        return (
            f"is defined in no cell: it probably lived in a deleted cell "
            f"({counts_text(self.missing)} {verb} missing from the saved counts)"
        )


@check("NB104")
def undefined_name(ctx: Context) -> None:
    missing = ctx.once(_missing_counts)
    for f, use, name, verdict, where in ctx.once(_name_reads):
        if verdict == "deleted":
            message = UndefinedName(name=name, via=use.via, deleted_in=where, missing=[])
        elif verdict == "nowhere":
            count = f.cell.execution_count
            gap = [k for k in missing if count is None or k < count]
            message = UndefinedName(name=name, via=use.via, deleted_in=None, missing=gap)
        else:
            continue
        related = (where,) if where is not None else ()
        ctx.report(f.cell, use.line, use.col + 1, message, related=related)


def _writers(f: CellFlow) -> set[str]:
    return set(f.defs) | {m.name for m in f.mutations}


class ReplayDivergence(
    Message, code="NB106", rule="replay-divergence", kind="hidden-state", severity="warning"
):
    """replaying the saved execution order: a read resolves to another definition than top-down

    ## What it does
    Replays the saved execution order and reports a read that resolves to another definition
    than in top-down order.

    ## Why it matters
    The saved outputs were computed from other values than a top-down run computes.

    ## Example
    ```python
    # %% In[1]
    x = 1
    # %% In[3]
    print(x)
    # %% In[2]
    x = 2
    ```

    ## Instead
    Restart and run all; if the later value is meant, move that cell up.
    """

    template = (
        "when {cell.label} ran, `{name}` was last {verb} by {saved.label}; on Restart & Run All "
        "it comes from {topdown.label}{never_ran}"
    )
    cell: CellRef
    name: str
    modified: bool  # the saved-order writer mutated the object rather than binding the name
    saved: CellRef  # the cell that wrote it last in the saved order
    topdown: CellRef  # the cell that writes it last top-down

    @property
    def verb(self) -> str:
        return "modified" if self.modified else "defined"

    @property
    def never_ran(self) -> str:
        return ", which never ran" if self.topdown.execution_count is None else ""


@check("NB106")
def replay(ctx: Context) -> None:
    """Replay the saved execution order against top-down order, read by read."""
    flow: Flow = ctx.flow
    cells = flow.cells
    executed = sorted(
        (f for f in cells if f.cell.execution_count is not None),
        key=lambda f: f.cell.execution_count,
    )
    if len(executed) < 2:
        return
    rank = {f.cell.index: r for r, f in enumerate(executed)}
    position = {f.cell.index: p for p, f in enumerate(cells)}
    writers = {f.cell.index: _writers(f) for f in cells}  # once per cell, not per read
    for f in executed:
        reported: set[str] = set()
        for use in f.uses:
            name = use.name
            if name in reported or name in BUILTINS:
                continue
            saved = next(
                (
                    g
                    for g in reversed(executed[: rank[f.cell.index]])
                    if name in writers[g.cell.index]
                ),
                None,
            )
            topdown = next(
                (
                    g
                    for g in reversed(cells[: position[f.cell.index]])
                    if name in writers[g.cell.index]
                ),
                None,
            )
            if saved is None or topdown is None or saved is topdown:
                continue
            reported.add(name)
            message = ReplayDivergence(
                cell=CellRef.of(f.cell),
                name=name,
                modified=name not in saved.defs,
                saved=CellRef.of(saved.cell),
                topdown=CellRef.of(topdown.cell),
            )
            related = (saved.cell.index, topdown.cell.index)
            ctx.report(f.cell, use.line, use.col + 1, message, related=related)


class MutatedAfterRead(
    Message, code="NB107", rule="mutated-after-read", kind="hidden-state", severity="warning"
):
    """a later cell mutates an object an earlier cell read (`info` when the readers only display)

    ## What it does
    Reports a later cell that mutates an object an earlier cell read.

    ## Why it matters
    Re-running the earlier cell after the later one gives other results: the notebook depends on
    the order cells were run in.

    ## Example
    ```python
    # %%
    items = [1, 2, 3]
    # %%
    total = sum(items)
    # %%
    items.append(4)
    ```

    ## Instead
    Build the object completely before reading it, or copy it before changing it.
    """

    template = (
        "cell {cell.index} mutates `{name}` ({how}) after {readers_text} read it; re-running "
        "{pronoun} now gives another result"
    )
    cell: CellRef
    name: str
    how: str
    readers: list[int]

    @property
    def readers_text(self) -> str:
        return cells_text(self.readers)

    @property
    def pronoun(self) -> str:
        return "them" if len(self.readers) > 1 else "it"


@check("NB107")
def mutated_after_read(ctx: Context) -> None:
    flow: Flow = ctx.flow
    cells = flow.cells
    for j, fj in enumerate(cells):
        reported: set[str] = set()
        for mut in fj.mutations:
            name = mut.name
            if name in reported:
                continue
            own = fj.defs.get(name)
            if own is not None and own < (mut.line, mut.col):
                continue  # the cell mutates an object it just created
            readers = []
            for fi in reversed(cells[:j]):
                if name in fi.defs:
                    break  # an earlier binding: cells above it read another object
                if any(u.name == name for u in fi.uses):
                    readers.append(fi)
            if not readers or not any(name in f.defs for f in cells[:j]):
                continue
            readers.reverse()
            reported.add(name)
            affects_state = any(r.defs for r in readers)
            idx = [r.cell.index for r in readers]
            message = MutatedAfterRead(
                cell=CellRef.of(fj.cell), name=name, how=mut.how, readers=idx
            )
            severity = "warning" if affects_state else "info"
            ctx.report(
                fj.cell, mut.line, mut.col + 1, message, severity=severity, related=tuple(idx)
            )


class NonIdempotentCell(
    Message, code="NB108", rule="non-idempotent-cell", kind="hidden-state", severity="warning"
):
    """a cell that reads and updates the same name, so running it twice changes it (`info` for `df =
    df.dropna()`-like chains)

    ## What it does
    Reports a cell that reads and rebinds (or mutates) the same name.

    ## Why it matters
    Running it twice changes the result (`x = x + 1`), a common source of hidden state.

    ## Example
    ```python
    # %%
    count = count + 1
    ```

    ## Instead
    Compute a new name from the old one (`count_after = count + 1`), or keep the whole
    computation in one cell from its start.
    """

    template = (
        "running cell {cell.index} twice changes `{name}` again: it reads and updates it ({how})"
    )
    cell: CellRef
    name: str
    how: str


@check("NB108")
def non_idempotent(ctx: Context) -> None:
    for f in ctx.flow.cells:
        seen: set[str] = set()
        for upd in sorted(f.self_updates, key=lambda u: (not u.strong, u.line, u.col)):
            if upd.name in seen:
                continue
            seen.add(upd.name)
            message = NonIdempotentCell(cell=CellRef.of(f.cell), name=upd.name, how=upd.how)
            severity = "warning" if upd.strong else "info"
            ctx.report(f.cell, upd.line, upd.col + 1, message, severity=severity)
