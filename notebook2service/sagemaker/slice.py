"""One backward slice over the notebook's top-level statements, from the dataflow.

Every question "what does X depend on" asks it: the training entrypoint (the statements the
saved model needs, so `train` runs no evaluation work: a search whose result the model does
not use, cross-validation, reports, plots, prints), the plan (which cells are training's),
and the feature path (`feature_path.py`: what the model's features are computed by).

A statement is in the slice when it binds or may change a name wanted after it; it then
wants the names it reads (a plain rebinding first ends the wanted value's history). "May
change" is conservative: a mutation (`.fit()`, `inplace=True`, `df["x"] = …`, `del`) changes
what the name may hold (`pipe = make_pipeline(sc, clf)`: `pipe.fit` fits `sc` and `clf`) and
the names that may be a view of it (`model = search.best_estimator_`); a call of a notebook
function that changes anything changes its arguments and the globals it reads; a method
called for its effect alone (`opt.step()`, `loss.backward()`) changes its receiver. Some
statements are kept whatever they bind (`pinned`): imports for their effect, seeds and other
calls of a library for their effect (`np.random.seed`, `os.makedirs`, shell commands), files
written, settings of a module (`os.environ[…] = …`), `exec`/`eval`. Static: nothing runs.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import libcst as cst

from ..dataflow import BUILTINS, MUTATING_METHODS, Flow, StatementFlow, analyze_cell, dotted
from ..notebook import Cell

#: calls (last part of the dotted name) that train something: work to keep out of `train`
COSTLY = frozenset(
    "fit partial_fit fit_predict fit_transform fit_resample fit_generator train "
    "cross_val_score cross_validate cross_val_predict learning_curve validation_curve "
    "permutation_importance".split()
)
#: what learns from the data it is given: a transformer's fit, or a statistic of the data
FITS = frozenset({"fit", "fit_transform", "partial_fit"})
STATISTICS = frozenset(
    "mean median std var sum min max quantile mode value_counts unique nunique get_dummies "
    "factorize groupby describe corr cov cut qcut rank".split()
)
LEARNED = STATISTICS | FITS
#: estimators that wrap (and clone) another one: fitting them leaves it as it was
WRAPPERS = frozenset(
    "GridSearchCV RandomizedSearchCV HalvingGridSearchCV HalvingRandomSearchCV "
    "BaggingClassifier BaggingRegressor CalibratedClassifierCV OneVsRestClassifier "
    "OneVsOneClassifier MultiOutputClassifier MultiOutputRegressor TransformedTargetRegressor "
    "SelfTrainingClassifier RFE RFECV SequentialFeatureSelector".split()
)
_CLONING = WRAPPERS | {
    "cross_val_score",
    "cross_validate",
    "cross_val_predict",
    "learning_curve",
    "validation_curve",
    "permutation_importance",
    "clone",
}
#: methods that only look (their result shown or discarded): no change of the receiver
_LOOKING = frozenset(
    "head tail describe info summary plot hist boxplot scatter show score predict "
    "predict_proba predict_log_proba decision_function transform inverse_transform get_params "
    "value_counts unique nunique corr cov mean median std var sum min max count isnull isna "
    "notnull notna items keys values copy to_string to_numpy to_list tolist to_dict "
    "sample print format get round astype evaluate get_weights count_params get_config".split()
)
#: methods and functions that write a file (a later cell may read it)
_WRITERS = frozenset(
    "to_csv to_parquet to_pickle to_json to_excel to_feather to_hdf to_sql to_stata to_orc "
    "tofile write writelines writestr dump dumps_to save save_model savez savez_compressed "
    "savetxt extractall download urlretrieve mkdir makedirs touch copy copyfile copytree "
    "move rename remove unlink rmtree".split()
) - {"copy"}
_OPAQUE = frozenset({"exec", "eval", "globals", "locals", "vars", "setattr", "__import__"})
#: what a displayed call's name starts with when it is run for its effect
_SETTING = (
    "set",
    "seed",
    "manual_seed",
    "enable",
    "use",
    "filterwarnings",
    "simplefilter",
    "chdir",
    "makedirs",
    "mkdir",
    "download",
    "load_ext",
    "init",
    "login",
    "config",
)
#: calls that only show something
_SHOWING = frozenset({"print", "display", "show_result", "pprint", "end_cell", "show"})
_PLOTTING = frozenset(
    "matplotlib pylab seaborn plotly plotnine bokeh altair IPython yellowbrick scikitplot "
    "missingno graphviz".split()
)


@dataclass
class Stmt:
    """One top-level statement on a path the slice walks."""

    cell: int
    pos: int  # its position among its cell's statements (flow) or step body (lifted)
    facts: StatementFlow
    reads: set[str] = field(default_factory=set)  # with what the functions it calls read
    changes: set[str] = field(default_factory=set)  # changed in place, maybe (not bound)
    pinned: bool = False
    costly: bool = False
    binds: set[str] = field(default_factory=set)
    kills: set[str] = field(default_factory=set)  # rebound as a whole, for sure

    def __post_init__(self) -> None:
        self.binds = self.binds | self.facts.binds
        self.kills = self.kills | self.facts.kills


def is_costly_call(func: str) -> bool:
    last = func.rsplit(".", 1)[-1]
    return last in COSTLY or last.endswith(("SearchCV", "SearchCV_"))


def _last(func: str) -> str:
    return func.rsplit(".", 1)[-1]


class _Notebook:
    """What statement facts need from the whole notebook: imports, its functions."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        assigned = {n for f in flow.cells for n in f.defs if n not in f.imports}
        self.imported = set(flow.imports) - assigned
        self.defined = {n for f in flow.cells for n in f.defs}
        self._pure: dict[tuple[str, int], bool] = {}

    def function_reads(self, names: set[str], cell: int) -> set[str]:
        """The globals the notebook functions among `names` read, transitively."""
        out, stack = set(), [n for n in names if n in self.flow.functions]
        seen = set(stack)
        while stack:
            fn = self.flow.visible_function(stack.pop(), cell)
            for name in fn.free if fn is not None else ():
                out.add(name)
                if name in self.flow.functions and name not in seen:
                    seen.add(name)
                    stack.append(name)
        return out

    def changes_anything(self, name: str, cell: int) -> bool:
        """Does the notebook function `name` change anything outside itself? (It changes
        a non-local name in place, assigns a global, or calls another notebook function.)"""
        fn = self.flow.visible_function(name, cell)
        if fn is None:
            return True
        key = (name, fn.line)
        if key not in self._pure:
            node = _definition(self.flow, fn.cell, fn.line)
            self._pure[key] = (
                node is None or bool(fn.assigns_globals) or _changes_outside(node, self.flow)
            )
        return self._pure[key]


