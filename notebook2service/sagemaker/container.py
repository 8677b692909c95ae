"""Render the training entrypoint and serving container from `templates/container/`."""

from __future__ import annotations

import sys
from typing import Any

from ..lift.plan import Plan
from ..render import render, templates_dir
from .decide import SageMakerPlan

#: files that make the serving stack (rendered only when there is a model to serve)
SERVING_TEMPLATES = ("serve.py.j2", "inference.py.j2", "model_io.py.j2")
EXECUTABLES = frozenset({"bin/train", "bin/serve", "bin/entrypoint"})


def has_serving_templates() -> bool:
    folder = templates_dir() / "container"
    return all((folder / t).is_file() for t in SERVING_TEMPLATES)


def container_files(
    sm: SageMakerPlan,
    plan: Plan,
    context: dict[str, Any],
    extra_files: list[str],
    notebook_dir: str,
) -> dict[str, str]:
    package = context["package"]
    steps = [{"name": s.name, "params": s.params, "returns": s.returns} for s in sm.train_steps]
    ctx = dict(context)
    ctx.update(
        model=sm.model,
        fit_x=sm.fit_x,
        steps=steps,
        parameters=plan.parameters,
        channels={c.name: c.default for c in sm.channels},
        hyperparameters={p.name: p.value for p in plan.parameters},
        python_version=context.get("python_version")
        or f"{sys.version_info.major}.{sys.version_info.minor}",
        distribution=package.replace("_", "-"),
        extra_files=extra_files,
        notebook_dir=notebook_dir,
        serving=bool(sm.model) and has_serving_templates(),
        feature_function=sm.feature_function,
        target=sm.target,
    )
    out = {
        f"{package}/train.py": render("container/train.py.j2", **ctx),
        "bin/train": render("container/bin_entry.j2", command="train", module="train", **ctx),
        "bin/entrypoint": render("container/entrypoint.j2", **ctx),
        "Dockerfile": render("container/Dockerfile.j2", **ctx),
        ".dockerignore": render("container/dockerignore.j2", **ctx),
        "deploy.py": render("container/deploy.py.j2", **ctx),
        "tests/test_package.py": render("container/test_package.py.j2", **ctx),
    }
    if sm.model and (templates_dir() / "container" / "model_io.py.j2").is_file():
        out[f"{package}/model_io.py"] = render("container/model_io.py.j2", **ctx)
    if ctx["serving"]:
        out[f"{package}/serve.py"] = render("container/serve.py.j2", **ctx)
        out[f"{package}/inference.py"] = render("container/inference.py.j2", **ctx)
        out["bin/serve"] = render("container/bin_entry.j2", command="serve", module="serve", **ctx)
    return out
