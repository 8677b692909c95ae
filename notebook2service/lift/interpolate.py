"""IPython's `{expr}` / `{expr!r}` / `$name` expansion in `!cmd` and magic lines, as a libcst
expression (which fields IPython expands: `ipython.expansion`).

The command becomes an f-string built from libcst nodes (text parts and expression parts),
with a quote that every Python from 3.8 on accepts: before 3.12 an f-string's expressions may
not hold a backslash, a `#` or the string's own quote. When no quote fits, the command is a
concatenation of literals and `format(expr)` calls (what an f-string field does), so the
generated code always parses, whatever the command holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from ..ipython import expansion
from .glue import quoted

_QUOTES = ("'", '"', "'''", '"""')
#: Python versions the generated code must parse under (libcst's grammar check)
CHECK_VERSIONS = ("3.8", "3.10")
#: the builtin a conversion applies (`{x!r}` is `format(repr(x))`)
_CONVERSIONS = {"r": "repr", "s": "str", "a": "ascii"}


@dataclass(frozen=True)
class Piece:
    """Literal text (`expr` None), or an expression IPython expands, after `conversion`."""

    text: str
    expr: cst.BaseExpression | None = None
    conversion: str | None = None


def pieces(command: str, known: set[str]) -> list[Piece]:
    """The command split into literal text and the expressions IPython expands (its
    DollarFormatter parse, `ipython.expansion`). When IPython would run the line unexpanded
    (a field it cannot evaluate, a `$name` the notebook never binds), one literal: the
    line as written."""
    fields = expansion(command)
    out: list[Piece] = []
    for f in fields or []:
        _text(out, f.text)
        if f.source is None:
            continue
        expr = _expression(f.source)
        root = None if expr is None else _root(expr)
        if expr is None or (f.dollar and root is not None and root not in known):
            return [Piece(command)]
        out.append(Piece("", expr, f.conversion))
    return out if fields is not None else [Piece(command)]


def _root(expr: cst.BaseExpression) -> str | None:
    """The name an `$a.b` field starts from (None for a literal such as `$1`)."""
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return expr.value if isinstance(expr, cst.Name) else None


def _text(out: list[Piece], text: str) -> None:
    if not text:
        return
    if out and out[-1].expr is None:
        out[-1] = Piece(out[-1].text + text)
    else:
        out.append(Piece(text))


def _expression(text: str) -> cst.BaseExpression | None:
    try:
        return cst.parse_expression(text.strip())
    except (SyntaxError, ValueError, RecursionError, MemoryError, cst.ParserSyntaxError):
        return None


def command_expression(command: str, known: set[str]) -> cst.BaseExpression:
    """The command as a string expression: a plain literal, an f-string, or a concatenation."""
    parts = pieces(command, known)
    if all(p.expr is None for p in parts):
        return quoted("".join(p.text for p in parts))
    sources = [code_of(p.expr) for p in parts if p.expr is not None]
    quote = next((q for q in _QUOTES if all(_fits(s, q) for s in sources)), None)
    if quote is None:
        return _concatenation(parts)
    nodes: list[cst.BaseFormattedStringContent] = []
    for p in parts:
        if p.expr is None:
            nodes.append(cst.FormattedStringText(_escape(p.text, quote)))
        else:
            nodes.append(cst.FormattedStringExpression(_field(p.expr), conversion=p.conversion))
    return cst.FormattedString(parts=nodes, start="f" + quote, end=quote)


def _fits(source: str, quote: str) -> bool:
    """Before 3.12 a field may not hold a backslash, a `#`, or the quote that ends the string
    (a one-character quote anywhere; a triple quote only as the triple)."""
    return "\\" not in source and "#" not in source and quote not in source


def _field(expr: cst.BaseExpression) -> cst.BaseExpression:
    """Parenthesised when a `:`, `!` or `=` in it could read as a format spec or conversion."""
    source = code_of(expr)
    if any(ch in source for ch in ":!=") or source.startswith("{"):
        return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return expr


def _escape(text: str, quote: str) -> str:
    out = []
    for ch in text:
        if ch == "\\" or ch == quote[0]:
            out.append("\\" + ch)
        elif ch in "{}":
            out.append(ch * 2)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def _concatenation(parts: list[Piece]) -> cst.BaseExpression:
    """`'text' + format(expr) + ...` (`format(repr(expr))` for `!r`): what the f-string
    means, for any expression."""
    items: list[cst.BaseExpression] = []
    for p in parts:
        if p.expr is None:
            items.append(quoted(p.text))
            continue
        value = p.expr
        if p.conversion is not None:
            value = cst.Call(cst.Name(_CONVERSIONS[p.conversion]), [cst.Arg(value)])
        items.append(cst.Call(cst.Name("format"), [cst.Arg(value)]))
    result = items[0]
    for item in items[1:]:
        result = cst.BinaryOperation(result, cst.Add(), item)
    return result


def code_of(node: cst.CSTNode) -> str:
    """The source text of one libcst node."""
    return cst.Module([]).code_for_node(node)


class _Pre312(cst.CSTVisitor):
    """Finds f-string fields that only Python 3.12+ accepts (own quote, backslash, `#`)."""

    def __init__(self) -> None:
        self.bad: list[str] = []

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        quote = node.end
        for part in node.parts:
            if isinstance(part, cst.FormattedStringExpression):
                source = code_of(part.expression)
                if not _fits(source, quote):
                    self.bad.append(source)


def portable(source: str) -> bool:
    """`source` parses under Python 3.8 to 3.13: libcst's grammar for each version, and no
    f-string field written the 3.12-only way (libcst accepts those under any version)."""
    try:
        for version in CHECK_VERSIONS:
            module = cst.parse_module(
                source, config=cst.PartialParserConfig(python_version=version)
            )
    except cst.ParserSyntaxError:
        return False
    check = _Pre312()
    module.visit(check)
    return not check.bad
