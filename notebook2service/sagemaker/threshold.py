"""Static detection of the notebook's own decision threshold on predicted probabilities.

`model.predict_proba(X)[:, 1] > 0.3` in the code that becomes the pipeline means the notebook
decides with 0.3, not with `predict()`'s 0.5: convert records the literal in the training
entrypoint, which writes it to signature.json as `threshold`, and serving applies it. Only a
literal number on the right of `>` counts (no execution, no guessing of variables).
"""

from __future__ import annotations

import ast


def _is_positive_column(node: ast.expr) -> bool:
    """`[:, 1]` of a subscript."""
    return (
        isinstance(node, ast.Tuple)
        and len(node.elts) == 2
        and isinstance(node.elts[0], ast.Slice)
        and node.elts[0].lower is None
        and node.elts[0].upper is None
        and isinstance(node.elts[1], ast.Constant)
        and node.elts[1].value == 1
    )


def _threshold_of(node: ast.Compare) -> float | None:
    if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Gt):
        return None
    left, right = node.left, node.comparators[0]
    if not (isinstance(left, ast.Subscript) and _is_positive_column(left.slice)):
        return None
    call = left.value
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "predict_proba"
    ):
        return None
    if isinstance(right, ast.Constant) and type(right.value) in (int, float):
        return float(right.value)
    return None


def decision_threshold(source: str) -> float | None:
    """The literal of the first `….predict_proba(…)[:, 1] > LITERAL` in `source`, else None."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            found = _threshold_of(node)
            if found is not None:
                return found
    return None
