"""IPython's `{expr}` / `$name` expansion in `!cmd` and magic lines, as a libcst expression.

The command becomes an f-string built from libcst nodes (text parts and expression parts),
with a quote that every Python from 3.8 on accepts: before 3.12 an f-string's expressions may
not hold a backslash, a `#` or the string's own quote. When no quote fits, the command is a
concatenation of literals and `format(expr)` calls (what an f-string field does), so the
generated code always parses, whatever the command holds.
"""

from __future__ import annotations

import ast
import re

import libcst as cst

from .glue import quoted

_DOLLAR = re.compile(r"(?<![\$\\])\$([A-Za-z_]\w*)")
_BRACES = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_QUOTES = ('"', "'", '"""', "'''")
#: Python versions the generated code must parse under (libcst's grammar check)
CHECK_VERSIONS = ("3.8", "3.10")

Piece = tuple[str, cst.BaseExpression | None]  # (literal text, None) or ("", expression)


def pieces(command: str, known: set[str]) -> list[Piece]:
    """The command split into literal text and the expressions IPython expands."""
    command = _DOLLAR.sub(
        lambda m: "{" + m.group(1) + "}" if m.group(1) in known else m.group(0), command
    )
    command = command.replace("$$", "$")
    out: list[Piece] = []
    pos = 0
    for m in _BRACES.finditer(command):
        _text(out, command[pos : m.start()])
        expr = _expression(m.group(1)) if m.group(1) is not None else None
        if expr is not None:
            out.append(("", expr))
        else:  # `{{`, `}}`, an unmatched brace, or braces around no expression: literal
            token = m.group(0)
            _text(out, token[0] if token in ("{{", "}}") else token)
        pos = m.end()
    _text(out, command[pos:])
    return out


def _text(out: list[Piece], text: str) -> None:
    if not text:
        return
    if out and out[-1][1] is None:
        out[-1] = (out[-1][0] + text, None)
    else:
        out.append((text, None))


def _expression(text: str) -> cst.BaseExpression | None:
    if not text.strip():
        return None
    try:
        ast.parse(text.strip(), mode="eval")
        return cst.parse_expression(text.strip())
    except (SyntaxError, ValueError, RecursionError, MemoryError, cst.ParserSyntaxError):
        return None


def command_expression(command: str, known: set[str]) -> cst.BaseExpression:
    """The command as a string expression: a plain literal, an f-string, or a concatenation."""
    parts = pieces(command, known)
    if all(expr is None for _, expr in parts):
        return quoted("".join(text for text, _ in parts))
    sources = [code_of(expr) for _, expr in parts if expr is not None]
    literal = "".join(text for text, _ in parts)
    order = _QUOTES if '"' not in literal or "'" in literal else ("'", *_QUOTES)  # fewest escapes
    quote = next((q for q in order if all(_fits(s, q) for s in sources)), None)
    if quote is None:
        return _concatenation(parts)
    nodes: list[cst.BaseFormattedStringContent] = []
    for text, expr in parts:
        if expr is None:
            nodes.append(cst.FormattedStringText(_escape(text, quote)))
        else:
            nodes.append(cst.FormattedStringExpression(_field(expr)))
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
    """`'text' + format(expr) + ...`: what the f-string means, for any expression."""
    items: list[cst.BaseExpression] = []
    for text, expr in parts:
        if expr is None:
            items.append(quoted(text))
        else:
            items.append(cst.Call(cst.Name("format"), [cst.Arg(expr)]))
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
