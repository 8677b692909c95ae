"""The dataflow path from the raw data to a model's features, and what on it learns from data.

The one backward slice (`slice.backward`) over the notebook's top-level statements before
the model's ``fit``, from the names its ``X`` reads: a statement is on the path when it
binds or changes (``sc.fit(X)``, ``inplace=True``) a name the path needs; it adds the names
it reads (for ``train_test_split``, only the array its wanted outputs come from).
Statements that only show something (``df.describe()``, ``print(scores.mean())``) bind
nothing and are never on it.

On the path, a preparation *learns from the training data* when it fits a transformer
(``fit``/``fit_transform``/``partial_fit`` of anything but the model) or takes a statistic of
the data (``slice.STATISTICS``: ``mean``, ``std``, ``get_dummies``…; not row-wise
``axis=1``, not inside a row filter ``df[df.a > df.a.mean()]``): one row at a time, serving
would give other features.

    found = learned_on_path(flow, model="knn", fit_cell=12, fit_line=3, fit_x=call.args[0])
    found  # [(10, "fits `sc`"), (11, "uses `mean`")]
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..dataflow import Flow
from .slice import FITS, STATISTICS, Stmt, backward, flow_statements, root_name

SPLITTERS = frozenset({"train_test_split"})


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _flat(target: ast.AST) -> bool:
    return isinstance(target, (ast.Tuple, ast.List)) and all(
        isinstance(e, ast.Name) for e in target.elts
    )


def reads_for(stmt: Stmt, wanted: set[str]) -> set[str]:
    """What the statement reads to make the wanted names; for `a, b, c, d =
    train_test_split(X, y)` only the arrays the wanted outputs are split from."""
    node = stmt.facts.nodes[0]
    if (
        len(stmt.facts.nodes) == 1
        and isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and _flat(node.targets[0])
        and isinstance(node.value, ast.Call)
        and _call_name(node.value) in SPLITTERS
    ):
        elts = node.targets[0].elts  # type: ignore[attr-defined]
        args = node.value.args
        picked = {i // 2 for i, e in enumerate(elts) if e.id in wanted}
        return set().union(*(_loads(args[k]) for k in picked if k < len(args)))
    return stmt.reads


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


def feature_path(flow: Flow, fit_cell: int, fit_line: int, features: set[str]) -> list[Stmt]:
    """The statements (top-down) before the fit that the features are computed by."""
    stmts = flow_statements(flow)
    end = next(
        (
            k
            for k, s in enumerate(stmts)
            if s.cell > fit_cell
            or (s.cell == fit_cell and fit_line <= (s.facts.nodes[-1].end_lineno or 0))
        ),
        len(stmts),
    )
    return [stmts[k] for k in backward(stmts, features, end, pin=False, reads_for=reads_for)]


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
        attr, owner = sub.func.attr, root_name(sub.func.value)
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
    out = [(fit_cell, what) for what in _learned_in(fit_x, model)]
    for stmt in feature_path(flow, fit_cell, fit_line, _loads(fit_x)):
        for node in stmt.facts.nodes:
            for what in _learned_in(node, model):
                if (stmt.cell, what) not in out:
                    out.append((stmt.cell, what))
    return out
