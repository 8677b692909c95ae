"""SageMaker control-plane calls in a notebook: orchestration, never training or serving code.

SageMaker example notebooks drive the service: an SDK ``Estimator``/``SKLearn``/
``HyperparameterTuner`` whose ``.fit()`` starts a remote training job and whose ``.deploy()``
creates a billable endpoint, or boto3 calls (``create_training_job``, ``create_endpoint``...).
Their real training code is the script they upload (``%%writefile train.py``, the estimator's
``entry_point``). This module finds those calls statically (from the dataflow's calls and
imports; nothing is imported or run):

- :func:`sdk_objects`: names bound to SageMaker SDK objects (estimators, tuners, predictors,
  transformers, sessions, boto3 SageMaker clients);
- :func:`control_calls`: every control-plane call, what it creates or deletes;
- :func:`entry_points`: the ``entry_point=``/``source_dir=`` scripts the estimators name;
- :func:`orchestration_cells`: the cells of those calls, which `orchestration_plan` keeps out
  of the training slice.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from ..dataflow import Flow, dotted

__all__ = ["ControlCall", "control_calls", "entry_points", "sdk_objects", "BOTO3_CREATES"]

#: boto3 SageMaker client methods → the resource they create (billed while it exists or runs)
BOTO3_CREATES = {
    "create_training_job": "training job",
    "create_hyper_parameter_tuning_job": "tuning job",
    "create_transform_job": "transform job",
    "create_processing_job": "processing job",
    "create_endpoint": "endpoint",
    "create_model": "model",
    "create_endpoint_config": "endpoint config",
    "create_notebook_instance": "notebook instance",
    "create_auto_ml_job": "AutoML job",
    "create_auto_ml_job_v2": "AutoML job",
}
#: SDK object methods → the resource they create
SDK_CREATES = {
    "fit": "training job",
    "deploy": "endpoint",
    "transform": "transform job",
    "transformer": "model",
    "run": "processing job",
    "train": "training job",  # SDK 3 ModelTrainer.train()
    "build": "model",  # SDK 3 ModelBuilder.build()
    "submit": "training job",  # azureml Experiment.submit(), aiplatform CustomJob.submit()
}
DELETES = {
    "delete_endpoint": "endpoint",
    "delete_predictor": "endpoint",
    "delete_model": "model",
    "delete_endpoint_config": "endpoint config",
    "stop_training_job": "training job",
    "stop_transform_job": "transform job",
    "delete_notebook_instance": "notebook instance",
    "stop_notebook_instance": "notebook instance",
}
#: resources that bill until deleted (jobs end by themselves: StoppingCondition)
LASTING = frozenset({"endpoint", "notebook instance"})
#: control-plane SDKs: SageMaker first, and the other clouds' ML services (same shape: an
#: estimator/job whose fit/run/submit executes remotely, a deploy that creates an endpoint)
_SDK_ROOTS = (
    "sagemaker",
    "smexperiments",
    "sagemaker_core",
    "azureml",
    "azure.ai.ml",
    "google.cloud.aiplatform",
    "vertexai",
)
_SDK_RETURNS = frozenset({"deploy", "transformer", "attach", "build", "best_estimator"})


@dataclass(frozen=True)
class ControlCall:
    cell: int
    line: int
    col: int
    call: str  # as written: "estimator.fit", "sm.create_endpoint"
    creates: str | None = None  # "endpoint", "training job", ...
    deletes: str | None = None


def _qualified(flow: Flow, cell_imports: dict[str, str], dotted: str) -> str:
    root, _, rest = dotted.partition(".")
    qual = cell_imports.get(root) or flow.imports.get(root)
    if qual is None:
        return dotted
    return f"{qual}.{rest}" if rest else qual


def _is_sdk(qualified: str) -> bool:
    return any(qualified == r or qualified.startswith(r + ".") for r in _SDK_ROOTS)


def _is_sagemaker_client(node: ast.expr, flow: Flow) -> bool:
    """``boto3.client("sagemaker")`` / ``session.client("sagemaker")`` / ``sagemaker.Session()``."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    if node.func.attr in ("client", "resource") and node.args:
        first = node.args[0]
        return isinstance(first, ast.Constant) and first.value == "sagemaker"
    return False


def _binds_sdk(value: ast.expr, flow: Flow, imports: dict[str, str], known: set[str]) -> bool:
    if _is_sagemaker_client(value, flow):
        return True
    if not isinstance(value, ast.Call):
        return False
    name = dotted(value.func, calls=True)
    if not name:
        return False
    if _is_sdk(_qualified(flow, imports, name)):
        return True
    root, _, rest = name.partition(".")
    return root in known and rest.split(".")[-1] in _SDK_RETURNS


