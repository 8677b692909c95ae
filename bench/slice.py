"""What the training entrypoint runs besides the model's fit, on a corpus.

    python bench/slice.py [CORPUS] [--every N] [--json OUT]

Runs convert's planning passes only (analyse → parameters → lift → plan → SageMaker plan;
nothing is written, no notebook code runs) on every notebook below CORPUS (default
../shared/corpus) that has a model, and counts, over the statements `train` runs (the
whole body of each training step, or only the statements `training_steps.py` keeps of it):

- costly statements besides the model's fit: a fit, search or cross-validation of anything
  (`.fit`, `RandomizedSearchCV`, `cross_val_score`, `permutation_importance`, ...) in a
  statement that is not the model's own fit;
- the cells holding them, and the statements train runs in all;
- the notebooks whose training runs fewer statements than its steps hold.

It works on any checkout (a tree without statement-level slicing runs whole steps), so
`PYTHONPATH=/path/to/old/checkout python bench/slice.py` gives the "before" figures.
`--json OUT` keeps, per notebook, the costly statements train runs (cell, code).
"""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
from steps import corpus_main  # bench/steps.py, beside this script

from notebook2service import convert as C

REPO = Path(__file__).resolve().parents[1]
COSTLY = frozenset(
    "fit partial_fit fit_predict fit_transform fit_resample fit_generator train "
    "cross_val_score cross_validate cross_val_predict learning_curve validation_curve "
    "permutation_importance".split()
)


def _costly(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            last = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if last in COSTLY or last.endswith("SearchCV"):
                return True
    return False


def _is_model_fit(code: str, model: str) -> bool:
    """The model's own fit: `model.fit(…)`, `model = Est(…).fit(…)`, `history = model.fit`."""
    compact = code.replace(" ", "")
    return (
        f"{model}.fit" in compact
        or f"{model}.partial_fit" in compact
        or (compact.startswith(f"{model}=") and ".fit(" in compact)
    )


def measure(path: Path) -> dict | None:
    src = C.analyse(str(path), None, None)
    params = C.parameters(src)
    lifted = C.lift(src, params)
    planned = C.plan(src, params, lifted)
    sm = C.sagemaker_plan(src, lifted, planned).sm
    if not sm.model:
        return None
    # the feature path (the same slice's third use): its "not a Pipeline" warning
    alarm = any(n.name == "features-not-pipeline" for n in sm.notes)
    parts = getattr(sm, "train_parts", {})
    held = run = 0
    costly: list[tuple[int, str]] = []
    for step in sm.train_steps:
        part = parts.get(step.name)
        for i in step.cells:
            body = lifted.cells[i].body if i in lifted.cells else []
            held += len(body)
            keep = range(len(body)) if part is None else part.kept.get(i, [])
            for k in keep:
                run += 1
                code = cst.Module(body=[body[k]]).code
                if _costly(code) and not (i == sm.model_cell and _is_model_fit(code, sm.model)):
                    costly.append((i, code.strip()[:200]))
    return {"held": held, "run": run, "costly": costly, "alarm": alarm}


def summary(found: dict[str, dict | None]) -> dict[str, int]:
    ok = [r for r in found.values() if r and "error" not in r]
    return {
        "notebooks with a model": len(ok),
        "not planned": sum(1 for r in found.values() if r and "error" in r),
        "costly statements train runs besides the fit": sum(len(r["costly"]) for r in ok),
        "cells holding them": sum(len({c for c, _ in r["costly"]}) for r in ok),
        "notebooks where train runs any": sum(1 for r in ok if r["costly"]),
        "statements in the training steps": sum(r["held"] for r in ok),
        "statements train runs": sum(r["run"] for r in ok),
        "notebooks whose training runs fewer than its steps hold": sum(
            1 for r in ok if r["run"] < r["held"]
        ),
        "notebooks warned features-not-pipeline": sum(1 for r in ok if r.get("alarm")),
    }


def main() -> None:
    corpus_main(measure, summary, 60)


if __name__ == "__main__":
    main()