def _definition(flow: Flow, cell: int, line: int) -> ast.AST | None:
    f = flow.by_index.get(cell)
    tree = f.translation.tree if f is not None else None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            if node.lineno == line:
                return node
    return None


def root_name(node: ast.AST) -> str | None:
    """`df` of `df.a["b"].c` or `*df` (not through a call: `f().x` changes nothing named)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _changes_outside(node: ast.AST, flow: Flow) -> bool:
    local = {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    args = getattr(node, "args", None)
    params = {a.arg for a in ast.walk(args) if isinstance(a, ast.arg)} if args else set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Global, ast.Nonlocal)):
            return True
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Name) and func.id in flow.functions:
                return True
            if isinstance(func, ast.Attribute):
                root = root_name(func.value)
                inplace = any(k.arg == "inplace" for k in sub.keywords)
                changing = func.attr in MUTATING_METHODS or func.attr.endswith("_") or inplace
                if changing and root is not None and (root in params or root not in local):
                    return True
        if isinstance(sub, (ast.Attribute, ast.Subscript)) and isinstance(sub.ctx, ast.Store):
            root = root_name(sub)
            if root is not None and (root in params or root not in local):
                return True
    return False


def _pinned(s: StatementFlow, nb: _Notebook) -> bool:
    """A statement kept whatever it binds: its effect is outside the names it binds."""
    for node in s.nodes:  # other imports and definitions are kept when a name they bind is
        if isinstance(node, ast.ImportFrom) and (  # an import for its effect
            "experimental" in (node.module or "")
            or any(a.name.startswith("enable_") for a in node.names)
        ):
            return True
    for call in s.calls:
        last, root = _last(call.func), call.func.split(".")[0]
        if last in _OPAQUE or root == "get_ipython" or last in _WRITERS:
            return True
        if last == "open" and _writes_mode(call.args, call.keywords):
            return True
    return any(_effect(node, nb) for node in _simple_statements(s.nodes))


def _writes_mode(args: tuple[ast.expr, ...], keywords: dict[str, ast.expr]) -> bool:
    mode = args[1] if len(args) > 1 else keywords.get("mode")
    text = getattr(mode, "value", "r")
    return not isinstance(text, str) or any(c in text for c in "wax+")


def _simple_statements(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements inside `nodes` (into `if`/`for`/`with`/`try` bodies, not into defs)."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            stack.extend(n for n in getattr(node, name, ()) if isinstance(n, ast.AST))


def _effect(node: ast.AST, nb: _Notebook) -> bool:
    """A library called for its effect (`np.random.seed(0)`, `shell("wget …")`), or a
    module's setting changed (`os.environ["K"] = v`); not something shown or plotted."""
    if isinstance(node, (ast.Assign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(
            isinstance(t, (ast.Attribute, ast.Subscript)) and root_name(t) in nb.imported
            for t in targets
        )
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    call, shown = node.value, False
    while dotted(call.func) == "show_result" and call.args and isinstance(call.args[0], ast.Call):
        call, shown = call.args[0], True  # a displayed last expression
    name = dotted(call.func)
    if name is None:
        return False
    root, last = name.split(".")[0], _last(name)
    if shown:  # a value looked at (`accuracy_score(…)`), unless it sets something
        return last.startswith(_SETTING) and root not in nb.defined
    if last in _SHOWING or last.startswith(("plot", "show")) or is_costly_call(name):
        return False
    if root in nb.imported:  # a library's function: not one that plots or shows
        qualified = nb.flow.imports[root]
        return qualified.split(".")[0] not in _PLOTTING and "plot" not in qualified.lower()
    return root not in nb.defined and root not in BUILTINS


def _effect_receivers(s: StatementFlow) -> set[str]:
    """`opt.step()`, `loss.backward()`: a method called for its effect alone (its result
    dropped) that is not known to only look changes its receiver."""
    out = set()
    for node in _simple_statements(s.nodes):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and func.attr not in _LOOKING:
                root = root_name(func.value)
                if root is not None and not func.attr.startswith(("plot", "show", "to_")):
                    out.add(root)
    return out


def _statement(cell: int, pos: int, facts: StatementFlow, nb: _Notebook) -> Stmt:
    flow = nb.flow
    reads = facts.reads | nb.function_reads(facts.reads, cell)
    changes = {
        m.name
        for m in facts.mutations
        if m.name not in nb.imported and not (m.through_call and m.name in flow.imports)
    }
    changes |= _effect_receivers(facts) - nb.imported
    for call in facts.calls:  # a notebook function that changes things: its arguments too
        fn = flow.visible_function(call.func, cell) if call.func in flow.functions else None
        if fn is not None and nb.changes_anything(call.func, cell):
            changes |= {r for a in call.args if (r := root_name(a)) is not None}
            changes |= fn.assigns_globals
            changes |= nb.function_reads({call.func}, cell) - nb.imported - set(flow.functions)
    costly = any(is_costly_call(c.func) for c in facts.calls)
    stmt = Stmt(cell, pos, facts, reads, changes - facts.binds, _pinned(facts, nb), costly)
    _random_state(stmt, nb)
    return stmt


#: the global random state (numpy's, the stdlib's), as one name the slice follows
RANDOM_STATE = "<global random state>"


def _random_state(stmt: Stmt, nb: _Notebook) -> None:
    """`np.random.seed(0)` sets the global random state; a draw (`np.random.rand()`) reads
    and changes it; a fit or search may read it (an estimator without `random_state`): so a
    draw before the model's fit is kept with the seed."""
    for call in stmt.facts.calls:
        root, _, rest = call.func.partition(".")
        qualified = ".".join(filter(None, [nb.flow.imports.get(root, root), rest]))
        if qualified.startswith(("numpy.random.", "random.")):
            if _last(qualified) == "seed":
                stmt.binds.add(RANDOM_STATE)
                stmt.kills.add(RANDOM_STATE)
            else:
                stmt.reads.add(RANDOM_STATE)
                stmt.changes.add(RANDOM_STATE)
        elif is_costly_call(call.func):
            stmt.reads.add(RANDOM_STATE)


def flow_statements(flow: Flow) -> list[Stmt]:
    """Every top-level statement of the notebook, top-down."""
    nb = _Notebook(flow)
    return [
        _statement(f.cell.index, pos, facts, nb)
        for f in flow.cells
        for pos, facts in enumerate(f.statements)
    ]


def lifted_statements(
    flow: Flow, bodies: Iterable[tuple[int, list[cst.BaseStatement]]]
) -> list[Stmt]:
    """The statements a package's steps run (cell, the cell's statements in its step), with
    the same facts: each is analysed from its own code (`a = 1; b = 2` is one)."""
    nb = _Notebook(flow)
    local: dict[str, set[str]] = {}  # functions the steps define (`%timeit`'s scope): free names
    out = []
    for cell, body in bodies:
        for pos, node in enumerate(body):
            analysed = analyze_cell(Cell(cell, "code", cst.Module(body=[node]).code))
            found = analysed.statements
            facts = StatementFlow([n for s in found for n in s.nodes] or [ast.Pass()])
            for s in found:
                facts.reads |= s.reads
                facts.binds |= s.binds
                facts.kills |= s.kills
                facts.mutations += s.mutations
                facts.calls += s.calls
            local.update({n: fn.free for n, fn in analysed.functions.items()})
            nb.defined |= set(analysed.functions)
            stmt = _statement(cell, pos, facts, nb)
            for call in facts.calls:  # what such a function's body reads (and may change)
                if call.func in local and call.func not in flow.functions:
                    stmt.reads |= local[call.func]
                    stmt.changes |= local[call.func] - nb.imported
            stmt.pinned = stmt.pinned or not found  # not analysed: kept
            out.append(stmt)
    return out


class _Aliases:
    """What a name may hold where it is changed (`pipe = make_pipeline(sc, clf)`: `sc` and
    `clf`, and what they held when bound; not what a search or cross-validation clones), and
    which names may be views of it (`m = s.best_estimator_`), from the bindings that reach
    the change (the last one of each name before it)."""

    def __init__(self, stmts: list[Stmt]) -> None:
        self.bound: dict[str, list[tuple[int, set[str]]]] = {}  # name -> [(position, held)]
        self.views: dict[str, list[tuple[int, str]]] = {}  # name -> [(position, its view)]
        for k, s in enumerate(stmts):
            for node in _simple_statements(s.facts.nodes):
                self._bind(k, node)

    def _bind(self, k: int, node: ast.stmt) -> None:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            targets, value = [node.target], node.iter
        else:
            return
        cloned = {
            id(n)
            for c in ast.walk(value)
            if isinstance(c, ast.Call) and _last(dotted(c.func) or "") in _CLONING
            for a in [*c.args, *(k.value for k in c.keywords)]
            for n in ast.walk(a)
        }
        held = {
            n.id
            for n in ast.walk(value)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in cloned
        }
        view = (
            root_name(value)
            if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript))
            else None
        )
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    self.bound.setdefault(n.id, []).append((k, held - {n.id}))
                    if view is not None and view != n.id:
                        self.views.setdefault(view, []).append((k, n.id))

    def _reaching(self, name: str, k: int) -> tuple[int, set[str]] | None:
        """The last binding of `name` before position `k`: (its position, what it holds)."""
        return next((b for b in reversed(self.bound.get(name, [])) if b[0] < k), None)

    def touched(self, names: set[str], k: int) -> set[str]:
        """The names a change of `names` at position `k` may change."""
        out = set(names)
        stack = [(n, k) for n in names]
        while stack:
            name, at = stack.pop()
            found = self._reaching(name, at)
            for other in found[1] if found is not None else ():
                # only what the notebook assigns: `m = Sequential()` holds no import
                if other not in out and other in self.bound:
                    out.add(other)
                    stack.append((other, found[0]))  # type: ignore[index]
            for pos, view in self.views.get(name, []):
                reaching = self._reaching(view, k)
                if view not in out and pos < k and reaching is not None and reaching[0] == pos:
                    out.add(view)
                    stack.append((view, k))
        return out


