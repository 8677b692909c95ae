"""Steps that hold part of a cell: a long cell cut at a top-level statement boundary.

A Colab-style setup cell (install, import, read the project, create a bucket, set a dozen
paths) binds many names that later steps read; as one step it returns them all. `split.bounded`
may cut such a cell between two top-level statements, like a cut between cells: the statements
stay in order, each part is marked `# cell N` (so the line map and verify still name the cell),
the cell's leading comments open its first part and its figures are closed at the end of its
last part. Each part's reads and writes come from the dataflow's own walk over its statements
(`dataflow.CellVisitor`), so parameters and returns follow the same rules as for whole cells.

A cell is only cut when that is safe to reason about statically: it parsed, its statements
line up one to one with the lifted code's, it has no `%timeit` scope or star import, and it is
not one of the cells the training entrypoint needs (the training slice works on whole cells).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ..dataflow import CellFlow, CellVisitor, Flow, Use

if TYPE_CHECKING:  # build imports plan, which imports this module
    from .build import CellParts

Span = tuple[int, int]  # the top-level statements starting on lines [start, end) of a cell
END = 10**9  # a span to the end of its cell


@dataclass
class Unit:
    """What a step sees of one cell: all of it, or the statements of a span."""

    flow: CellFlow
    stmts: list[ast.stmt]
    uses: list[Use]  # reads from outside, including through the functions it calls
    defs: set[str]  # names it leaves bound (as Flow.defs_of)


def unit(flow: Flow, idx: int, span: Span | None) -> Unit | None:
    f = flow.by_index.get(idx)
    if f is None:
        return None
    tree = f.translation.tree
    if span is None or tree is None:
        return Unit(f, list(tree.body) if tree else [], flow.expanded[idx], flow.defs_of(f))
    part = CellFlow(f.cell, f.translation)
    stmts = [s for s in tree.body if span[0] <= s.lineno < span[1]]
    CellVisitor(part).run(ast.Module(body=stmts, type_ignores=[]))
    whole = {(m.line, m.col) for m in f.mutations}  # the notebook-wide filters already ran
    part.mutations = [m for m in part.mutations if (m.line, m.col) in whole]
    drop = f.translation.soft_reads - {n for g in flow.cells for n in g.defs}
    part.uses = [u for u in part.uses if u.name not in drop]
    uses = flow._expand(part)  # noqa: SLF001 - the one expansion rule, applied to a part
    called = {u.name for u in uses if u.via is None and u.name in flow.functions}
    via_global = {n for name in called for fn in flow.functions[name] for n in fn.assigns_globals}
    return Unit(part, stmts, uses, (set(part.defs) | via_global) - set(part.deletes))


def cut_points(cells: list[CellParts], flow: Flow, keep: set[int]) -> dict[int, list[int]]:
    """For each cell that may be cut inside: the lines a part may start at (each starts a
    statement of the step's body, and not the first one, so both sides keep one)."""
    out: dict[int, list[int]] = {}
    for c in cells:
        f = flow.by_index.get(c.index)
        if f is None or c.index in keep or not _aligned(c, f):
            continue
        in_body = {id(s) for s in c.body}
        starts = [line for s, line in zip(c.ordered, c.lines, strict=True) if id(s) in in_body]
        if len(starts) >= 2:
            out[c.index] = starts[1:]
    return out


def _aligned(c: CellParts, f: CellFlow) -> bool:
    """Every lifted statement starts where a statement of the dataflow's tree does (IPython
    lines the package drops, `!pip install`, are statements of the tree only); sets
    `c.lines`, each lifted statement's first line."""
    t = f.translation
    tree = t.tree
    if tree is None or c.error is not None or t.scoped_lines or t.star_import or f.star_imports:
        return False
    try:
        wrapper = MetadataWrapper(cst.parse_module(c.raw), unsafe_skip_copy=True)
    except (cst.ParserSyntaxError, RecursionError):
        return False
    if len(wrapper.module.body) != len(c.ordered):
        return False
    positions = wrapper.resolve(PositionProvider)
    c.lines = [positions[s].start.line for s in wrapper.module.body]
    return set(c.lines) <= {s.lineno for s in tree.body} and c.lines == sorted(c.lines)


def statements(c: CellParts, span: Span | None) -> list[cst.BaseStatement]:
    """The cell's step statements within `span` (all of them without one)."""
    if span is None:
        return list(c.body)
    line_of = {id(s): line for s, line in zip(c.ordered, c.lines, strict=False)}
    out: list[cst.BaseStatement] = []
    line = 0
    for s in c.body:  # a statement rewritten after the cut keeps the line before it: never lost
        line = line_of.get(id(s), line)
        if span[0] <= line < span[1]:
            out.append(s)
    return out


def label(cell_label: str, span: Span | None) -> str:
    """`cell 5 (In[3])`, or for part of it `cell 5 (In[3]) up to line 11` / `... from line 12`."""
    if span is None:
        return cell_label
    if span[0] > 0 and span[1] < END:
        return f"{cell_label} lines {span[0]}–{span[1] - 1}"
    return (
        f"{cell_label} from line {span[0]}"
        if span[0] > 0
        else f"{cell_label} up to line {span[1] - 1}"
    )
