"""SageMaker decisions, made in Python from the dataflow and the convert plan (templates only
render them): which fitted estimator is the model, what data it was fitted on, which file reads
become channels, which parameters become hyperparameters, and which steps training needs.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ..dataflow import Flow
from ..findings import Finding, note
from ..lift.plan import Plan, Step
from .feature_path import learned_on_path
from .orchestration import orchestration_plan
from .slice import (
    WRAPPERS,
    Stmt,
    backward,
    flow_statements,
    lifted_statements,
    training_cells,
)

FIT_METHODS = ("fit", "partial_fit", "fit_predict")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "score")
#: reader functions whose first argument is a data file (the last part of the dotted name)
READERS = frozenset(
    "read_csv read_table read_parquet read_json read_excel read_feather read_fwf read_orc "
    "loadtxt genfromtxt".split()
)
PIPELINE_BUILDERS = frozenset(
    {"Pipeline", "make_pipeline", "ColumnTransformer", "make_column_transformer"}
)


@dataclass
class Channel:
    name: str
    default: str  # the path the notebook reads (relative to the notebook)
    reader: str  # dotted reader as written, e.g. pd.read_csv
    cell: int
    line: int
    variable: str | None = None  # `DATA_PATH` when the path was a constant held in a variable


@dataclass
class SageMakerPlan:
    model: str | None = None
    model_cell: int | None = None
    fit_x: str | None = None
    fit_y: str | None = None
    model_step: str | None = None
    model_is_pipeline: bool = False
    channels: list[Channel] = field(default_factory=list)
    hyperparameters: list[str] = field(default_factory=list)
    train_steps: list[Step] = field(default_factory=list)
    #: steps train runs only part of (their other statements evaluate, show or plot)
    train_parts: dict[str, TrainPart] = field(default_factory=dict)
    notes: list[Finding] = field(default_factory=list)
    feature_function: str | None = None  # pipeline function shared by training and serving
    target: str | None = None  # target column, not part of a serving request

    def channel_keys(self) -> dict[str, str]:
        """What the channel rewrite matches a reader's first argument on -> channel name."""
        keys = {}
        for c in self.channels:
            keys["name:" + c.variable if c.variable else "path:" + c.default] = c.name
        return keys

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "model_cell": self.model_cell,
            "fit": {"X": self.fit_x, "y": self.fit_y},
            "model_is_pipeline": self.model_is_pipeline,
            "channels": [
                {
                    "name": c.name,
                    "default": c.default,
                    "reader": c.reader,
                    "cell": c.cell,
                    "line": c.line,
                }
                for c in self.channels
            ],
            "hyperparameters": self.hyperparameters,
            "training_steps": [s.name for s in self.train_steps],
            "feature_function": self.feature_function,
            "target": self.target,
        }


def _note(severity: str, message: str, cell: int | None = None, **args: Any) -> Finding:
    name = args.pop("name", "")
    return note("sagemaker", name, severity, message, cell, **args)


def _object_name(dotted: str) -> tuple[str, str] | None:
    parts = dotted.split(".")
    return (parts[0], parts[-1]) if len(parts) == 2 else None


def _fits_and_predictions(
    flow: Flow,
) -> tuple[list[tuple[int, int, str, object]], set[str], set[str]]:
    """(cell, line, name, call) of every fit, the names something predicts with, and the
    names something transforms with (fitted scalers and encoders, not models)."""
    fitted: list[tuple[int, int, str, object]] = []  # (cell, line, name, call)
    predicted: set[str] = set()
    transformers: set[str] = set()  # `sc.transform(X)`: a fitted scaler is not the model
    for f in flow.cells:
        for call in f.calls:
            pair = _object_name(call.func)
            if pair is None or pair[0] in flow.imports:
                continue
            name, method = pair
            if method in FIT_METHODS:
                fitted.append((f.cell.index, call.line, name, call))
            elif method in PREDICT_METHODS:
                predicted.add(name)
            elif method in ("transform", "inverse_transform"):
                transformers.add(name)
        # `model = Estimator(...).fit(X, y)`: fit returns the estimator, bound to the target
        tree = f.translation.tree
        for node in ast.walk(tree) if tree is not None else ():
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr in FIT_METHODS
                and not isinstance(node.value.func.value, ast.Name)
            ):
                fitted.append((f.cell.index, node.lineno, node.targets[0].id, node.value))
    return fitted, predicted, transformers