Reads = Callable[[Stmt, set[str]], set[str]]


def backward(
    stmts: list[Stmt],
    wanted: Iterable[str],
    end: int | None = None,
    pin: bool = True,
    reads_for: Reads | None = None,
) -> list[int]:
    """The positions (in `stmts`, top-down) of the statements before `end` that the names
    `wanted` after them depend on; with `pin`, also the pinned statements and what they
    need. `reads_for(stmt, hit)`: what a statement reads to make the wanted names it makes
    (default: everything it reads)."""
    want = set(wanted)
    aliases = _Aliases(stmts)
    out = []
    for k in reversed(range(len(stmts) if end is None else end)):
        s = stmts[k]
        hit = (s.binds | aliases.touched(s.changes, k)) & want
        if not hit and not (pin and s.pinned):
            continue
        out.append(k)
        reads = reads_for(s, hit) if reads_for is not None and hit else s.reads
        want = (want - s.kills) | reads
    return out[::-1]


def training_cells(
    flow: Flow, model: str | None, model_cell: int | None, fit_x: str | None = None
) -> tuple[set[int], set[int]]:
    """(cells the model needs, cells doing costly work); both empty without a model."""
    if model is None or model_cell is None:
        return set(), set()
    stmts = flow_statements(flow)
    end = max((k + 1 for k, s in enumerate(stmts) if s.cell <= model_cell), default=0)
    needed = {stmts[k].cell for k in backward(stmts, {model, fit_x} - {None}, end)}
    return needed | {model_cell}, {s.cell for s in stmts if s.costly}
