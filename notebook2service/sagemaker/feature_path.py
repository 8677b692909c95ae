"""The dataflow path from the raw data to a model's features, and what on it learns from data.

A backward slice over the notebook's top-level statements, top-down order, from the ``X`` of
the model's ``fit``: a statement is on the path when it binds or mutates (``sc.fit(X)``,
``inplace=True``) a name the path needs; it adds the names it reads (for
``train_test_split``, only the array its wanted outputs come from). Statements that only show
something (``df.describe()``, ``print(scores.mean())``) bind nothing and are never on it.

On the path, a preparation *learns from the training data* when it fits a transformer
(``fit``/``fit_transform``/``partial_fit`` of anything but the model) or takes a statistic of
the data (``mean``, ``std``, ``get_dummies``…; not row-wise ``axis=1``, not inside a row filter
``df[df.a > df.a.mean()]``): one row at a time, serving would give other features.

    found = learned_on_path(flow, model="knn", fit_cell=12, fit_line=3, fit_call=call)
    found  # [(10, "fits `sc`"), (11, "uses `mean`")]
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..dataflow import MUTATING_METHODS, Flow

FITS = frozenset({"fit", "fit_transform", "partial_fit"})
STATISTICS = frozenset(
    "mean median std var sum min max quantile mode value_counts unique nunique get_dummies "
    "factorize groupby describe corr cov cut qcut rank".split()
)
SPLITTERS = frozenset({"train_test_split"})

Statement = tuple[int, ast.stmt]  # (cell index, top-level statement)


def _statements_before(flow: Flow, fit_cell: int, fit_line: int) -> list[Statement]:
    out: list[Statement] = []
    for f in flow.cells:
        tree = f.translation.tree
        if tree is None or f.cell.index > fit_cell:
            continue
        for stmt in tree.body:
            if f.cell.index == fit_cell and stmt.lineno <= fit_line <= (stmt.end_lineno or 0):
                return out
            out.append((f.cell.index, stmt))
    return out


def _store_names(node: ast.AST) -> Iterator[ast.Name]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            yield sub


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _bound(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    """(names the statement binds or changes, names it rebinds as a whole)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}, {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        names = {(a.asname or a.name).split(".")[0] for a in stmt.names}
        return names, names
    whole = set()
    if isinstance(stmt, ast.Assign):
        whole = {n.id for t in stmt.targets for n in _store_names(t) if t is n or _flat(t)}
    bound = {n.id for n in _store_names(stmt)}
    for sub in ast.walk(stmt):  # df["a"] = …, df.loc[…] = …, X.b = …: a change of df / X
        if isinstance(sub, (ast.Subscript, ast.Attribute)) and isinstance(sub.ctx, ast.Store):
            root = _root(sub)
            if root:
                bound.add(root)
    return bound | _mutated(stmt), whole


def _flat(target: ast.AST) -> bool:
    return isinstance(target, (ast.Tuple, ast.List)) and all(
        isinstance(e, ast.Name) for e in target.elts
    )


def _root(node: ast.AST) -> str | None:
    """`df` of `df.a["b"].c` (not through a call: `f().x` changes nothing named)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _mutated(stmt: ast.stmt) -> set[str]:
    out = set()
    for sub in ast.walk(stmt):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            inplace = any(
                k.arg == "inplace" and getattr(k.value, "value", None) is True for k in sub.keywords
            )
            if inplace or sub.func.attr in MUTATING_METHODS:
                root = _root(sub.func.value)
                if root:
                    out.add(root)
    return out


def _reads_for(stmt: ast.stmt, wanted: set[str]) -> set[str]:
    """What the statement reads to make the wanted names; for `a, b, c, d =
    train_test_split(X, y)` only the arrays the wanted outputs are split from."""
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and _flat(stmt.targets[0])
        and isinstance(stmt.value, ast.Call)
        and _call_name(stmt.value) in SPLITTERS
    ):
        elts = stmt.targets[0].elts  # type: ignore[attr-defined]
        args = stmt.value.args
        picked = {i // 2 for i, e in enumerate(elts) if e.id in wanted}
        return set().union(*(_loads(args[k]) for k in picked if k < len(args)))
    return _loads(stmt)


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


def feature_path(statements: list[Statement], features: set[str]) -> list[Statement]:
    """The statements (top-down) the features are computed by, from the raw data on."""
    wanted = set(features)
    path: list[Statement] = []
    for cell, stmt in reversed(statements):
        bound, whole = _bound(stmt)
        hit = bound & wanted
        if not hit:
            continue
        path.append((cell, stmt))
        wanted = (wanted - (whole & hit)) | _reads_for(stmt, hit)
    path.reverse()
    return path


def _learned_in(node: ast.AST, model: str) -> Iterator[str]:
    masks = {
        id(sub)
        for s in ast.walk(node)
        if isinstance(s, ast.Subscript) and isinstance(s.value, ast.Name)
        for sub in ast.walk(s.slice)
    }
    for sub in ast.walk(node):
        if not (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)):
            continue
        attr, owner = sub.func.attr, _root(sub.func.value)
        if attr in FITS and owner != model:
            yield f"fits `{owner}`" if owner else f"uses `{attr}`"
        elif attr in STATISTICS and id(sub) not in masks and not _row_wise(sub):
            yield f"uses `{attr}`"


def _row_wise(call: ast.Call) -> bool:
    return any(
        k.arg == "axis" and getattr(k.value, "value", None) in (1, "columns") for k in call.keywords
    )


def learned_on_path(
    flow: Flow, model: str, fit_cell: int, fit_line: int, fit_x: ast.expr | None
) -> list[tuple[int, str]]:
    """(cell, what) for each preparation on the path to the model's features that learns
    from the training data; [] when there is none (or the features are not known)."""
    if fit_x is None:
        return []
    statements = _statements_before(flow, fit_cell, fit_line)
    out = [(fit_cell, what) for what in _learned_in(fit_x, model)]
    for cell, stmt in feature_path(statements, _loads(fit_x)):
        for what in _learned_in(stmt, model):
            if (cell, what) not in out:
                out.append((cell, what))
    return out
