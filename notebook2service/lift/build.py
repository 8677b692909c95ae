"""libcst transforms: cells → hoisted imports, module-level definitions and step functions.

Every statement is moved as a libcst node, so comments and formatting inside it survive;
nothing here edits Python source as text. The only text produced is what libcst renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ..dataflow import BUILTINS
from ..ipython import complexity_error
from . import pieces
from .glue import (
    EQUAL,
    STEP,
    break_line,
    dotted,
    function,
    global_statements,
    items,
    laid_out,
    names_tuple,
    opening,
    quoted,
)
from .module import Span, docstring
from .plan import Plan, Step
from .scoped import SCOPE_FUNCTION, comment_line, top_level_awaits


@dataclass
class CellParts:
    index: int
    label: str  # "cell 5 (In[3])"
    imports: list[cst.SimpleStatementLine] = field(default_factory=list)
    definitions: list[cst.BaseCompoundStatement] = field(default_factory=list)
    body: list[cst.BaseStatement] = field(default_factory=list)
    header: list[cst.EmptyLine] = field(default_factory=list)  # leading comments of the cell
    footer: list[cst.EmptyLine] = field(default_factory=list)
    error: str | None = None
    raw: str = ""
    ordered: list[cst.BaseStatement] = field(default_factory=list)  # every statement, in order
    main_checks: int = 0  # `__name__ == "__main__"` tests made `True`
    awaits: int = 0  # top-level `await`s made `run_await(...)`
    lines: list[int] = field(default_factory=list)  # each of `ordered`'s first line (pieces.py)


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def _names_in(nodes: list[cst.CSTNode]) -> set[str]:
    v = _Names()
    for n in nodes:
        n.visit(v)
    return v.names


def _definition_time_names(node: cst.BaseCompoundStatement) -> tuple[set[str], set[str]]:
    """Names a def/class evaluates when it is defined: (decorators, everything else:
    defaults, bases, and a class body's own statements outside its methods)."""
    parts: list[cst.CSTNode] = []
    decorators = _names_in([d.decorator for d in node.decorators])  # type: ignore[attr-defined]
    if isinstance(node, cst.FunctionDef):
        params = node.params
        star = [a for a in (params.star_arg, params.star_kwarg) if isinstance(a, cst.Param)]
        for p in (*params.posonly_params, *params.params, *params.kwonly_params, *star):
            if p.default is not None:
                parts.append(p.default)
            if p.annotation is not None:  # evaluated when the function is defined
                parts.append(p.annotation)
        if node.returns is not None:
            parts.append(node.returns)
    elif isinstance(node, cst.ClassDef):
        parts += [a.value for a in node.bases] + [a.value for a in node.keywords]
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else []
        for stmt in body:
            if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                parts.append(stmt)
            else:  # a method's decorators and defaults run with the class body
                parts += [d.decorator for d in stmt.decorators]
    names = _names_in(parts)
    if isinstance(node, cst.ClassDef):  # names the class body binds itself are not needs
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else []
        bound = set()
        for stmt in body:
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                bound.add(stmt.name.value)
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    targets = getattr(small, "targets", None) or []
                    for t in targets:
                        if isinstance(t.target, cst.Name):
                            bound.add(t.target.value)
                    target = getattr(small, "target", None)
                    if isinstance(target, cst.Name):
                        bound.add(target.value)
        names -= bound
    return decorators, names


def _is_import_line(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def import_names(stmt: cst.SimpleStatementLine) -> list[str]:
    out: list[str] = []
    for s in stmt.body:
        if isinstance(s, cst.Import):
            for a in s.names:
                if a.asname is not None:
                    out.append(cst.ensure_type(a.asname.name, cst.Name).value)
                else:
                    out.append(cst.Module([]).code_for_node(a.name).split(".")[0])
        elif isinstance(s, cst.ImportFrom) and not isinstance(s.names, cst.ImportStar):
            for a in s.names:
                if a.asname is not None:
                    out.append(cst.ensure_type(a.asname.name, cst.Name).value)
                else:
                    out.append(cst.ensure_type(a.name, cst.Name).value)
    return out


class NotebookMain(cst.CSTTransformer):
    """`__name__ == "__main__"` is true in a notebook and false in a module: make it `True`."""

    def __init__(self) -> None:
        self.count = 0

    def leave_Comparison(
        self, original: cst.Comparison, updated: cst.Comparison
    ) -> cst.BaseExpression:
        if len(updated.comparisons) != 1 or not isinstance(
            updated.comparisons[0].operator, cst.Equal
        ):
            return updated
        sides = {
            cst.Module([]).code_for_node(updated.left).strip(),
            cst.Module([]).code_for_node(updated.comparisons[0].comparator).strip(),
        }
        if "__name__" in sides and sides & {'"__main__"', "'__main__'"}:
            self.count += 1
            return cst.Name("True")
        return updated


def _runs_in_place(stmt: cst.BaseCompoundStatement) -> bool:
    """A `%timeit` scope function: defined and called where the statement was, never hoisted."""
    return isinstance(stmt, cst.FunctionDef) and stmt.name.value == SCOPE_FUNCTION


def split_cell(index: int, label: str, source: str) -> CellParts:
    parts = CellParts(index, label, raw=source)
    parts.error = complexity_error(source)  # before libcst sees it (it can segfault)
    if parts.error is not None:
        return parts
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        parts.error = f"line {exc.raw_line}: {exc.message}"
        return parts
    except (RecursionError, MemoryError):
        parts.error = "too deeply nested to parse"
        return parts
    if "await" in source:
        module, parts.awaits = top_level_awaits(module)
    if "__main__" in source:
        main_check = NotebookMain()
        module = module.visit(main_check)
        parts.main_checks = main_check.count
    parts.header = [ln for ln in module.header if ln.comment is not None]
    parts.footer = [ln for ln in module.footer if ln.comment is not None]
    parts.ordered = list(module.body)
    for stmt in module.body:
        if _is_import_line(stmt):
            parts.imports.append(stmt)  # type: ignore[arg-type]
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and not _runs_in_place(stmt):
            parts.definitions.append(stmt)
        else:
            parts.body.append(stmt)
    return parts


def choose_hoisting(
    cells: list[CellParts], assigned_elsewhere: dict[str, int]
) -> tuple[set[str], set[str]]:
    """Decide which imports and definitions go to module level; the rest move back into the
    cell body. Returns (module-level names, names of module-level functions/classes)."""
    module: set[str] = set()
    for c in cells:
        for stmt in c.imports:
            module.update(import_names(stmt))
    imported = set(module)
    def_counts: dict[str, int] = {}
    for c in cells:
        for d in c.definitions:
            def_counts[d.name.value] = def_counts.get(d.name.value, 0) + 1  # type: ignore[attr-defined]
    functions: set[str] = set()
    for c in cells:
        keep: list[cst.BaseCompoundStatement] = []
        moved_back = False
        for d in c.definitions:
            name = d.name.value  # type: ignore[attr-defined]
            decorators, others = _definition_time_names(d)
            # a decorator the notebook wrote may have side effects on notebook state (a
            # registry...): it must run in the step, in notebook order, not at import
            needs = (decorators - BUILTINS - imported) | (others - BUILTINS - module)
            redefined = def_counts[name] > 1 or assigned_elsewhere.get(name, 0) > 0
            if needs or redefined:
                moved_back = True
                continue
            keep.append(d)
            module.add(name)
            functions.add(name)
        if moved_back:
            # definitions that cannot live at module level stay in the step, in cell order
            kept = {id(d) for d in keep} | {id(m) for m in c.imports}
            c.body = [stmt for stmt in c.ordered if id(stmt) not in kept]
            c.definitions = keep
    return module, functions


def _kept_as_comment(raw: str, limit: int = 1000) -> list[cst.EmptyLine]:
    """A cell that cannot be parsed, as comment lines; a huge one only begins (it stays in
    the notebook)."""
    src = raw.split("\n", limit)
    rest = src.pop() if len(src) > limit else None
    lines = [comment_line(ln[:2000]) if ln.strip() else cst.EmptyLine() for ln in src]
    if rest is not None:
        lines.append(comment_line(f"nb2svc: {rest.count(chr(10)) + 1:,} more lines not copied"))
    return lines


def _without_blank_lines_above(stmt: cst.BaseStatement) -> cst.BaseStatement:
    """`stmt` without the blank lines that open its leading lines (what was above it in the
    cell may have moved away: a hoisted import or definition)."""
    lines = list(stmt.leading_lines)  # type: ignore[attr-defined]
    while lines and lines[0].comment is None:
        lines.pop(0)
    return stmt.with_changes(leading_lines=lines)  # type: ignore[attr-defined]


def _with_leading(stmt: cst.BaseStatement, lines: list[cst.EmptyLine]) -> cst.BaseStatement:
    return stmt.with_changes(leading_lines=[*lines, *stmt.leading_lines])  # type: ignore[attr-defined]


#: where the generated code's notebook helpers live (the installed, pinned nb2svc-runtime)
RUNTIME_HELPERS = "nb2svc_runtime.notebook"


def import_statement(module: str) -> cst.SimpleStatementLine:
    """`import module`."""
    return cst.SimpleStatementLine([cst.Import([cst.ImportAlias(dotted(module))])])


def helpers_import(helpers: list[str]) -> cst.SimpleStatementLine:
    """`from nb2svc_runtime.notebook import a, b`: the helpers the package's code calls."""
    names = [cst.ImportAlias(cst.Name(h)) for h in sorted(helpers)]

    def make(wrap: bool) -> cst.SimpleStatementLine:
        brackets = {"lpar": cst.LeftParen(whitespace_after=opening(True)), "rpar": cst.RightParen()}
        return cst.SimpleStatementLine(
            [
                cst.ImportFrom(
                    module=dotted(RUNTIME_HELPERS),
                    names=items(names, wrap),
                    **(brackets if wrap else {}),  # type: ignore[arg-type]
                )
            ]
        )

    return laid_out(make)


class _GlobalAnnotations(cst.CSTTransformer):
    """`x: T = v` where the step declares `global x` is a SyntaxError: it becomes `x = v`
    (an annotation alone, `x: T`, binds nothing and becomes `pass`)."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested function's names are its own

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_AnnAssign(
        self, original: cst.AnnAssign, updated: cst.AnnAssign
    ) -> cst.BaseSmallStatement:
        if not (isinstance(updated.target, cst.Name) and updated.target.value in self.names):
            return updated
        if updated.value is None:
            return cst.Pass()
        return cst.Assign([cst.AssignTarget(updated.target)], updated.value)


def without_global_annotations(
    body: list[cst.BaseStatement], names: list[str]
) -> list[cst.BaseStatement]:
    if not names:
        return body
    fix = _GlobalAnnotations(set(names))
    return [stmt.visit(fix) for stmt in body]  # type: ignore[misc]


def end_of_cell(step: str, cell: CellParts) -> cst.SimpleStatementLine:
    """`end_cell("step", N)`: the inline backend's end of a cell (figures shown, closed)."""
    call = cst.Call(
        cst.Name("end_cell"),
        [cst.Arg(quoted(step)), cst.Arg(cst.Integer(str(cell.index)))],
    )
    return cst.SimpleStatementLine([cst.Expr(call)], leading_lines=cell.footer)


def step_function(
    step: Step,
    cells: dict[int, CellParts],
    doc: str,
    figures: bool = False,
    spans: list[Span] | None = None,
) -> cst.FunctionDef:
    """The step's function; each cell's statements in it are appended to `spans`."""
    body: list[cst.BaseStatement] = []
    pending: list[cst.EmptyLine] = []
    for idx in step.cells:
        c = cells[idx]
        span = step.spans.get(idx)  # part of the cell (lift/pieces.py)
        first, last = span is None or span[0] == 0, span is None or span[1] == pieces.END
        marker = [comment_line(c.label)] + (c.header if first else [])
        footer = c.footer if last else []
        if c.error is not None:
            lines = [
                comment_line(
                    f"nb2svc: this cell could not be parsed ({c.error}); kept as a comment"
                )
            ]
            lines += _kept_as_comment(c.raw)
            pending += marker + lines
            continue
        stmts = pieces.statements(c, span)
        if not stmts:
            pending += marker + footer
            continue
        stmts[0] = _with_leading(_without_blank_lines_above(stmts[0]), pending + marker)
        if figures and last:
            pending, stmts = [], [*stmts, end_of_cell(step.name, c)]
        else:
            pending = list(footer)
        stmts = without_global_annotations(stmts, step.global_names)
        body.extend(stmts)
        if spans is not None:
            spans.append(Span(idx, stmts))
    head: list[cst.BaseStatement] = [docstring(doc), *global_statements(step.global_names, 4)]
    tail: list[cst.BaseStatement] = []
    if step.returns:
        tail.append(_returns(step.returns))
    elif not body:
        tail.append(cst.SimpleStatementLine([cst.Pass()]))
    if pending:
        if tail:
            tail[0] = _with_leading(tail[0], pending)
        else:
            tail.append(_with_leading(cst.SimpleStatementLine([cst.Pass()]), pending))
    params = [cst.Param(cst.Name(p)) for p in step.params]
    return function(step.name, lambda wrap: cst.Parameters(items(params, wrap)), head + body + tail)


def _returns(names: list[str]) -> cst.SimpleStatementLine:
    """A step's `return a, b` (in a function body)."""
    return laid_out(lambda wrap: cst.SimpleStatementLine([cst.Return(names_tuple(names, wrap))]), 4)


def run_function(plan: Plan) -> cst.FunctionDef:
    """`run(*, parameters)`: the steps called in notebook order; returns the namespace."""
    body: list[cst.BaseStatement] = [
        docstring("Replay the notebook top-down; returns its final namespace.")
    ]
    bound: list[str] = [p.name for p in plan.parameters] + list(plan.constants)
    for step in plan.steps:
        body.append(_call(step))
        bound += [n for n in step.returns if n not in bound]
    names = [cst.DictElement(quoted(n), cst.Name(n)) for n in bound]
    body.append(
        laid_out(
            lambda wrap: cst.SimpleStatementLine(
                [cst.Return(cst.Dict(items(names, wrap), lbrace=cst.LeftCurlyBrace(opening(wrap))))]
            ),
            4,
        )
    )
    return function("run", lambda wrap: _run_parameters(plan, wrap), body)


def _run_parameters(plan: Plan, wrap: bool) -> cst.Parameters:
    """`*, name=default, ...`: the notebook's papermill parameters, keyword-only."""
    if not plan.parameters:
        return cst.Parameters()
    params = [
        cst.Param(cst.Name(p.name), default=cst.parse_expression(p.default_source), equal=EQUAL)
        for p in plan.parameters
    ]
    star = cst.ParamStar(cst.Comma(whitespace_after=break_line(STEP))) if wrap else cst.ParamStar()
    return cst.Parameters(kwonly_params=items(params, wrap), star_arg=star)


def _call(step: Step) -> cst.SimpleStatementLine:
    """`a, b = step(x, y)` (or `step(x, y)`) in run()."""

    def make(wrap: bool) -> cst.SimpleStatementLine:
        args = items([cst.Arg(cst.Name(p)) for p in step.params], wrap and bool(step.params))
        call = cst.Call(
            cst.Name(step.name), args, whitespace_before_args=opening(wrap and bool(args))
        )
        if not step.returns:
            return cst.SimpleStatementLine([cst.Expr(call)])
        target = cst.AssignTarget(names_tuple(step.returns, wrap and len(step.returns) > 1))
        return cst.SimpleStatementLine([cst.Assign([target], call)])

    return laid_out(make, 4)