#: find_model's answer: (the model's name, the cell fitting it, the fit call, notes)
FoundModel = tuple[str | None, int | None, ast.Call | None, list[Finding]]


def find_model(flow: Flow, override: str | None = None) -> FoundModel:
    """The fitted estimator the notebook predicts or scores with (the last one fitted)."""
    fitted, predicted, transformers = _fits_and_predictions(flow)
    notes: list[Finding] = []
    saved = saved_names(flow)
    tagged = [
        c.index for c in flow.notebook.code_cells if "model" in c.tags or "nb2svc-model" in c.tags
    ]
    if override:
        chosen = [x for x in fitted if x[2] == override]
        if not chosen:
            notes.append(
                _note(
                    "error",
                    f"--model {override}: no cell fits `{override}`",
                    name="model-not-fitted",
                    model=override,
                )
            )
            return None, None, None, notes
    elif tagged:
        chosen = [x for x in fitted if x[0] in tagged]
    else:
        chosen = (
            [x for x in fitted if x[2] in saved]
            or [x for x in fitted if x[2] in predicted]
            or [x for x in fitted if x[2] not in transformers]
            or fitted
        )
    if not chosen:
        notes.append(
            _note(
                "warning",
                "no fitted estimator found: the training entrypoint is written, "
                "without a serving stack",
                name="no-estimator",
            )
        )
        return None, None, None, notes
    cell, _, name, call = max(chosen, key=lambda x: (x[0], x[1]))
    others = sorted({x[2] for x in fitted if x[2] in predicted and x[2] != name})
    if others:
        notes.append(
            _note(
                "info",
                f"the model is `{name}` ({'saved by the notebook, ' * (name in saved)}"
                f"fitted last in cell {cell}); also fitted and "
                f"used to predict: {', '.join(others)} (choose with --model)",
                cell,
                name="several-models",
                model=name,
                others=others,
            )
        )
    return name, cell, call, notes  # type: ignore[return-value]


#: functions that save their first argument (module's last part, function)
SAVERS = frozenset(
    {
        ("joblib", "dump"),
        ("pickle", "dump"),
        ("dill", "dump"),
        ("cloudpickle", "dump"),
        ("io", "dump"),
        ("skops", "dump"),
        ("torch", "save"),
        ("sklearn", "save_model"),
        ("xgboost", "save_model"),
        ("mlflow", "save_model"),
        ("mlflow", "log_model"),
    }
)
#: methods that save the object they are called on
SAVE_METHODS = frozenset({"save_model", "save"})


def saved_names(flow: Flow) -> set[str]:
    """Names the notebook saves as a model: `joblib.dump(m, ...)`, `pickle.dump(m, f)`,
    `skops.io.dump(m, ...)`, `mlflow.sklearn.save_model(m, ...)`, `m.save_model(...)`."""
    out: set[str] = set()
    for f in flow.cells:
        for call in f.calls:
            parts = call.func.split(".")
            root = flow.imports.get(parts[0], parts[0]).split(".")
            qualified = [*root, *parts[1:]]
            if len(qualified) >= 2 and (qualified[-2], qualified[-1]) in SAVERS and call.args:
                name = _arg_name(call.args[0])
                out |= {name} if name else set()
            elif len(parts) == 2 and parts[1] in SAVE_METHODS and parts[0] not in flow.imports:
                out.add(parts[0])
    return out


def _arg_name(node: ast.expr | None) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


_WRAPPED = ("estimator", "base_estimator", "regressor", "classifier")


def training_cells_for(flow: Flow, found: FoundModel) -> tuple[set[int], set[int]]:
    """(cells the model needs, cells doing costly work), for the plan (lift/split.apart);
    `found`: find_model's answer."""
    name, cell, call, _ = found
    return training_cells(flow, name, cell, _fit_arguments(call)[0] if call is not None else None)


def _is_pipeline(flow: Flow, name: str, depth: int = 0) -> bool:
    """Is `name` bound to a Pipeline (`make_pipeline(…)`, `Pipeline(…).fit(…)`, an alias of
    one, or a search/wrapper around one, e.g. `GridSearchCV(pipe, …)`)?"""
    if depth > 5:
        return False
    for f in flow.cells:
        tree = f.translation.tree
        if tree is None or name not in f.defs:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
                and _builds_pipeline(flow, node.value, name, depth)
            ):
                return True
    return False


