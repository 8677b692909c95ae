"""Statements that IPython runs in a scope of their own, and cell-magic bodies that need a
block around them, built as libcst nodes.

`%timeit stmt` and `%%timeit` compile their code into a function (IPython's `Timer`), with the
notebook's namespace as globals: the code reads the notebook's names, and what it assigns stays
local to that function (`%timeit counts, edges = f()` does not rebind `counts`; `%time` does).
The package keeps that: the code runs once, inside a throwaway function it calls at once, so
its errors and side effects on objects still happen, but no name it binds reaches the step.
"""

from __future__ import annotations

import ast
import builtins
import textwrap

import libcst as cst

from ..dataflow import evaluated_names
from .glue import EQUAL

#: the throwaway function; steps keep it in place (it is never hoisted to module level)
SCOPE_FUNCTION = "_nb2svc_timeit"


def comment_line(text: str) -> cst.EmptyLine:
    return cst.EmptyLine(comment=cst.Comment("# " + text))


def _parse(source: str) -> cst.Module | None:
    try:
        return cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return None


def _block(source: str) -> cst.IndentedBlock | None:
    """`source` as an indented block, its comments kept; None when it does not parse or
    holds no statement."""
    module = _parse(source)
    body = list(module.body) if module is not None else []
    if module is None or not body:
        return None
    body[0] = body[0].with_changes(leading_lines=[*module.header, *body[0].leading_lines])
    return cst.IndentedBlock(body, footer=module.footer)


def own_scope(source: str, indent: str, magic: str) -> str | None:
    """`source` run once inside a function of its own, as source at `indent`; None when it
    does not parse."""
    block = _block(source)
    if block is None:
        return None
    note = (
        f"nb2svc: {magic} runs this in a scope of its own (names it binds stay there); "
        "run once, not timed"
    )
    func = cst.FunctionDef(
        name=cst.Name(SCOPE_FUNCTION),
        params=_evaluated_parameters(source),
        body=block,
        leading_lines=[comment_line(note)],
    )
    call = cst.SimpleStatementLine([cst.Expr(cst.Call(cst.Name(SCOPE_FUNCTION)))])
    return textwrap.indent(cst.Module([func, call]).code, indent).rstrip("\n")


def _evaluated_parameters(source: str) -> cst.Parameters:
    """`(df1=df1, ...)` for the names the code reads only through a string it evaluates
    (`pd.eval("df1 + df2")`, `df.query("a < @limit")`): those look names up in the calling
    frame, and a function's frame holds only its own locals (here: these defaults), not the
    enclosing step's."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return cst.Parameters()
    seen = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names = dict.fromkeys(
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for name in evaluated_names(node)
        if name not in seen and not hasattr(builtins, name)
    )
    return cst.Parameters(
        [
            cst.Param(
                cst.Name(n),
                default=cst.Name(n),
                equal=EQUAL,
            )
            for n in names
        ]
    )


def captured(source: str, target: str) -> str | None:
    """`%%capture target`: the body under `with contextlib.redirect_stdout(io.StringIO())`
    (a body that does not parse stays as it is, and the cell is reported unparsable)."""
    if _parse(source) is None:
        return None
    block = _block(source) or cst.IndentedBlock([cst.SimpleStatementLine([cst.Pass()])])
    item = cst.WithItem(
        cst.parse_expression("contextlib.redirect_stdout(io.StringIO())"),
        asname=cst.AsName(cst.Name(target)),
    )
    return cst.Module([cst.With([item], block)]).code.rstrip("\n")


class _TopLevelAwait(cst.CSTTransformer):
    """`await x` outside any `async def` (IPython's autoawait) → `run_await(x)`."""

    def __init__(self) -> None:
        self.count = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node.asynchronous is None  # inside `async def`, `await` is already valid

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def leave_Await(self, original: cst.Await, updated: cst.Await) -> cst.BaseExpression:
        self.count += 1
        call = cst.Call(cst.Name("run_await"), [cst.Arg(updated.expression)])
        return call.with_changes(lpar=updated.lpar, rpar=updated.rpar)


def top_level_awaits(module: cst.Module) -> tuple[cst.Module, int]:
    """A cell's top-level `await`s, run to completion by the runtime's one event loop (a step
    is a plain function, where `await` is a SyntaxError)."""
    fix = _TopLevelAwait()
    return module.visit(fix), fix.count
