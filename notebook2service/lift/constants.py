"""Configuration constants move to module level, where a module keeps its constants.

A notebook's "define constants" cell (`BUCKET = "gs://..."`, `EPOCHS = 10`,
`TRAIN_PATH = f"{DATA_DIR}/train.csv"`, forty of them) used to be one step returning every
name, and every later step took them back as parameters. A constant is not a step's result:
it is the same on every run. So an assignment moves out of its step to module level (after
the imports, in notebook order, with its `# cell N` marker and its comments) when

- it is a top-level `NAME = value` of its cell (not in an `if`, a loop, a `try`);
- `value` is immutable and computed from literals and earlier such constants only: numbers,
  strings, f-strings, `True`/`False`/`None`, tuples, arithmetic and string operators, a few
  string methods on constant strings (`.replace`, `.lower`, `.format`, ...) and
  `os.path.join` of constant strings. No other call, attribute or subscript: nothing that
  could depend on the machine, the data or anything a step does;
- nothing else binds, mutates or deletes the name (one cell binds it, once; no function
  assigns it as a global), and nothing reads it before the assignment (a read earlier in the
  notebook failed there; it must not start to work);
- it is not a papermill parameter (those are `run()`'s keyword arguments) and its name does
  not look like a secret.

Mutable values (lists, dicts, sets) stay in their steps: a module-level list mutated through
an alias in one `run()` would still be mutated in the next. `run()` still returns each moved
constant in its namespace.
"""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from ..dataflow import Flow
from ..redact import is_secret_name
from .build import CellParts

#: str methods that return a new str from str arguments (no I/O, no state)
_STR_METHODS = frozenset(
    "replace lower upper title capitalize casefold strip lstrip rstrip format zfill "
    "removeprefix removesuffix center ljust rjust".split()
)
_KEYWORDS = frozenset({"True", "False", "None"})
STR, VALUE = "str", "value"  # what a constant expression evaluates to


#: where each kind of statement or expression names what it binds
_TARGET_OF: dict[type, str] = {
    cst.AssignTarget: "target",
    cst.AnnAssign: "target",
    cst.AugAssign: "target",
    cst.For: "target",
    cst.NamedExpr: "target",
    cst.Del: "target",
    cst.AsName: "name",
}


class _Binds(cst.CSTVisitor):
    """Every name a statement binds in the cell's scope (not inside functions/classes)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def _targets(self, node: cst.CSTNode | None) -> None:
        if isinstance(node, cst.Name):
            self.names.add(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            for e in node.elements:
                self._targets(e.value)
        elif isinstance(node, cst.StarredElement):
            self._targets(node.value)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            self.names.add(node.name.value)
            return False  # what the body binds is its own
        if isinstance(node, cst.Lambda):
            return False
        attr = _TARGET_OF.get(type(node))
        if attr is not None:
            self._targets(getattr(node, attr))
        return True


class _Mentions(cst.CSTVisitor):
    """Names a statement reads or binds when it runs (a function body runs later)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        for part in (*node.decorators, node.params, node.returns):
            if part is not None:
                part.visit(self)
        self.names.add(node.name.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        node.params.visit(self)
        return False


def _collect(visitor: _Binds | _Mentions, stmts: Iterable[cst.CSTNode]) -> set[str]:
    for stmt in stmts:
        stmt.visit(visitor)
    return visitor.names


def kind_of(expr: cst.BaseExpression, known: dict[str, str], os_module: bool) -> str | None:
    """STR or VALUE for an immutable constant expression over `known` constants, else None."""
    if isinstance(expr, cst.SimpleString):
        return STR
    if isinstance(expr, cst.ConcatenatedString):  # `f"{a}" "b"`: each part must be constant
        parts = (expr.left, expr.right)
        return STR if all(kind_of(p, known, os_module) for p in parts) else None
    if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary)):
        return VALUE
    if isinstance(expr, cst.Name):
        return VALUE if expr.value in _KEYWORDS else known.get(expr.value)
    if isinstance(expr, cst.FormattedString):
        parts = [p for p in expr.parts if isinstance(p, cst.FormattedStringExpression)]
        ok = all(
            kind_of(p.expression, known, os_module)
            and all(
                kind_of(q.expression, known, os_module)
                for q in (p.format_spec or ())
                if isinstance(q, cst.FormattedStringExpression)
            )
            for p in parts
        )
        return STR if ok else None
    if isinstance(expr, cst.Tuple):
        elements = [e for e in expr.elements if not isinstance(e, cst.StarredElement)]
        ok = len(elements) == len(expr.elements)
        return VALUE if ok and all(kind_of(e.value, known, os_module) for e in elements) else None
    if isinstance(expr, cst.UnaryOperation):
        return VALUE if kind_of(expr.expression, known, os_module) else None
    if isinstance(expr, cst.BinaryOperation):
        left, right = kind_of(expr.left, known, os_module), kind_of(expr.right, known, os_module)
        if left is None or right is None:
            return None
        return STR if STR in (left, right) else VALUE
    if isinstance(expr, cst.Call):
        return _call_kind(expr, known, os_module)
    return None


