"""Displayed values: a cell's last expression, which Jupyter shows as ``Out[n]``, stays observable.

In a notebook the value of a cell's last expression statement goes to IPython's display hook
(unless the line ends with ``;``, or the value is None). Copied as is into a step it would be a
dead expression, computed and thrown away. This pass passes it to the package's
``show_result(value, cell=N)`` (``nb2svc_runtime.notebook``): logged at INFO with the cell number, printed
under ``python -m PKG --show``, and recorded by ``nb2svc verify`` to compare with the notebook's
``execute_result``. The call is a libcst node around the user's own expression node.
"""

from __future__ import annotations

import re

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .build import CellParts
from .glue import EQUAL
from .magics import Action

HOOK = "show_result"

#: calls that return None by convention: wrapping them would display nothing, only add noise
_NONE_CALLS = frozenset({"print", "display", "pprint", "shell", "exec"})
_NONE_METHODS = frozenset({"show", "close", "clf", "cla", "savefig"})
#: magics whose line (or cell) still displays its statement's value in IPython
_DISPLAYING = re.compile(r"^%%?time\b(?!it)")


def _returns_none(expr: cst.BaseExpression, defined: set[str]) -> bool:
    """A call known to return None: `print(...)`, `plt.show()`, code convert wrote; not when
    the notebook defines the name itself (a `display` class shows its instances)."""
    if not isinstance(expr, cst.Call):
        return False
    func = expr.func
    if isinstance(func, cst.Name):  # _nb2svc_*: code convert wrote for IPython syntax
        if func.value in defined:
            return False
        return func.value in _NONE_CALLS or func.value.startswith("_nb2svc")
    return isinstance(func, cst.Attribute) and func.attr.value in _NONE_METHODS


def _last_expression(parts: CellParts, defined: set[str]) -> cst.SimpleStatementLine | None:
    """The cell's last statement when IPython would display it: an expression statement, in the
    step body, not ended by `;`."""
    if not parts.ordered or parts.error is not None:
        return None
    last = parts.ordered[-1]
    if not isinstance(last, cst.SimpleStatementLine) or not any(s is last for s in parts.body):
        return None
    small = last.body[-1]
    if not isinstance(small, cst.Expr) or not isinstance(small.semicolon, cst.MaybeSentinel):
        return None
    value = small.value
    if _returns_none(value, defined) or (isinstance(value, cst.Name) and value.value == "None"):
        return None
    return last


def _lines_of(source: str, stmt: cst.SimpleStatementLine) -> tuple[int, int] | None:
    """The 1-based lines of the cell's last statement (the one `stmt` is)."""
    try:
        wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    except cst.ParserSyntaxError:
        return None
    body = wrapper.module.body
    if not body:
        return None
    pos = wrapper.resolve(PositionProvider)[body[-1]]
    return pos.start.line, pos.end.line


def _magic_suppresses(
    parts: CellParts, stmt: cst.SimpleStatementLine, actions: list[Action]
) -> bool:
    """IPython syntax on the last statement (or a cell magic) decides its display, and every
    magic but `%time` / `%%time` returns None: `%timeit x`, `!cmd`, `%%capture` show nothing."""
    mine = [a for a in actions if a.cell == parts.index]
    if any(a.syntax.startswith("%%") and not _DISPLAYING.match(a.syntax) for a in mine):
        return True
    lines = _lines_of(parts.raw, stmt) if mine else None
    if lines is None:
        return bool(mine) and any(not _DISPLAYING.match(a.syntax) for a in mine)
    start, end = lines
    return any(start <= a.line <= end and not _DISPLAYING.match(a.syntax) for a in mine)


def _wrapped(stmt: cst.SimpleStatementLine, cell: int) -> cst.SimpleStatementLine:
    expr = cst.ensure_type(stmt.body[-1], cst.Expr)
    value = expr.value
    if isinstance(value, cst.Tuple) and not value.lpar:  # `a, b` needs parentheses as an argument
        value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    call = cst.Call(
        cst.Name(HOOK),
        [cst.Arg(value), cst.Arg(cst.Integer(str(cell)), keyword=cst.Name("cell"), equal=EQUAL)],
    )
    return stmt.with_changes(body=[*stmt.body[:-1], expr.with_changes(value=call)])


def show_displayed(parts: CellParts, actions: list[Action], defined: set[str]) -> bool:
    """Pass the cell's displayed last expression to `show_result`; True when it did.
    `defined`: the names the notebook's cells define."""
    last = _last_expression(parts, defined)
    if last is None or _magic_suppresses(parts, last, actions):
        return False
    new = _wrapped(last, parts.index)
    parts.ordered = [new if s is last else s for s in parts.ordered]
    parts.body = [new if s is last else s for s in parts.body]
    return True
