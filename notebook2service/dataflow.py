"""Per-cell facts and the cross-cell graph, from one stdlib ``ast`` walk per cell.

For every code cell: the names it defines, reads (before defining them itself), deletes and
mutates, the functions and classes it defines with the globals their bodies read (resolved
when they are *called*, not where they are defined), plus the facts production rules need
(string literals with their context, calls with qualified names, imports). Rules read these
facts; nothing here reports.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .exports import Exports, StarResolver, target_names
from .ipython import Translation, translate
from .notebook import Cell, Notebook

BUILTINS = frozenset(dir(builtins)) | {"__file__", "__builtins__", "__name__", "__doc__"}

#: names IPython puts in the user namespace (reported as production blockers, not as undefined)
IPYTHON_GLOBALS = frozenset(
    {
        "In",
        "Out",
        "get_ipython",
        "display",
        "exit",
        "quit",
        "_",
        "__",
        "___",
        "_i",
        "_ii",
        "_iii",
        "_oh",
        "_ih",
        "_dh",
    }
)

#: method calls that change their receiver in place
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "popitem",
        "clear",
        "update",
        "add",
        "discard",
        "setdefault",
        "sort",
        "reverse",
        "appendleft",
        "extendleft",
        "rotate",
        "fit",
        "partial_fit",
        "fit_transform",
        "fit_predict",
        "fit_resample",
        "set_params",
        "compile",
        "load_state_dict",
        "zero_grad",
        "train",
        "eval",
        "set_index_inplace",
        "resize",
        "fill",
        "itemset",
        "put",
        "setflags",
        "__setitem__",
        "__delitem__",
    }
)
#: mutations that accumulate (running the cell twice adds twice)
ACCUMULATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "add",
        "update",
        "setdefault",
        "appendleft",
        "extendleft",
        "partial_fit",
        "rotate",
    }
)
#: functions that shuffle or fill their first argument in place
MUTATING_FUNCTIONS = frozenset({"shuffle"})


def is_ipython_global(name: str) -> bool:
    if name in IPYTHON_GLOBALS:
        return True
    if name.startswith("_i") and name[2:].isdigit():
        return True
    return name.startswith("_") and name[1:].isdigit()


@dataclass(frozen=True)
class Use:
    name: str
    line: int
    col: int
    via: str | None = None  # the function whose call reads the name


@dataclass
class Mutation:
    name: str
    line: int
    col: int
    how: str  # e.g. ".append()", "item assignment", "inplace=True"
    accumulating: bool = False
    #: the receiver is a method call's result (`d.get(k).append(x)`): a mutation of the name
    #: only when that is not an imported module or class (`sklearn.svm.SVC().fit(X)`)
    through_call: bool = False


@dataclass
class SelfUpdate:
    name: str
    line: int
    col: int
    how: str
    strong: bool


@dataclass
class StringLit:
    value: str
    line: int
    col: int
    context: str | None  # assignment target, keyword or dict key the string is bound to
    docstring: bool = False
    #: the literal continues something computed (`prefix + "/data"`, `f"{root}/data"`): it is
    #: not the start of the string the program uses
    continuation: bool = False


@dataclass
class Call:
    func: str  # dotted name as written: 'np.random.seed'
    line: int
    col: int
    keywords: dict[str, ast.expr]
    nargs: int
    args: tuple[ast.expr, ...] = ()  # positional arguments, as written


@dataclass
class Function:
    name: str
    cell: int  # cell index
    line: int
    free: set[str]  # global names the body reads
    assigns_globals: set[str]  # names bound through `global` statements
    kind: str = "function"  # function | class | lambda


@dataclass
class StatementFlow:
    """One top-level statement of a cell (a `%timeit` group counts as one): what it reads
    (every name, also those it binds first), binds, rebinds as a whole for sure (`kills`:
    a plain assignment, import or def; not a binding inside `if`/`for`), mutates and calls."""

    nodes: list[ast.stmt]
    reads: set[str] = field(default_factory=set)
    binds: set[str] = field(default_factory=set)
    kills: set[str] = field(default_factory=set)
    mutations: list[Mutation] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.nodes[0].lineno


def _kills(node: ast.stmt) -> set[str]:
    """Names a top-level statement surely rebinds as a whole."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    targets = node.targets if isinstance(node, ast.Assign) else []
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        targets = [node.target]
    return {n.id for t in targets for n in target_names(t)}


