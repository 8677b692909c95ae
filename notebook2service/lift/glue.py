"""The layout of the code nb2svc writes around the notebook's own: string literals in double
quotes, `name=value` without spaces, and a bracketed list one element per line (with a
trailing comma) when its line would pass :data:`LIMIT` characters. pipeline.py is not
reformatted after it is built (its line map is of the text as built), so glue is laid out
here, as libcst nodes; the notebook's code stays as its author wrote it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import libcst as cst

#: the longest glue line before its elements go one per line
LIMIT = 100
#: one indentation step inside brackets
STEP = "    "

_Item = TypeVar("_Item", bound=cst.CSTNode)
_Node = TypeVar("_Node", bound=cst.CSTNode)


def quoted(text: str) -> cst.SimpleString:
    """`text` as a string literal, in double quotes unless it holds one."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        literal = '"' + literal[1:-1] + '"'
    return cst.SimpleString(literal)


#: `=` of a keyword argument or a parameter default, without spaces
EQUAL = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))


def break_line(extra: str = "") -> cst.ParenthesizedWhitespace:
    """A line break inside brackets, the next line indented by the block's indentation plus
    `extra`."""
    return cst.ParenthesizedWhitespace(indent=True, last_line=cst.SimpleWhitespace(extra))


def opening(wrap: bool) -> cst.BaseParenthesizableWhitespace:
    """The whitespace after an opening bracket: nothing, or a line break into the elements."""
    return break_line(STEP) if wrap else cst.SimpleWhitespace("")


def items(nodes: Sequence[_Item], wrap: bool) -> list[_Item]:
    """`nodes` (elements, arguments, parameters, import names) as they are, or each followed by
    a comma and a line break (one per line, a trailing comma, the closing bracket on its own
    line at the block's indentation)."""
    if not wrap:
        return list(nodes)
    last = len(nodes) - 1
    return [
        node.with_changes(  # type: ignore[attr-defined]
            comma=cst.Comma(whitespace_after=break_line("" if i == last else STEP))
        )
        for i, node in enumerate(nodes)
    ]


def too_long(node: cst.CSTNode, indent: int = 0) -> bool:
    """The node's first line, at `indent` spaces, is longer than :data:`LIMIT`."""
    return indent + len(cst.Module([]).code_for_node(node).split("\n", 1)[0]) > LIMIT


def laid_out(make: Callable[[bool], _Node], indent: int = 0) -> _Node:
    """`make(False)`, or `make(True)` (its brackets one element per line) when the first is
    longer than :data:`LIMIT` at `indent` spaces."""
    flat = make(False)
    return make(True) if too_long(flat, indent) else flat


def function(
    name: str, params: Callable[[bool], cst.Parameters], body: list[cst.BaseStatement]
) -> cst.FunctionDef:
    """`def name(...):` at module level, its parameters one per line when the line is too long."""

    def make(wrap: bool, block: cst.IndentedBlock) -> cst.FunctionDef:
        return cst.FunctionDef(
            cst.Name(name), params(wrap), block, whitespace_before_params=opening(wrap)
        )

    probe = make(False, cst.IndentedBlock([cst.SimpleStatementLine([cst.Pass()])]))
    return make(too_long(probe), cst.IndentedBlock(body))


def dotted(name: str) -> cst.Attribute | cst.Name:
    """`a.b.c` as a libcst name (an import's module, a call's function)."""
    head, *rest = name.split(".")
    node: cst.Attribute | cst.Name = cst.Name(head)
    for part in rest:
        node = cst.Attribute(node, cst.Name(part))
    return node


def names_tuple(names: list[str], wrap: bool = False) -> cst.BaseExpression:
    """`a` for one name; `a, b` for more, or `(` `a,` `b,` `)` one per line."""
    if len(names) == 1:
        return cst.Name(names[0])
    elements = items([cst.Element(cst.Name(n)) for n in names], wrap)
    if not wrap:
        return cst.Tuple(elements, lpar=[], rpar=[])
    return cst.Tuple(elements, lpar=[cst.LeftParen(whitespace_after=opening(True))])


def global_statements(names: list[str], indent: int) -> list[cst.SimpleStatementLine]:
    """`global a, b`, as several statements when one would be too long (a `global` cannot be
    bracketed)."""
    out: list[cst.SimpleStatementLine] = []
    line: list[str] = []
    for name in names:
        if line and indent + len("global " + ", ".join([*line, name])) > LIMIT:
            out.append(_global(line))
            line = []
        line.append(name)
    return out + ([_global(line)] if line else [])


def _global(names: list[str]) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine([cst.Global([cst.NameItem(cst.Name(n)) for n in names])])
