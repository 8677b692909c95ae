"""Hidden-state rules (NB1xx): what the saved notebook says versus Restart & Run All."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..dataflow import BUILTINS, CellFlow, Flow, is_ipython_global
from ..findings import CellRef
from .messages import (
    ExecutionCountGap,
    MutatedAfterRead,
    NonIdempotentCell,
    OutOfOrderExecution,
    ReplayDivergence,
    UndefinedName,
    UnexecutedCell,
    UseBeforeDefinition,
)
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
