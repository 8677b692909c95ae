"""Hidden-state rules (NB1xx): what the saved notebook says versus Restart & Run All."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..dataflow import BUILTINS, CellFlow, Flow, is_ipython_global
from .rules import Context, check


def _is_code(source: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in source.splitlines())


def _cells_list(indexes: list[int]) -> str:
    names = [str(i) for i in indexes]
    if len(names) > 4:
        names = names[:4] + [f"… ({len(indexes)} in all)"]
    return ("cells " if len(indexes) > 1 else "cell ") + ", ".join(names)


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


def _fmt_missing(missing: list[int], limit: int = 4) -> str:
    shown = ", ".join(f"In[{k}]" for k in missing[:limit])
    return shown + (f" and {len(missing) - limit} more" if len(missing) > limit else "")


@check("NB101", "NB102", "NB105")
def execution_counts(ctx: Context) -> None:
    code_cells = [c for c in ctx.notebook.code_cells if c.source.strip()]
    executed = [c for c in code_cells if c.execution_count is not None]
    if not executed:
        return
    # NB101: counts must increase top-down
    top = None
    for cell in executed:
        if top is not None and cell.execution_count < top.execution_count:
            ctx.report(
                "NB101",
                cell,
                1,
                1,
                f"{cell.label()} ran before {top.label()} above it: saved execution counts are "
                "not in top-down order",
                related=(top.index,),
            )
        if top is None or cell.execution_count > top.execution_count:
            top = cell
    # NB102: a code cell never executed among executed ones
    last_executed = executed[-1].index
    for cell in code_cells:
        if cell.execution_count is None and _is_code(cell.source):
            after = cell.index < last_executed
            ctx.report(
                "NB102",
                cell,
                1,
                1,
                f"cell {cell.index} was never executed"
                + (" although cells below it were" if after else " (cells above it were)")
                + "; its effects are missing from the saved outputs",
                severity="warning" if after else "info",
            )
    # NB105: gaps in the counter (common and mild on its own)
    missing = _missing_counts(ctx.flow)
    if missing:
        first_after = next((c for c in executed if c.execution_count > missing[0]), executed[0])
        ctx.report(
            "NB105",
            first_after,
            1,
            1,
            f"execution counts skip {_fmt_missing(missing)}: cells were re-run or deleted "
            "after they ran",
        )


def _first_definers(flow: Flow) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in flow.cells:
        for name in flow.defs_of(f):
            out.setdefault(name, []).append(f.cell.index)
    return out


def _name_reads(flow: Flow) -> Iterator[tuple[Any, Any, str, str, str, int | None]]:
    """Each first read of a name per cell that a top-down run cannot satisfy, as
    (cell flow, use, name, via, verdict, cell or line) — the verdict is "later" (defined in a
    cell below), "same-cell" (defined further down this cell), "deleted" or "nowhere"."""
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
            via = f" (read by `{use.via}()`)" if use.via else ""
            later = [i for i in definers.get(name, []) if i > f.cell.index]
            if name in f.defs and f.defs[name] > (use.line, use.col):
                yield f, use, name, via, "same-cell", f.defs[name][0]
            elif later:
                yield f, use, name, via, "later", later[0]
            elif name in deleted:
                yield f, use, name, via, "deleted", deleted[name]
            elif not (name in definers or name in flow.unparsed_names or flow.opaque_defs):
                yield f, use, name, via, "nowhere", None
        defined |= flow.defs_of(f)
        for name in f.deletes:
            defined.discard(name)
            deleted[name] = f.cell.index
        for name in flow.defs_of(f):
            deleted.pop(name, None)


@check("NB103")
def use_before_definition(ctx: Context) -> None:
    for f, use, name, via, verdict, where in _name_reads(ctx.flow):
        if verdict not in ("same-cell", "later"):
            continue
        place = f"line {where} of this cell" if verdict == "same-cell" else f"cell {where} below"
        ctx.report(
            "NB103",
            f.cell,
            use.line,
            use.col + 1,
            f"`{name}`{via} is read before {place} defines it; Restart & Run All fails here "
            "with NameError (it only works because an earlier run left it in the kernel)",
            related=(where,) if verdict == "later" and where is not None else (),
            args={"name": name, "via": use.via, verdict.replace("-", "_"): where},
        )


@check("NB104")
def undefined_name(ctx: Context) -> None:
    missing = _missing_counts(ctx.flow)
    for f, use, name, via, verdict, where in _name_reads(ctx.flow):
        if verdict == "deleted":
            message = f"`{name}`{via} was deleted in cell {where} above and is not defined again"
        elif verdict == "nowhere":
            count = f.cell.execution_count
            gap = [k for k in missing if count is None or k < count]
            if gap:
                why = (
                    f"it probably lived in a deleted cell ({_fmt_missing(gap)} "
                    f"{'is' if len(gap) == 1 else 'are'} missing from the saved counts)"
                )
            else:
                why = "it lived in a deleted cell or only in the kernel"
            message = f"`{name}`{via} is defined in no cell: {why}"
        else:
            continue
        related = (where,) if where is not None else ()
        args = {"name": name, "via": use.via, "deleted_in": where}
        ctx.report("NB104", f.cell, use.line, use.col + 1, message, related=related, args=args)


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
    for f in executed:
        reported: set[str] = set()
        for use in f.uses:
            name = use.name
            if name in reported or name in BUILTINS:
                continue
            saved = next(
                (g for g in reversed(executed[: rank[f.cell.index]]) if name in _writers(g)), None
            )
            topdown = next(
                (g for g in reversed(cells[: position[f.cell.index]]) if name in _writers(g)), None
            )
            if saved is None or topdown is None or saved is topdown:
                continue
            reported.add(name)
            verb = "defined" if name in saved.defs else "modified"
            td_note = "" if topdown.cell.execution_count is not None else ", which never ran"
            ctx.report(
                "NB106",
                f.cell,
                use.line,
                use.col + 1,
                f"when {f.cell.label()} ran, `{name}` was last {verb} by {saved.cell.label()}; "
                f"on Restart & Run All it comes from {topdown.cell.label()}{td_note}",
                related=(saved.cell.index, topdown.cell.index),
            )


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
            ctx.report(
                "NB107",
                fj.cell,
                mut.line,
                mut.col + 1,
                f"cell {fj.cell.index} mutates `{name}` ({mut.how}) after {_cells_list(idx)} read it; "
                f"re-running {'them' if len(idx) > 1 else 'it'} now gives another result",
                severity="warning" if affects_state else "info",
                related=tuple(idx),
            )


@check("NB108")
def non_idempotent(ctx: Context) -> None:
    for f in ctx.flow.cells:
        seen: set[str] = set()
        for upd in sorted(f.self_updates, key=lambda u: (not u.strong, u.line, u.col)):
            if upd.name in seen:
                continue
            seen.add(upd.name)
            ctx.report(
                "NB108",
                f.cell,
                upd.line,
                upd.col + 1,
                f"running cell {f.cell.index} twice changes `{upd.name}` again: it reads and "
                f"updates it ({upd.how})",
                severity="warning" if upd.strong else "info",
            )
