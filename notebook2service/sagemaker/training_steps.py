"""`training_steps.py`: the steps `train` runs only part of.

When a step's cells also evaluate, show or plot what the model does not need (a search
whose result it does not use, a report, a figure), the training entrypoint runs this
module's version of the step: the same function with only the statements the model (or
the metrics) needs (decide.TrainPart, from the one backward slice in slice.py), built with
libcst from the same lifted statements as pipeline.py. The runtime calls these functions
in pipeline.py's namespace, so globals, helpers and `global` assignments are the
pipeline's; `python -m pkg` still runs every statement.
"""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from ..lift.build import CellParts, step_function
from ..lift.module import docstring, top_level
from ..lift.plan import Step
from .decide import SageMakerPlan

MODULE = "training_steps"
_DOC = (
    "The training entrypoint's versions of steps whose cells also do work the model does\n"
    "not need (evaluation, reports, plots): only the statements it needs. train.py runs\n"
    "them in pipeline.py's namespace; `python -m` the package runs the whole notebook."
)
#: names only: the runtime runs these functions in pipeline.py's namespace
_STAR = cst.SimpleStatementLine(
    [cst.ImportFrom(module=cst.Name("pipeline"), names=cst.ImportStar(), relative=[cst.Dot()])],
    leading_lines=[cst.EmptyLine(indent=False)],
    trailing_whitespace=cst.TrailingWhitespace(
        cst.SimpleWhitespace("  "),
        cst.Comment("# noqa: F403 (names only: the runtime runs these in pipeline)"),
    ),
)


def variant(step: Step, sm: SageMakerPlan, cells: dict[int, CellParts]) -> cst.FunctionDef:
    """The step as training runs it: its kept statements, parameters and returns."""
    part = sm.train_parts[step.name]
    kept = [i for i in step.cells if i in part.kept and i in cells]
    kept_cells = {i: replace(cells[i], body=[cells[i].body[k] for k in part.kept[i]]) for i in kept}
    short = replace(step, cells=kept, params=part.params, returns=part.returns)
    doc = f"{step.name} for training: the statements of {_cells(step)} the model needs."
    return step_function(short, kept_cells, doc)


def _cells(step: Step) -> str:
    """`cell 8`, `cells 4, 5, 6`."""
    return ("cell " if len(step.cells) == 1 else "cells ") + ", ".join(map(str, step.cells))


def training_module(sm: SageMakerPlan, cells: dict[int, CellParts]) -> str | None:
    """The module's source (one libcst Module), or None when train runs every statement of
    its steps."""
    sliced = [s for s in sm.train_steps if s.name in sm.train_parts]
    if not sliced:
        return None
    functions = [top_level(variant(s, sm, cells)) for s in sliced]
    return cst.Module([docstring(_DOC), _STAR, *functions]).code