@dataclass
class CellFlow:
    cell: Cell
    translation: Translation
    defs: dict[str, tuple[int, int]] = field(default_factory=dict)
    uses: list[Use] = field(default_factory=list)
    all_reads: set[str] = field(default_factory=set)
    mutations: list[Mutation] = field(default_factory=list)
    deletes: dict[str, tuple[int, int]] = field(default_factory=dict)
    self_updates: list[SelfUpdate] = field(default_factory=list)
    strings: list[StringLit] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    imports: dict[str, str] = field(default_factory=dict)  # local name -> qualified name
    #: star imports whose names are not all known (a library, or a local module not followed)
    star_imports: list[tuple[str, int, int]] = field(default_factory=list)
    #: names bound by star imports of local modules that were followed (exports.py)
    star_names: set[str] = field(default_factory=set)
    #: why each of those could not be followed completely (module -> one line)
    star_reasons: dict[str, str] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    #: reads of functions/classes this cell itself defined (their bodies' reads happen here)
    local_calls: list[Use] = field(default_factory=list)
    #: the cell's top-level statements, one by one (statement-level def/use)
    statements: list[StatementFlow] = field(default_factory=list)

    @property
    def parsed(self) -> bool:
        return self.translation.tree is not None

    @property
    def writes(self) -> set[str]:
        return set(self.defs) | {m.name for m in self.mutations}


def _root_name(node: ast.AST) -> ast.Name | None:
    while True:
        if isinstance(node, ast.Name):
            return node
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def _receiver(node: ast.AST) -> tuple[ast.Name | None, bool]:
    """The name a method call's receiver is reached from, and whether through a call; None
    for a fresh result (`SVC(...).fit(X)`: a call of a plain name changes nothing named)."""
    through_call = False
    while True:
        if isinstance(node, ast.Name):
            return node, through_call
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            through_call, node = True, node.func.value
        else:
            return None, through_call


#: calls that evaluate a string in the caller's namespace (every name in it is read there):
#: `pd.eval("a + b")`, `numexpr.evaluate("x > 0")`, `eval("x + 1")`
_STRING_EVALUATORS = frozenset(
    {("pd", "eval"), ("pandas", "eval"), ("numexpr", "evaluate"), ("ne", "evaluate"), ("", "eval")}
)
#: methods that evaluate a string over a frame's columns and read `@name` from the caller
_AT_EVALUATORS = frozenset({"eval", "query"})
_AT_NAME = re.compile(r"@([A-Za-z_]\w*)")


