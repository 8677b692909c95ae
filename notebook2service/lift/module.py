"""pipeline.py as one libcst Module, and its cell → line map read from that same tree.

The parts come from the lift as libcst nodes and stay nodes (nothing is re-parsed from text):
the header docstring, the hoisted imports (`__future__` first, then in notebook order), the
runtime helpers and `model_code` imports, the module-level definitions, one function per
step and `run()`. While the module is put together, every statement that came from a cell is
recorded (a :class:`Span`); once it is built, libcst's PositionProvider, resolved on these very
nodes (`unsafe_skip_copy`), gives their lines. The text is `module.code` and nothing formats it
afterwards, so the map is of the text that is written. The `# cell N` comments are for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .interpolate import code_of
from .scoped import comment_line

__all__ = ["Definition", "Pipeline", "Span", "docstring", "pipeline_module", "top_level"]

#: blank lines before a top-level function or class (PEP 8)
_TOP_GAP = (cst.EmptyLine(indent=False), cst.EmptyLine(indent=False))


@dataclass
class Span:
    """The statements of one cell (or of part of one) in the module, in order."""

    cell: int
    nodes: list[cst.BaseStatement]


@dataclass
class Definition:
    """A module-level function or class, the comment that says where it came from, and the
    cell it is mapped to (None: no single cell, such as the feature preparation)."""

    node: cst.BaseStatement  # a def or class, or a constant (lift/constants.py)
    label: str
    cell: int | None = None
    continues: bool = False  # a constant right after another of its cell: no gap, no label


@dataclass
class Pipeline:
    module: cst.Module
    spans: list[Span] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.module.code

    def line_map(self) -> list[dict[str, Any]]:
        """pipeline.py line ranges → the cell each came from: from a cell's first statement to
        its last (a step's generated `return` is no cell's), sorted by line."""
        positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        ranges = []
        for span in self.spans:
            placed = [positions[n] for n in span.nodes if n in positions]  # all, as built
            if placed:
                ranges.append(
                    {"cell": span.cell, "start": placed[0].start.line, "end": placed[-1].end.line}
                )
        return sorted(ranges, key=lambda r: r["start"])


def docstring(text: str) -> cst.SimpleStatementLine:
    """A triple-quoted string statement holding `text` exactly (backslashes, quotes and
    unprintable characters escaped)."""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    body = "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in body)
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    return cst.SimpleStatementLine([cst.Expr(cst.SimpleString('"""' + body + '"""'))])


def _opening(stmt: cst.BaseStatement, lines: list[cst.EmptyLine]) -> cst.BaseStatement:
    """`stmt` with `lines` above it and its own comments after them (its own blank lines
    dropped: with no `lines`, the statement without the blank lines above it)."""
    own = [ln for ln in stmt.leading_lines if ln.comment is not None]
    return stmt.with_changes(leading_lines=[*lines, *own])


def top_level(stmt: cst.BaseStatement) -> cst.BaseStatement:
    """`stmt` as a top-level function or class: two blank lines above it, then its comments."""
    return _opening(stmt, list(_TOP_GAP))


def _definition(d: Definition, spans: list[Span]) -> cst.BaseStatement:
    opening = [] if d.continues else [*_TOP_GAP, comment_line(d.label)]
    node = _opening(d.node, opening)
    if d.cell is not None and d.continues and spans and spans[-1].cell == d.cell:
        spans[-1].nodes.append(node)  # the next constant of the same cell: one range
    elif d.cell is not None:
        spans.append(Span(d.cell, [node]))
    return node


def pipeline_module(
    doc: str,
    imports: list[cst.SimpleStatementLine],
    definitions: list[Definition],
    steps: list[tuple[cst.FunctionDef, list[Span]]],
    run: cst.FunctionDef,
) -> Pipeline:
    """The module: docstring, imports (given in their final order), definitions, steps, run()."""
    spans: list[Span] = []
    body: list[cst.BaseStatement] = [docstring(doc)]
    for i, stmt in enumerate(imports):
        body.append(_opening(stmt, [_TOP_GAP[0]] if i == 0 else []))
    body += [_definition(d, spans) for d in definitions]
    for function, step_spans in steps:
        body.append(top_level(function))
        spans += step_spans
    body.append(top_level(run))
    return _blank_lines_empty(Pipeline(cst.Module(body), spans))


class _BlankLines(cst.CSTTransformer):
    """A blank line holds no spaces: a cell's top-level blank lines moved into a step's body
    would otherwise be written with the body's indentation. Records what each statement of
    the spans became, so the spans point into the new tree."""

    def __init__(self, keep: set[int]) -> None:
        self.keep = keep
        self.became: dict[int, cst.CSTNode] = {}

    def leave_EmptyLine(self, original: cst.EmptyLine, updated: cst.EmptyLine) -> cst.EmptyLine:
        if updated.comment is None and (updated.indent or updated.whitespace.value):
            return updated.with_changes(indent=False, whitespace=cst.SimpleWhitespace(""))
        return updated

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode) -> Any:
        result = super().on_leave(original, updated)
        if id(original) in self.keep:
            self.became[id(original)] = result
        return result


def _blank_lines_empty(pipeline: Pipeline) -> Pipeline:
    tidy = _BlankLines({id(n) for span in pipeline.spans for n in span.nodes})
    module = pipeline.module.visit(tidy)
    spans = [Span(s.cell, [tidy.became.get(id(n), n) for n in s.nodes]) for s in pipeline.spans]  # type: ignore[misc]
    return Pipeline(module, spans)


def import_key(stmt: cst.SimpleStatementLine) -> str:
    """What makes two hoisted imports the same: their text, comments included."""
    return code_of(stmt).strip()