def _builds_pipeline(flow: Flow, value: ast.expr, name: str, depth: int) -> bool:
    while (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in (*FIT_METHODS, "set_params")
    ):
        value = value.func.value  # make_pipeline(…).fit(X, y) returns the pipeline
    if isinstance(value, ast.Name):
        return value.id != name and _is_pipeline(flow, value.id, depth + 1)
    if not isinstance(value, ast.Call):
        return False
    fn = value.func.attr if isinstance(value.func, ast.Attribute) else getattr(value.func, "id", "")
    if fn in PIPELINE_BUILDERS:
        return True
    inner = value.args[0] if value.args else None
    inner = inner or next((k.value for k in value.keywords if k.arg in _WRAPPED), None)
    return fn in WRAPPERS and inner is not None and _builds_pipeline(flow, inner, name, depth + 1)


def _string_constants(flow: Flow) -> dict[str, str]:
    """Names bound exactly once in the notebook, at the top of a cell, to a string literal."""
    found: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for f in flow.cells:
        for name in f.defs:
            counts[name] = counts.get(name, 0) + 1
        tree = f.translation.tree
        for stmt in tree.body if tree is not None else []:
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                found.setdefault(stmt.targets[0].id, []).append(stmt.value.value)
    return {k: v[0] for k, v in found.items() if len(v) == 1 and counts.get(k) == 1}


def find_channels(flow: Flow) -> tuple[list[Channel], list[Finding]]:
    reads: list[Channel] = []
    notes: list[Finding] = []
    constants = _string_constants(flow)
    for f in flow.cells:
        for call in f.calls:
            last = call.func.rsplit(".", 1)[-1]
            if last not in READERS or not call.args:
                continue
            arg = call.args[0]
            variable = None
            if isinstance(arg, ast.Name) and arg.id in constants:
                variable = arg.id
                arg = ast.Constant(constants[arg.id])
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                notes.append(
                    _note(
                        "info",
                        f"`{call.func}(…)` reads a path computed at run time; it is "
                        "not a channel (pass the file as a parameter)",
                        f.cell.index,
                        name="computed-path",
                        reader=call.func,
                    )
                )
                continue
            path = arg.value
            if "://" in path or path.startswith(("/", "~")) or ":" in path[:3]:
                notes.append(
                    _note(
                        "warning",
                        f"`{call.func}({path!r})` reads a URL or absolute path; it "
                        "is not a channel",
                        f.cell.index,
                        name="absolute-path",
                        reader=call.func,
                        path=path,
                    )
                )
                continue
            if any(r.default == path and r.variable == variable for r in reads):
                continue
            reads.append(Channel("", path, call.func, f.cell.index, call.line, variable))
    taken: set[str] = set()
    by_path: dict[str, str] = {}
    for r in reads:
        if r.default in by_path:
            r.name = by_path[r.default]
            continue
        stem = (
            re.sub(r"[^a-z0-9]+", "-", PurePosixPath(r.default).stem.lower()).strip("-") or "data"
        )
        name = "train" if len({x.default for x in reads}) == 1 else stem
        base, n = name, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        r.name = by_path[r.default] = name
    return reads, notes


@dataclass
class TrainPart:
    """A step `train` runs only part of: the statements the model (or the step's metrics)
    needs, as the function train.py's own module defines (`training_steps.py`)."""

    params: list[str]
    returns: list[str]
    kept: dict[int, list[int]]  # cell -> positions of its statements (in the step) kept


def _step_statements(flow: Flow, plan: Plan, cells: dict[int, Any] | None) -> list[Stmt]:
    """The statements of the plan's steps, top-down: what each step's body runs (lifted
    cells), or, without them, the notebook's own statements."""
    in_steps = list(dict.fromkeys(i for s in plan.steps for i in s.cells))  # a cut cell: once
    if cells is None:
        order = set(in_steps)
        return [s for s in flow_statements(flow) if s.cell in order]
    return lifted_statements(flow, [(i, cells[i].body if i in cells else []) for i in in_steps])