def evaluated_names(call: ast.Call) -> list[str]:
    """Names a call reads from its caller's namespace through the string it evaluates:
    every name of `pd.eval(...)` / `numexpr.evaluate(...)` / `eval(...)`, the `@name`s of
    `df.query(...)` / `df.eval(...)` (their other names are columns)."""
    text = call.args[0] if call.args else None
    if not (isinstance(text, ast.Constant) and isinstance(text.value, str)):
        return []
    func = call.func
    receiver = func.value if isinstance(func, ast.Attribute) else None
    key = (
        (receiver.id if isinstance(receiver, ast.Name) else ".", func.attr)
        if isinstance(func, ast.Attribute)
        else ("", getattr(func, "id", ""))
    )
    if key in _STRING_EVALUATORS:
        try:
            tree = ast.parse(text.value.strip())
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return []
        names = (n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
        return list(dict.fromkeys(names))
    if receiver is not None and key[1] in _AT_EVALUATORS:
        return list(dict.fromkeys(_AT_NAME.findall(text.value)))
    return []


def dotted(node: ast.AST, calls: bool = False) -> str | None:
    """`a.b.c` for an attribute chain on a name; with `calls`, a call at the root is kept as
    `f()`, so `boto3.client("sagemaker").create_endpoint` reads `boto3.client().create_endpoint`."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        root: str | None = node.id
    elif calls and isinstance(node, ast.Call):
        inner = dotted(node.func, calls=True)
        root = f"{inner}()" if inner else None
    else:
        root = None
    return ".".join([root, *reversed(parts)]) if root else None


_SKIP_FIELDS = frozenset({"ctx", "op", "type_comment"})


class Visitor:
    """``ast.NodeVisitor`` with a per-class dispatch cache that skips ``ctx`` and operator
    nodes: about half the node visits of a cell are those, and they carry no facts."""

    _dispatch: dict[type, object]

    def __init_subclass__(cls) -> None:
        cls._dispatch = {}

    def visit(self, node: ast.AST) -> None:
        cls = node.__class__
        method = self._dispatch.get(cls)
        if method is None:
            method = getattr(type(self), "visit_" + cls.__name__, None) or type(self).generic_visit
            self._dispatch[cls] = method
        method(self, node)  # type: ignore[operator]

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            if name in _SKIP_FIELDS:
                continue
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)


def _context_name(targets: list[ast.expr]) -> str | None:
    """The name a value is bound to: `x = …`, `obj.x = …`, `d["x"] = …`."""
    if len(targets) != 1:
        return None
    t = targets[0]
    if isinstance(t, ast.Name):
        return t.id
    if isinstance(t, ast.Attribute):
        return t.attr
    if isinstance(t, ast.Subscript):
        s = t.slice
        if isinstance(s, ast.Constant) and isinstance(s.value, str):
            return s.value
    return None


# --------------------------------------------------------------------------------------
# function bodies: free (global) names, resolved when called
# --------------------------------------------------------------------------------------
class _Literals(Visitor):
    """String literals (with the name they are bound to) and calls, for the production rules.

    Shared by the module-scope walk and the walk of deferred bodies, so both record the same
    facts into the cell's flow (`sink`); `sink` None records nothing."""

    sink: CellVisitor | None
    context: list[str | None]

    def _string(self, node: ast.Constant, docstring: bool = False, cont: bool = False) -> None:
        if self.sink is not None:
            line, col = self.sink.pos(node)
            ctx = None if docstring else self.context[-1]
            lit = StringLit(node.value, line, col, ctx, docstring, cont)
            self.sink.flow.strings.append(lit)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        right = node.right
        if (
            isinstance(node.op, ast.Add)
            and isinstance(right, ast.Constant)
            and isinstance(right.value, str)
            and not (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str))
        ):  # `prefix + "/data"`: the literal is not where the path starts
            self.visit(node.left)
            self._string(right, cont=True)
            return
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        for i, part in enumerate(node.values):  # f"{root}/data": only a leading literal starts it
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                self._string(part, cont=i > 0)
            else:
                self.visit(part)

    def _call(self, node: ast.Call) -> None:
        name = dotted(node.func)
        if self.sink is not None and name is not None:
            line, col = self.sink.pos(node)
            kws = {k.arg: k.value for k in node.keywords if k.arg}
            call = Call(name, line, col, kws, len(node.args), tuple(node.args))
            self.sink.flow.calls.append(call)

    def _with_context(self, name: str | None, value: ast.AST) -> None:
        """Visit a value; a string literal that *is* the value is bound to `name` (a string
        nested deeper, e.g. a call argument, is not)."""
        self.context.append(name if isinstance(value, (ast.Constant, ast.JoinedStr)) else None)
        self.visit(value)
        self.context.pop()

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self._string(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        value = node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            self._string(value, docstring=True)
            return
        self.context.append(None)
        self.visit(value)
        self.context.pop()

    def visit_keyword(self, node: ast.keyword) -> None:
        self._with_context(node.arg, node.value)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if key is not None:
                self.visit(key)
            literal = isinstance(key, ast.Constant) and isinstance(key.value, str)
            self._with_context(key.value if literal else None, value)  # type: ignore[union-attr]

    def _class_header(self, node: ast.ClassDef) -> None:
        """Decorators, bases and keywords: evaluated where the class statement runs."""
        for expr in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            self.visit(expr)

    # -- comprehensions: both walks give them their own scope, through `_comp` ----------
    def _comp(
        self, node: ast.AST, elts: list[ast.AST], generators: list[ast.comprehension]
    ) -> None:
        raise NotImplementedError

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comp(node, [node.elt], node.generators)

    visit_SetComp = visit_ListComp
    visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comp(node, [node.key, node.value], node.generators)


class _ScopeNames(_Literals):
    """Collect names bound and read in one function scope; nested scopes report their free names."""

    def __init__(self, sink: CellVisitor | None = None) -> None:
        self.bound: set[str] = set()
        self.read: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.global_assigns: set[str] = set()
        self.nested_free: set[str] = set()
        # string literals and calls in deferred code go to the cell's facts (same walk)
        self.sink = sink
        self.context: list[str | None] = [None]

    def visit_Assign(self, node: ast.Assign) -> None:
        self._with_context(_context_name(node.targets), node.value)
        for t in node.targets:
            self.visit(t)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        self._call(node)
        self.read.update(evaluated_names(node))

    # -- names ---------------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.read.add(node.id)
        else:
            self.bound.add(node.id)
            if node.id in self.globals:
                self.global_assigns.add(node.id)

    def visit_Global(self, node: ast.Global) -> None:
        self.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.nonlocals.update(node.names)

    def _nested(self, node: ast.AST, args: ast.arguments | None, body: list[ast.AST]) -> None:
        free, assigns = function_free_names(args, body, self.sink)
        self.nested_free |= free
        self.global_assigns |= assigns

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        self._visit_arg_defaults(node.args)
        if node.returns:
            self.visit(node.returns)
        self.bound.add(node.name)
        self._nested(node, node.args, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_arg_defaults(node.args)
        self._nested(node, node.args, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._class_header(node)
        self.bound.add(node.name)
        inner = _ScopeNames(self.sink)
        for stmt in node.body:
            inner.visit(stmt)
        self.nested_free |= (inner.read - inner.bound) | inner.nested_free
        self.global_assigns |= inner.global_assigns

    def _comp(
        self, node: ast.AST, elts: list[ast.AST], generators: list[ast.comprehension]
    ) -> None:
        self.visit(generators[0].iter)
        self.nested_free |= _comprehension_free(elts, generators, self.sink)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self.bound.add(a.asname or a.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for a in node.names:
            if a.name != "*":
                self.bound.add(a.asname or a.name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.AST) -> None:
        name = getattr(node, "name", None)
        if name:
            self.bound.add(name)
        self.generic_visit(node)

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node: ast.AST) -> None:
        rest = getattr(node, "rest", None)
        if rest:
            self.bound.add(rest)
        self.generic_visit(node)

    def _visit_arg_defaults(self, args: ast.arguments) -> None:
        for d in list(args.defaults) + [d for d in args.kw_defaults if d is not None]:
            self.visit(d)


def _comprehension_free(
    elts: list[ast.AST], generators: list[ast.comprehension], sink: CellVisitor | None
) -> set[str]:
    """Names a comprehension reads from outside its own scope (the first iterable aside,
    which the enclosing scope evaluates)."""
    inner = _ScopeNames(sink)
    for i, gen in enumerate(generators):
        inner.visit(gen.target)
        if i:
            inner.visit(gen.iter)
        for cond in gen.ifs:
            inner.visit(cond)
    for e in elts:
        inner.visit(e)
    # a nested comprehension sees this one's targets: `{c: [c + i for i in r] for c in cs}`
    return (inner.read | inner.nested_free) - inner.bound


def function_free_names(
    args: ast.arguments | None, body: list[ast.AST], sink: CellVisitor | None = None
) -> tuple[set[str], set[str]]:
    """Global names a function body reads, and names it assigns through `global`."""
    scope = _ScopeNames(sink)
    if args is not None:
        for a in args.posonlyargs + args.args + args.kwonlyargs:
            scope.bound.add(a.arg)
            if a.annotation is not None:
                scope.visit(a.annotation)
        for a in (args.vararg, args.kwarg):
            if a is not None:
                scope.bound.add(a.arg)
    for stmt in body:
        scope.visit(stmt)
    local = (scope.bound - scope.globals) | scope.nonlocals
    free = ((scope.read | scope.nested_free) - local) | (scope.globals & scope.read)
    return free, scope.global_assigns | (scope.globals & scope.bound)


# --------------------------------------------------------------------------------------
# module scope of one cell
# --------------------------------------------------------------------------------------
class CellVisitor(_Literals):
    """One walk over a cell's module scope, in evaluation order."""

    @property  # type: ignore[override]
    def sink(self) -> CellVisitor:
        """The module-scope walk records its own literals and calls (a property, not an
        attribute: `self.sink = self` would be a reference cycle that keeps every cell's
        syntax tree alive until the cyclic collector runs)."""
        return self

    def __init__(self, flow: CellFlow, stars: Callable[[str], Exports | None] | None = None):
        self.flow = flow
        self.stars = stars  # what a local module's `import *` binds (exports.StarResolver)
        self.bound: set[str] = set()  # bound so far in this cell
        self.shift = flow.translation.col_shift
        self.dedent = flow.translation.dedent
        self.context: list[str | None] = [None]
        self._reads_log: list[str] = []  # every name read, in order (for value_reads)
        self._binds_log: list[str] = []  # every name bound or deleted by the statement

    # positions map back to the cell (IPython prefixes removed on some lines)
    def pos(self, node: ast.AST) -> tuple[int, int]:
        line = getattr(node, "lineno", 1)
        return line, getattr(node, "col_offset", 0) + self.shift.get(line, 0) + self.dedent

    def run(self, tree: ast.Module) -> None:
        self._statements(tree.body, top=True)

    def _statements(self, body: list[ast.stmt], top: bool = False) -> None:
        """A block's statements in order; a run of `%timeit` code (IPython runs it in a
        scope of its own), at the top level or inside a block, is walked as one scope."""
        scoped = self.flow.translation.scoped_lines
        i = 0
        while i < len(body):
            if top:
                self._reads_log.clear()
                self._binds_log.clear()
            marks = len(self.flow.mutations), len(self.flow.calls)
            scope = scoped.get(body[i].lineno) if scoped else None
            if scope is None:
                self.visit(body[i])
                j = i + 1
            else:
                j = i + 1
                while j < len(body) and scoped.get(body[j].lineno) == scope:
                    j += 1
                self._in_own_scope(body[i:j])
            if top:  # one top-level statement (a `%timeit` run counts as one)
                self._statement(body[i:j], marks, _kills(body[i]) if scope is None else set())
            i = j

    def _statement(self, nodes: list[ast.stmt], marks: tuple[int, int], kills: set[str]) -> None:
        """Record one top-level statement's facts (what the walk logged since `marks`)."""
        mutations, calls = self.flow.mutations[marks[0] :], self.flow.calls[marks[1] :]
        binds = set(self._binds_log)
        self.flow.statements.append(
            StatementFlow(nodes, set(self._reads_log), binds, kills & binds, mutations, calls)
        )

    def generic_visit(self, node: ast.AST) -> None:
        """As the base walk; when the cell has `%timeit` code, a compound statement's blocks
        (`if`, `while`, `try`, `match` cases) go through `_statements`."""
        if not self.flow.translation.scoped_lines or not isinstance(
            node, ast.stmt | ast.match_case
        ):
            super().generic_visit(node)
            return
        for name in node._fields:
            value = getattr(node, name, None)
            if value.__class__ is list and value and isinstance(value[0], ast.stmt):
                self._statements(value)
            elif value.__class__ is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST) and name not in _SKIP_FIELDS:
                self.visit(value)

    def _in_own_scope(self, stmts: list[ast.stmt]) -> None:
        """`%timeit` code: it runs in a function scope of its own, so it reads the names it
        does not bind itself and leaves none bound."""
        free, _ = function_free_names(None, stmts, self)  # type: ignore[arg-type]
        for name in sorted(free):
            self.read(name, stmts[0])

    # -- names -----------------------------------------------------------------------
    def read(self, name: str, node: ast.AST) -> None:
        self.flow.all_reads.add(name)
        self._reads_log.append(name)
        if name not in self.bound:
            line, col = self.pos(node)
            self.flow.uses.append(Use(name, line, col))
        elif name in self.flow.functions:
            line, col = self.pos(node)
            self.flow.local_calls.append(Use(name, line, col))

    def bind(self, name: str, node: ast.AST) -> None:
        self._binds_log.append(name)
        if name not in self.flow.defs:
            self.flow.defs[name] = self.pos(node)
        self.bound.add(name)
        self.flow.deletes.pop(name, None)

    def mutate(
        self,
        name: str,
        node: ast.AST,
        how: str,
        accumulating: bool = False,
        through_call: bool = False,
    ) -> None:
        line, col = self.pos(node)
        self.flow.mutations.append(Mutation(name, line, col, how, accumulating, through_call))

    def external(self, name: str) -> bool:
        """Was `name` read in this cell before the cell bound it (so it came from outside)?"""
        return any(u.name == name for u in self.flow.uses)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.read(node.id, node)
        elif isinstance(node.ctx, ast.Store):
            self.bind(node.id, node)
        else:  # Del
            self._binds_log.append(node.id)
            self.bound.discard(node.id)
            self.flow.deletes[node.id] = self.pos(node)

    # -- statements ------------------------------------------------------------------
    def _assign_targets(
        self, targets: list[ast.expr], value: ast.AST | None, value_reads: set[str]
    ) -> None:
        for target in targets:
            if isinstance(target, (ast.Attribute, ast.Subscript)):
                self.visit(target)  # reads the object (and index expressions)
                root = _root_name(target)
                if root is not None:
                    how = (
                        "item assignment"
                        if isinstance(target, ast.Subscript)
                        else "attribute assignment"
                    )
                    self.mutate(root.id, target, how)
                    if self.external(root.id) and _reads_same(target, value):
                        line, col = self.pos(target)
                        what = ast.unparse(target)
                        strong = _rebind_is_strong(value, target)
                        self.flow.self_updates.append(
                            SelfUpdate(root.id, line, col, f"`{what} = …{what}…`", strong)
                        )
            else:
                for name in target_names(target):
                    if name.id in value_reads and self.external(name.id):
                        strong = _rebind_is_strong(value, name)
                        line, col = self.pos(name)
                        self.flow.self_updates.append(
                            SelfUpdate(name.id, line, col, f"`{name.id} = …{name.id}…`", strong)
                        )
                self.visit(target)

    def visit_Assign(self, node: ast.Assign) -> None:
        value, targets = node.value, node.targets
        if isinstance(value, ast.Lambda) and len(targets) == 1 and isinstance(targets[0], ast.Name):
            # `key = lambda r: r[col]` runs later, like a def
            for d in list(value.args.defaults) + [
                d for d in value.args.kw_defaults if d is not None
            ]:
                self.visit(d)
            self._define_function(targets[0].id, value.args, [value.body], node, "lambda")
            self.bind(targets[0].id, targets[0])
            return
        start = len(self._reads_log)
        self._with_context(_context_name(targets), value)
        self._assign_targets(targets, value, set(self._reads_log[start:]))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            start = len(self._reads_log)
            self._with_context(_context_name([node.target]), node.value)
            self._assign_targets([node.target], node.value, set(self._reads_log[start:]))
        self.visit(node.annotation)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        target = node.target
        root = _root_name(target)
        if isinstance(target, ast.Name):
            self.read(target.id, target)
            external = self.external(target.id)
            self.bind(target.id, target)
            self.mutate(target.id, target, "augmented assignment", accumulating=True)
        else:
            self.visit(target)
            if root is None:
                return
            external = self.external(root.id)
            self.mutate(root.id, target, "augmented assignment", accumulating=True)
        if root is not None and external:
            line, col = self.pos(target)
            op = type(node.op).__name__
            sym = {"Add": "+=", "Sub": "-=", "Mult": "*=", "Div": "/="}.get(op, "op=")
            self.flow.self_updates.append(SelfUpdate(root.id, line, col, f"`{sym}`", True))

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, (ast.Attribute, ast.Subscript)):
                self.visit(target.value)
                if isinstance(target, ast.Subscript):
                    self.visit(target.slice)
                root = _root_name(target)
                if root is not None:
                    self.mutate(root.id, target, "del")
            else:
                self.visit(target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        self._statements(node.body)
        self._statements(node.orelse)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
        self._statements(node.body)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.bind(node.name, node)
        self._statements(node.body)
        if node.name:  # Python deletes the name at the end of the handler
            self.bound.discard(node.name)
            self.flow.defs.pop(node.name, None)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                local, qual = alias.asname, alias.name
            else:
                local = qual = alias.name.split(".")[0]
            self.flow.imports[local] = qual
            self.bind(local, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = ("." * node.level) + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self._star_import(module, node)
                continue
            local = alias.asname or alias.name
            self.flow.imports[local] = f"{module}.{alias.name}" if module else alias.name
            self.bind(local, node)

    def _star_import(self, module: str, node: ast.ImportFrom) -> None:
        """A local module's exports are bound like `from m import a, b`; what is not known
        (a library, an unreadable module) leaves the star import opaque, with the reason."""
        found = self.stars(module) if self.stars is not None and module[:1] != "." else None
        for name, qualified in (found.names if found is not None else {}).items():
            self.flow.imports[name] = qualified
            self.flow.star_names.add(name)
            self.bind(name, node)
        if found is None or found.reason:
            line, col = self.pos(node)
            self.flow.star_imports.append((module, line, col))
            self.flow.star_reasons[module] = (
                found.reason
                if found
                else f"no local {module.split('.')[0]}.py, and installed libraries are not read"
            )

    def visit_Global(self, node: ast.Global) -> None:  # `global` at module level is a no-op
        pass

    def _define_function(
        self, name: str, args: ast.arguments | None, body: list[ast.AST], node: ast.AST, kind: str
    ) -> None:
        free, assigns = function_free_names(args, body, self)
        line, _ = self.pos(node)
        self.flow.functions[name] = Function(name, self.flow.cell.index, line, free, assigns, kind)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        for d in list(node.args.defaults) + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(d)
        self._annotations(node)
        self._define_function(node.name, node.args, node.body, node, "function")
        self.bind(node.name, node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def _annotations(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """Parameter and return annotations are evaluated when the function is defined."""
        a = node.args
        for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)
        if node.returns is not None:
            self.visit(node.returns)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._class_header(node)
        # the class body runs now; methods run later (when the class is used)
        scope = _ScopeNames(self)
        for stmt in node.body:
            scope.visit(stmt)
        now = scope.read - scope.bound
        for name in sorted(now):
            self.read(name, node)
        line, _ = self.pos(node)
        self.flow.functions[node.name] = Function(
            node.name, self.flow.cell.index, line, scope.nested_free, scope.global_assigns, "class"
        )
        self.bind(node.name, node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for d in list(node.args.defaults) + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(d)
        free, _ = function_free_names(node.args, [node.body], self)
        for name in sorted(free):
            self.read(name, node)

    def _comp(
        self, node: ast.AST, elts: list[ast.AST], generators: list[ast.comprehension]
    ) -> None:
        self.visit(generators[0].iter)
        for name in sorted(_comprehension_free(elts, generators, self)):
            self.read(name, node)
        # walrus targets inside a comprehension bind in the enclosing scope
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.bind(sub.target.id, sub.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.visit(node.target)

    def visit_MatchAs(self, node: ast.AST) -> None:
        self.generic_visit(node)
        name = getattr(node, "name", None)
        if name:
            self.bind(name, node)

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node: ast.AST) -> None:
        self.generic_visit(node)
        rest = getattr(node, "rest", None)
        if rest:
            self.bind(rest, node)

    # -- expressions -----------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        self._call(node)
        for name in evaluated_names(node):
            self.read(name, node)
        inplace = any(
            k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
        if isinstance(func, ast.Attribute):
            root, through_call = _receiver(func.value)
            if root is not None and root.id not in self.flow.imports:
                if inplace:
                    self.mutate(root.id, node, "inplace=True", through_call=through_call)
                elif func.attr in MUTATING_METHODS:
                    acc = func.attr in ACCUMULATING_METHODS
                    self.mutate(root.id, node, f".{func.attr}()", acc, through_call)
                    if acc and self.external(root.id):
                        line, col = self.pos(node)
                        self.flow.self_updates.append(
                            SelfUpdate(root.id, line, col, f"`.{func.attr}()`", True)
                        )
        last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if last in MUTATING_FUNCTIONS and node.args:
            root = _root_name(node.args[0])
            if root is not None:
                self.mutate(root.id, node, f"{last}()")


def _reads_same(target: ast.AST, value: ast.AST | None) -> bool:
    """`df["x"] = df["x"] * 2` or `cfg.n = cfg.n + 1`: the value reads the very item it sets."""
    if value is None:
        return False
    want = ast.dump(target, annotate_fields=False).replace("Store()", "Load()")
    return any(
        isinstance(n, type(target)) and ast.dump(n, annotate_fields=False) == want
        for n in ast.walk(value)
    )


#: methods whose result differs (or fails) when applied to their own output again
_NOT_IDEMPOTENT_METHODS = frozenset(
    """drop set_index reset_index merge join pivot pivot_table melt stack unstack explode shift
    diff cumsum cumprod pct_change append add sub mul div pow transpose insert pop""".split()
)


def _rebind_is_strong(value: ast.AST | None, target: ast.AST) -> bool:
    """Is `x = f(x)` likely to change `x` again on a re-run?

    A chain of methods on `x` itself (`df.dropna()`, `df[df.a > 0]`, `s.fillna(0)`) mostly
    gives the same result twice, unless one of the methods does not (`drop`, `reset_index`,
    `diff`...); any other expression of `x` (arithmetic, comprehensions, functions) does.
    """
    want = ast.dump(target, annotate_fields=False).replace("Store()", "Load()")
    node = value
    methods: list[ast.Call] = []
    while isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
        if ast.dump(node, annotate_fields=False) == want:
            break
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                methods.append(node)
            node = node.func
        else:
            node = node.value
    if node is None or ast.dump(node, annotate_fields=False) != want:
        return True
    for call in methods:
        name = call.func.attr  # type: ignore[union-attr]
        if name == "reset_index" and any(
            k.arg == "drop" and getattr(k.value, "value", None) is True for k in call.keywords
        ):
            continue
        if name in _NOT_IDEMPOTENT_METHODS:
            return True
    return False


def analyze_cell(cell: Cell, stars: Callable[[str], Exports | None] | None = None) -> CellFlow:
    flow = CellFlow(cell, translate(cell.source))
    tree = flow.translation.tree
    if tree is not None:
        try:
            CellVisitor(flow, stars).run(tree)
        except RecursionError:
            err = SyntaxError("too deeply nested to analyse")
            err.lineno, err.offset = 1, 1
            flow.translation.error = err
            flow.translation.tree = None
    return flow


# --------------------------------------------------------------------------------------
# the notebook: cross-cell resolution
# --------------------------------------------------------------------------------------
@dataclass
class Flow:
    notebook: Notebook
    cells: list[CellFlow]  # code cells only, top-down

    def __post_init__(self) -> None:
        self.by_index = {f.cell.index: f for f in self.cells}
        soft = [f for f in self.cells if f.translation.soft_reads]
        if soft:  # `$name` in a shell line reads a Python variable only if one exists
            defined = {n for f in self.cells for n in f.defs}
            for f in soft:
                drop = f.translation.soft_reads - defined
                f.uses = [u for u in f.uses if u.name not in drop]
        self.functions: dict[str, list[Function]] = {}
        for f in self.cells:
            for fn in f.functions.values():
                self.functions.setdefault(fn.name, []).append(fn)
        self.imports: dict[str, str] = {}
        for f in self.cells:
            self.imports.update(f.imports)
        self._drop_module_mutations()
        self.opaque_defs = any(
            f.translation.opaque_defs or f.translation.star_import or f.star_imports
            for f in self.cells
        )
        self.unparsed_names = self._names_in_unparsed_cells()
        self.expanded: dict[int, list[Use]] = {f.cell.index: self._expand(f) for f in self.cells}
        self.global_assigns: dict[int, set[str]] = {}
        for f in self.cells:
            names: set[str] = set()
            for u in self.expanded[f.cell.index]:
                if u.via is None and u.name in self.functions:
                    for fn in self.functions[u.name]:
                        names |= fn.assigns_globals
            self.global_assigns[f.cell.index] = names

    def _drop_module_mutations(self) -> None:
        """`np.append(a, b)`, `pd.eval(…)`, `compiler.Compiler().compile(…)`: a function of an
        imported module, or a method of a fresh result, changes nothing the notebook named.
        (A name the notebook also assigns keeps its mutations.)"""
        assigned = {n for f in self.cells for n in f.defs if n not in f.imports}
        imported = set(self.imports) - assigned
        for f in self.cells:
            f.mutations = [
                m
                for m in f.mutations
                if m.name not in imported and not (m.through_call and m.name in self.imports)
            ]

    def defs_of(self, f: CellFlow) -> set[str]:
        """Names a cell leaves defined, including those its calls set through `global`."""
        return (set(f.defs) | self.global_assigns.get(f.cell.index, set())) - set(f.deletes)

    def _expand(self, f: CellFlow) -> list[Use]:
        """Uses of a cell plus the globals read by the functions it calls (transitively)."""
        out = list(f.uses)
        locally = set(f.defs)
        for use in f.uses + f.local_calls:
            if use.name not in self.functions:
                continue
            seen = {use.name}
            stack = [use.name]
            while stack:
                fname = stack.pop()
                fn = self.visible_function(fname, f.cell.index)
                if fn is not None:
                    for name in sorted(fn.free):
                        if name in seen:
                            continue
                        seen.add(name)
                        out.append(Use(name, use.line, use.col, via=use.name))
                        if name in self.functions:
                            stack.append(name)
        # a read via a function of a name this cell defines before the call is fine
        return [
            u for u in out if u.via is None or not (u.name in locally and _defined_before(f, u))
        ]

    def visible_function(self, name: str, cell_index: int) -> Function | None:
        """The definition of `name` in effect at a cell top-down (else the first one below)."""
        defs = self.functions.get(name)
        if not defs:
            return None
        above = [fn for fn in defs if fn.cell <= cell_index]
        return above[-1] if above else defs[0]

    def _names_in_unparsed_cells(self) -> set[str]:
        """Names a cell that cannot be parsed probably defines (so they are not 'undefined')."""
        import re

        names: set[str] = set()
        pat = re.compile(
            r"^\s*(?:def|class)\s+([A-Za-z_]\w*)|^\s*([A-Za-z_][\w, ]*?)\s*=[^=]|"
            r"^\s*(?:from\s+\S+\s+)?import\s+(.+)$|\bfor\s+([A-Za-z_][\w, ]*?)\s+in\b|"
            r"\bas\s+([A-Za-z_]\w*)",
            re.M,
        )
        for f in self.cells:
            if f.parsed:
                continue
            for m in pat.finditer(f.cell.source):
                for group in m.groups():
                    if group:
                        for part in group.replace(" as ", ",").split(","):
                            part = part.strip().split(".")[0]
                            if part.isidentifier():
                                names.add(part)
        return names


def _defined_before(f: CellFlow, use: Use) -> bool:
    pos = f.defs.get(use.name)
    return pos is not None and pos <= (use.line, use.col)


def analyze(nb: Notebook) -> Flow:
    """The notebook's flow; `from m import *` of a local module (a file next to the notebook,
    or one an earlier cell wrote with `%%writefile`) binds the names `m` exports."""
    written: dict[str, str] = {}
    folder = None if nb.path.startswith("<") else Path(nb.path).parent
    stars = StarResolver(folder, lambda: written)
    cells = []
    for c in nb.cells:
        if c.is_code and c.source.strip():
            cells.append(analyze_cell(c, stars))
            _record_writes(cells[-1].translation, written)
    return Flow(nb, cells)


def _record_writes(translation: Translation, written: dict[str, str]) -> None:
    for occ in translation.occurrences:
        occ.write_into(written)
