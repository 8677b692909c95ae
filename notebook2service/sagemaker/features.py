"""One feature-preparation path: row-wise preparation becomes `prepare_features(frame)`,
called by the training step and by serving alike.

Only preparation that works one row at a time can be shared: column arithmetic, `assign`,
`astype`, `rename`, `drop(columns=…)`, numpy functions. Anything that learns from the whole
training set (`median`, `get_dummies`, …), filters rows, or reads notebook variables keeps
the preparation in training, and `decide` says which cell and why.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

import libcst as cst

from .slice import LEARNED

ROW_METHODS = frozenset(
    {"assign", "astype", "rename", "drop", "clip", "round", "abs", "replace", "eval"}
)
NOT_ROW_WISE = LEARNED | {
    "dropna",
    "drop_duplicates",
    "query",
    "sample",
    "head",
    "tail",
    "merge",
    "join",
    "concat",
    "pivot",
    "pivot_table",
    "melt",
    "explode",
    "shift",
    "diff",
    "cumsum",
    "cumprod",
    "rolling",
    "expanding",
    "ewm",
    "pct_change",
    "reset_index",
    "set_index",
    "sort_values",
    "fillna",
    "interpolate",
}
FUNCTION = "prepare_features"


@dataclass
class Extraction:
    frame: str  # the DataFrame variable the preparation works on (e.g. df)
    target: str | None  # the target column, left out of the raw request columns
    function: cst.FunctionDef  # the module-level function
    cells: list[int]


def _ast(stmt: cst.CSTNode) -> ast.stmt | None:
    try:
        return ast.parse(cst.Module([stmt]).code).body[0]  # type: ignore[list-item]
    except (SyntaxError, IndexError):
        return None


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _writes_frame(node: ast.stmt, frame: str) -> bool:
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    for t in targets:
        base = t.value if isinstance(t, ast.Subscript) else t
        if isinstance(base, ast.Name) and base.id == frame:
            return True
    return False


def _row_wise(node: ast.stmt, frame: str, allowed: set[str]) -> bool:
    if not isinstance(node, (ast.Assign, ast.AugAssign)):
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if len(targets) != 1:
        return False
    target = targets[0]
    if isinstance(target, ast.Subscript):  # df["col"] = …
        if not (isinstance(target.slice, ast.Constant) and isinstance(target.slice.value, str)):
            return False
    elif isinstance(target, ast.Name):  # df = df.assign(…)/drop(columns=…)…
        value = node.value
        chain_ok = False
        while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
            if value.func.attr not in ROW_METHODS:
                return False
            if value.func.attr == "drop" and not any(k.arg == "columns" for k in value.keywords):
                return False
            value = value.func.value
            chain_ok = True
        if not (chain_ok and isinstance(value, ast.Name) and value.id == frame):
            return False
    else:
        return False
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in NOT_ROW_WISE
        ):
            return False
        if (
            isinstance(sub, ast.Subscript)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == frame
        ):
            s = sub.slice
            if not (isinstance(s, ast.Constant) and isinstance(s.value, str)) and not (
                isinstance(s, ast.List) and all(isinstance(e, ast.Constant) for e in s.elts)
            ):
                return False  # a mask or a computed column list: not one row at a time
    return _names(node) <= allowed | {frame}


def extract(
    steps_cells: list[int], cells: dict, fit_x: str, module_names: set[str]
) -> Extraction | None:
    """Find the row-wise preparation of the frame the model's features come from and move it
    into `prepare_features`; the cells' statement lists are edited in place.

    Passes: the training statements → the feature selection (`X = df[cols]`) → the row-wise
    statements before it → the target column → the function, and the cells rewritten."""
    ordered = _statements(steps_cells, cells)
    feature_var = _feature_variable(ordered, fit_x)
    select = _selection(ordered, feature_var)
    if select is None:
        return None
    end, frame = select
    prep = _preparation(ordered, end, frame, set(module_names) | set(dir(builtins)))
    if not prep:
        return None
    target = _target(ordered, frame, feature_var)
    prep_cells = sorted({ordered[p][0] for p in prep})
    func = _function(frame, [ordered[p][1] for p in prep], prep_cells)
    _call_instead(cells, ordered, prep, frame)
    return Extraction(frame, target, func, prep_cells)


Statement = tuple[int, cst.BaseStatement, ast.stmt]  # (cell, libcst node, ast node)


def _statements(steps_cells: list[int], cells: dict) -> list[Statement]:
    ordered: list[Statement] = []
    for idx in steps_cells:
        part = cells.get(idx)
        if part is None or part.error:
            continue
        for stmt in part.body:
            node = _ast(stmt)
            if node is not None:
                ordered.append((idx, stmt, node))
    return ordered


def _feature_variable(ordered: list[Statement], fit_x: str) -> str:
    """X = df[cols] / df.drop(columns=…), possibly behind train_test_split(X, …)."""
    feature_var = fit_x
    for _, _, node in ordered:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
            names = [e.id for e in node.targets[0].elts if isinstance(e, ast.Name)]
            v = node.value
            if (
                fit_x in names
                and isinstance(v, ast.Call)
                and v.args
                and isinstance(v.args[0], ast.Name)
            ):
                feature_var = v.args[0].id
    return feature_var


def _selection(ordered: list[Statement], feature_var: str) -> tuple[int, str] | None:
    """(position, frame) of the last `feature_var = frame[...]` or `frame.drop(...)`."""
    select = None
    for pos, (_, _, node) in enumerate(ordered):
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == feature_var
        ):
            continue
        v = node.value
        if isinstance(v, ast.Subscript) and isinstance(v.value, ast.Name):
            select = (pos, v.value.id)
        elif (
            isinstance(v, ast.Call)
            and isinstance(v.func, ast.Attribute)
            and v.func.attr == "drop"
            and isinstance(v.func.value, ast.Name)
        ):
            select = (pos, v.func.value.id)
    return select


def _preparation(ordered: list[Statement], end: int, frame: str, allowed: set[str]) -> list[int]:
    """Positions of the row-wise statements that rewrite `frame` between its load and `end`;
    empty when any of them (or anything in between) is not row-wise."""
    prep: list[int] = []
    for pos in range(end - 1, -1, -1):
        node = ordered[pos][2]
        if not _writes_frame(node, frame):
            continue
        if frame not in _names(node):  # the load: preparation starts after it
            break
        if not _row_wise(node, frame, allowed):
            return []
        prep.append(pos)
    prep.reverse()
    if prep:
        for pos in range(prep[0], prep[-1] + 1):  # nothing else may look at the frame between
            if pos not in prep and frame in _names(ordered[pos][2]):
                return []
    return prep


def _target(ordered: list[Statement], frame: str, feature_var: str) -> str | None:
    """The target column: `y = frame["name"]`, not part of a serving request."""
    target = None
    for _, _, node in ordered:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript):
            v = node.value
            if (
                isinstance(v.value, ast.Name)
                and v.value.id == frame
                and isinstance(v.slice, ast.Constant)
            ):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if names and names[0] != feature_var and isinstance(v.slice.value, str):
                    target = v.slice.value
    return target


def _function(frame: str, prep_nodes: list[cst.BaseStatement], cells: list[int]) -> cst.FunctionDef:
    doc = cst.SimpleStatementLine(
        [
            cst.Expr(
                cst.SimpleString(
                    '"""Feature preparation for training and serving alike (cells '
                    + ", ".join(str(i) for i in cells)
                    + ')."""'
                )
            )
        ]
    )
    body = [
        doc,
        *[s.with_changes(leading_lines=[]) for s in prep_nodes],  # type: ignore[attr-defined]
        cst.SimpleStatementLine([cst.Return(cst.Name(frame))]),
    ]
    return cst.FunctionDef(
        cst.Name(FUNCTION), cst.Parameters([cst.Param(cst.Name(frame))]), cst.IndentedBlock(body)
    )


def _call_instead(cells: dict, ordered: list[Statement], prep: list[int], frame: str) -> None:
    """`frame = prepare_features(frame)` where the first prepared statement was; the rest go."""
    prep_nodes = [ordered[p][1] for p in prep]
    call = cst.SimpleStatementLine(
        [
            cst.Assign(
                [cst.AssignTarget(cst.Name(frame))],
                cst.Call(cst.Name(FUNCTION), [cst.Arg(cst.Name(frame))]),
            )
        ],
        leading_lines=prep_nodes[0].leading_lines,  # type: ignore[attr-defined]
    )
    first_node = prep_nodes[0]
    drop = {id(n) for n in prep_nodes[1:]}
    for idx in {ordered[p][0] for p in prep}:
        part = cells[idx]
        part.body = [call if n is first_node else n for n in part.body if id(n) not in drop]
        part.ordered = [call if n is first_node else n for n in part.ordered]  # same length