def sdk_objects(flow: Flow) -> dict[str, int]:
    """Names bound to SageMaker SDK objects or SageMaker clients → the cell binding them."""
    found: dict[str, int] = {}
    for f in flow.cells:
        tree = f.translation.tree
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if _binds_sdk(node.value, flow, f.imports, set(found)):
                    for t in targets:
                        if isinstance(t, ast.Name):
                            found.setdefault(t.id, f.cell.index)
    return found


def control_calls(flow: Flow, objects: dict[str, int] | None = None) -> list[ControlCall]:
    """Every SageMaker control-plane call in the notebook, in notebook order (`objects`:
    sdk_objects(flow), when the caller has it already)."""
    objects = sdk_objects(flow) if objects is None else objects
    out: list[ControlCall] = []
    for f in flow.cells:
        for call in f.calls:
            root, _, rest = call.func.partition(".")
            method = call.func.rsplit(".", 1)[-1]
            qual = _qualified(flow, f.imports, call.func)
            via_client = root in objects or "client()" in root or _is_sdk(qual)
            creates = deletes = None
            if method in BOTO3_CREATES and via_client:
                creates = BOTO3_CREATES[method]
            elif rest and root in objects and method in SDK_CREATES:
                creates = SDK_CREATES[method]
            if method in DELETES and (via_client or root in objects):
                deletes = DELETES[method]
            if creates or deletes or _is_sdk(qual):
                out.append(
                    ControlCall(f.cell.index, call.line, call.col, call.func, creates, deletes)
                )
    return out


def entry_points(flow: Flow) -> list[str]:
    """The scripts estimators name (``entry_point="train.py"``), in notebook order."""
    names: list[str] = []
    for f in flow.cells:
        for call in f.calls:
            value = call.keywords.get("entry_point")
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                if value.value not in names:
                    names.append(value.value)
    return names


def orchestration_cells(calls: Iterable[ControlCall]) -> set[int]:
    """The cells of these control-plane calls (they never go into train.py or serving)."""
    return {c.cell for c in calls}


def uncleaned(calls: Iterable[ControlCall]) -> list[ControlCall]:
    """Calls creating a resource that bills until deleted, with no matching cleanup after."""
    calls = list(calls)
    cleaned = {c.deletes for c in calls if c.deletes}
    return [c for c in calls if c.creates in LASTING and c.creates not in cleaned]


def orchestration_plan(flow: Flow, sm, plan) -> None:
    """Keep SageMaker control-plane calls out of train.py and serving (updates ``sm``).

    When the model decide() picked is an SDK object (an Estimator's ``.fit()`` is a remote
    training job), there is no local model: the notebook orchestrates SageMaker, and its
    training code is the estimator's entry-point script. Steps with control-plane calls are
    dropped from the training slice whatever the model.
    """
    from ..findings import note

    objects = sdk_objects(flow)
    calls = control_calls(flow, objects)
    if not calls:
        return
    cells = orchestration_cells(calls)
    scripts = entry_points(flow)
    if sm.model in objects:
        where = f" (the entry point: {', '.join(scripts)})" if scripts else ""
        message = (
            f"`{sm.model}` is a SageMaker SDK object: its `.fit()` starts a remote training "
            f"job, so this notebook orchestrates SageMaker; its training code is the script "
            f"it uploads{where}. nb2svc does not make the orchestration a training "
            "entrypoint: convert the training script's notebook instead, or run the script "
            "with the SageMaker SDK"
        )
        sm.notes.append(
            note(
                "sagemaker",
                "orchestration-notebook",
                "error",
                message,
                sm.model_cell,
                model=sm.model,
                entry_points=scripts,
            )
        )
        sm.model = sm.model_cell = sm.model_step = sm.fit_x = sm.fit_y = None
        sm.model_is_pipeline = False
        sm.feature_function = None
        sm.notes = [
            n for n in sm.notes if n.name not in ("features-not-pipeline", "pipeline-features")
        ]
    kept = [s for s in sm.train_steps if not cells & set(s.cells)]
    dropped = [s.name for s in sm.train_steps if cells & set(s.cells)]
    if dropped:
        message = (
            f"steps {', '.join(dropped)} call the SageMaker control plane (cells "
            f"{', '.join(map(str, sorted(cells)))}); left out of train.py and serving"
        )
        sm.notes.append(note("sagemaker", "control-plane-steps", "warning", message, steps=dropped))
    sm.train_steps = kept if sm.model else []