def _call_kind(call: cst.Call, known: dict[str, str], os_module: bool) -> str | None:
    if any(a.star or (a.keyword is not None and a.keyword.value == "") for a in call.args):
        return None
    args = [kind_of(a.value, known, os_module) for a in call.args]
    if None in args or not isinstance(call.func, cst.Attribute):
        return None
    method, owner = call.func.attr.value, call.func.value
    if method in _STR_METHODS and kind_of(owner, known, os_module) == STR:
        return STR
    dotted = cst.Module([]).code_for_node(owner)
    if os_module and dotted == "os.path" and method == "join" and args and set(args) == {STR}:
        return STR
    return None


def is_constant(stmt: cst.CSTNode) -> bool:
    """A module-level definition that is a moved constant (not a def or class)."""
    return isinstance(stmt, cst.SimpleStatementLine)


def _assignment(stmt: cst.BaseStatement) -> tuple[str, cst.BaseExpression] | None:
    """`NAME = value` / `NAME: T = value` alone on its line."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    small = stmt.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        if isinstance(target, cst.Name):
            return target.value, small.value
    if isinstance(small, cst.AnnAssign) and small.value is not None:
        if isinstance(small.target, cst.Name):
            return small.target.value, small.value
    return None


def _fixed(flow: Flow) -> tuple[dict[str, int], set[str]]:
    """(how many cells bind each name, names something mutates, deletes or assigns as a
    global from a function)."""
    binders: dict[str, int] = {}
    changed: set[str] = set()
    for f in flow.cells:
        for n in f.defs:
            binders[n] = binders.get(n, 0) + 1
        changed |= {m.name for m in f.mutations} | set(f.deletes)
        changed |= {s.name for s in f.self_updates}
    for fns in flow.functions.values():
        for fn in fns:
            changed |= fn.assigns_globals
    return binders, changed


def hoist_constants(
    cells: list[CellParts],
    flow: Flow,
    module_names: set[str],
    skip_cells: set[int],
) -> list[str]:
    """Move each cell's constant assignments from its body to its module-level definitions
    (in statement order); returns the names moved, in notebook order."""
    binders, changed = _fixed(flow)
    os_module = "os" in module_names and flow.imports.get("os", "os") == "os"
    known: dict[str, str] = {}
    read_before: set[str] = set()  # names some earlier statement mentions
    for c in cells:
        if c.index in skip_cells or c.error is not None:
            read_before |= _collect(_Mentions(), c.ordered)
            continue
        moved = _cell_constants(c, binders, changed, module_names, known, read_before, os_module)
        if moved:
            order = {id(s): k for k, s in enumerate(c.ordered)}
            c.body = [s for s in c.body if id(s) not in moved]
            defs = list(c.definitions) + [s for s in c.ordered if id(s) in moved]
            c.definitions = sorted(defs, key=lambda s: order.get(id(s), 0))  # type: ignore[arg-type]
    return list(known)


def _cell_constants(
    c: CellParts,
    binders: dict[str, int],
    changed: set[str],
    module_names: set[str],
    known: dict[str, str],
    read_before: set[str],
    os_module: bool,
) -> set[int]:
    """The ids of `c`'s body statements that are constants (their names added to `known`)."""
    in_body = {id(s) for s in c.body}
    binds = [_collect(_Binds(), [s]) for s in c.ordered]
    moved: set[int] = set()
    for stmt in c.ordered:
        found = _assignment(stmt) if id(stmt) in in_body else None
        if found is not None:
            name, value = found
            kind = kind_of(value, known, os_module)
            once = sum(name in b for b in binds) == 1 and binders.get(name, 0) <= 1
            if (
                kind is not None
                and once
                and name not in changed | module_names | read_before
                and not is_secret_name(name)
                and not (name.startswith("__") and name.endswith("__"))
            ):
                known[name] = kind
                moved.add(id(stmt))
                continue
        read_before |= _collect(_Mentions(), [stmt])
    return moved