def training_slice(
    flow: Flow,
    plan: Plan,
    model_step: Step,
    model: str,
    wanted: set[str],
    cells: dict[int, Any] | None = None,
    only: set[str] | None = None,
) -> tuple[list[Step], dict[str, TrainPart]]:
    """The steps `train` runs, in order, and the parts of steps it runs: the statements the
    model needs (`wanted`: the model and its features after `model_step`), then, for
    metrics, the statements after it that compute a later step's inputs from the model
    without training anything. `only`: the steps chosen before (see refresh_parts)."""
    stmts = _step_statements(flow, plan, cells)
    cell_step = {i: s for s in plan.steps for i in s.cells}
    end = max((k + 1 for k, st in enumerate(stmts) if cell_step[st.cell] is model_step), default=0)
    kept = {k for k in backward(stmts, wanted, end) if stmts[k].cell in cell_step}
    chosen: dict[str, list[Stmt]] = {}
    for k in sorted(kept):
        chosen.setdefault(cell_step[stmts[k].cell].name, []).append(stmts[k])
    chosen.setdefault(model_step.name, [])
    metrics = _metric_steps(plan, model_step, model, stmts, chosen)
    if only is not None:
        chosen = {name: kept for name, kept in chosen.items() if name in only}
    parts = _parts(plan, stmts, chosen, wanted | metrics, exact=cells is not None)
    return [s for s in plan.steps if s.name in chosen], parts


def refresh_parts(flow: Flow, plan: Plan, sm: SageMakerPlan, cells: dict[int, Any]) -> None:
    """The parts of the training steps again, once the step bodies are final (the feature
    function and the channels rewrite statements): the same steps, what they now run."""
    step = next((s for s in plan.steps if s.name == sm.model_step), None)
    if not sm.model or step is None:
        return
    wanted = {n for n in (sm.model, sm.fit_x) if n}
    names = {s.name for s in sm.train_steps}
    sm.train_parts = training_slice(flow, plan, step, sm.model, wanted, cells, names)[1]


def _metric_steps(
    plan: Plan, model_step: Step, model: str, stmts: list[Stmt], chosen: dict[str, list[Stmt]]
) -> set[str]:
    """Steps after the model's that score it: what they return from the model, when that
    trains nothing and reads only what training has. Returns the names they return."""
    steps = plan.steps
    made = {n for kept in chosen.values() for st in kept for n in (*st.binds, *st.changes)}
    available = {n for s in steps if s.name in chosen for n in (*s.returns, *s.global_names)}
    available = (available & made) | {p.name for p in plan.parameters}
    metrics: set[str] = set()
    for s in steps[steps.index(model_step) + 1 :]:
        if model not in s.params or not s.returns:
            continue
        own = [st for st in stmts if st.cell in s.cells]
        kept = [own[k] for k in backward(own, set(s.returns), pin=False)]
        reads = {n for st in kept for n in st.reads} & set(s.params)
        if kept and not any(st.costly for st in kept) and reads <= available:
            chosen[s.name] = kept
            available |= set(s.returns)
            metrics |= set(s.returns)
    return metrics


def _parts(
    plan: Plan, stmts: list[Stmt], chosen: dict[str, list[Stmt]], wanted: set[str], exact: bool
) -> dict[str, TrainPart]:
    """For each chosen step that runs only some of its statements: its parameters (what
    those read), returns (what later chosen steps, or training, read) and statements."""
    parts: dict[str, TrainPart] = {}
    later = set(wanted)
    for step in reversed([s for s in plan.steps if s.name in chosen]):
        kept = chosen[step.name]
        total = sum(1 for st in stmts if st.cell in step.cells)
        if not exact or len(kept) == total:
            later |= set(step.params)
            continue
        reads = {n for st in kept for n in st.reads}
        writes = {n for st in kept for n in (*st.binds, *st.changes)}
        params = [p for p in step.params if p in reads]
        returns = [r for r in step.returns if r in later and (r in writes or r in params)]
        positions: dict[int, list[int]] = {}
        for st in kept:
            positions.setdefault(st.cell, []).append(st.pos)
        parts[step.name] = TrainPart(params, returns, positions)
        later |= set(params)
    return parts


def _keyword(call: object, name: str) -> object:
    """The value of keyword argument `name` of a call (ast.Call: a list of ast.keyword)."""
    keywords = getattr(call, "keywords", None) or ()
    if isinstance(keywords, dict):
        return keywords.get(name)
    return next((k.value for k in keywords if getattr(k, "arg", None) == name), None)


def decide(
    flow: Flow, plan: Plan, found: FoundModel, cells: dict[int, Any] | None = None
) -> SageMakerPlan:
    """The SageMaker plan; SageMaker control-plane calls kept out of train.py and serving.

    `found` is find_model's answer (computed once per convert by the plan pass); `cells`
    the lifted cells (lift.build.CellParts), so the training slice is of what steps run."""
    sm = _decide(flow, plan, found, cells)
    orchestration_plan(flow, sm, plan)
    return sm


def _decide(
    flow: Flow, plan: Plan, found: FoundModel, cells: dict[int, Any] | None
) -> SageMakerPlan:
    sm = SageMakerPlan(hyperparameters=[p.name for p in plan.parameters])
    sm.channels, notes = find_channels(flow)
    sm.notes += notes
    name, cell, call, notes = found
    sm.notes += notes
    if name is None:
        sm.train_steps = list(plan.steps)
        return sm
    sm.model, sm.model_cell = name, cell
    if call is not None:
        sm.fit_x, sm.fit_y = _fit_arguments(call)
    step = next((s for s in plan.steps if cell in s.cells), None)
    if step is None:
        sm.notes.append(
            _note(
                "error",
                f"the model `{name}` is fitted in cell {cell}, which is not part of any step",
                cell,
                name="model-outside-steps",
                model=name,
            )
        )
        sm.train_steps = list(plan.steps)
        return sm
    sm.model_step = step.name
    sm.model_is_pipeline = _is_pipeline(flow, name)
    for var in (name, sm.fit_x):  # training needs them back (when this step binds them:
        # not a local of a function, not a parameter an earlier step already returns)
        if var and var in step.writes and var not in step.returns + step.global_names:
            step.returns.append(var)
    wanted = {n for n in (name, sm.fit_x) if n}
    sm.train_steps, sm.train_parts = training_slice(flow, plan, step, name, wanted, cells)
    found = _feature_note(flow, sm, name, cell, call)
    if found is not None:
        sm.notes.append(found)
    return sm


def _fit_arguments(call: Any) -> tuple[str | None, str | None]:
    """The names passed as X and y to the model's fit call."""
    args = getattr(call, "args", ())
    x = _arg_name(args[0]) if len(args) > 0 else _arg_name(_keyword(call, "X"))
    y = _arg_name(args[1]) if len(args) > 1 else _arg_name(_keyword(call, "y"))
    return x, y


def _feature_note(flow: Flow, sm: SageMakerPlan, name: str, cell: int, call: Any) -> Finding | None:
    """Where feature preparation runs: inside the Pipeline; or, when a preparation on the
    dataflow path to the model's features learns from the training data, why it cannot be
    shared with serving. Nothing when the features need no such preparation."""
    if sm.model_is_pipeline:
        return _note(
            "info",
            f"feature preparation inside `{name}` (a Pipeline) runs in both training and serving",
            cell,
            name="pipeline-features",
            model=name,
        )
    args = getattr(call, "args", ())
    x = args[0] if args else _keyword(call, "X")
    line = getattr(call, "line", None) or getattr(call, "lineno", 0)
    learned = learned_on_path(flow, name, cell, line, x if isinstance(x, ast.expr) else None)
    if not learned:
        return None
    why = "; ".join(f"cell {c} {what}" for c, what in learned[:4])
    return _note(
        "warning",
        f"`{name}` is not a Pipeline, and the feature preparation before it cannot be one "
        f"function for training and serving: it learns from the training data ({why}), so "
        "one row at a time it would give other features than training did. Serving expects the "
        f"features `{sm.fit_x or 'X'}` exactly as the model saw them. Move the preparation into "
        "an sklearn Pipeline (SimpleImputer, OneHotEncoder, FunctionTransformer) to serve raw rows.",
        cell,
        name="features-not-pipeline",
        model=name,
        features=sm.fit_x,
        learned=[{"cell": c, "what": what} for c, what in learned],
    )
