"""Render the training entrypoint and serving container from `templates/container/`."""

from __future__ import annotations

import functools
import sys
from typing import Any

from ..lift.plan import Plan
from ..manifest import RUNTIME_DISTRIBUTION, runtime_version
from ..render import render, templates_dir
from .decide import SageMakerPlan
from .threshold import decision_threshold

#: files that make the serving stack (rendered only when there is a model to serve)
SERVING_TEMPLATES = ("serve.py.j2", "inference.py.j2")
EXECUTABLES = frozenset({"bin/train", "bin/serve", "bin/entrypoint"})


def runtime_entry() -> dict[str, str] | None:
    """The manifest's `runtime`: the serving runtime the package is built against."""
    found = runtime_version()
    return {"distribution": RUNTIME_DISTRIBUTION, "version": found} if found else None


#: names pip adds to an installed distribution's .dist-info; they are not part of its wheel
_INSTALL_RECORDS = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}


@functools.lru_cache(maxsize=1)  # the installed runtime does not change under a running process
def runtime_wheel() -> tuple[str, bytes] | None:
    """The installed nb2svc-runtime as a wheel (file name, bytes), for building without an index.

    The runtime is pure Python, so its wheel is its installed files plus its .dist-info, with
    the RECORD of exactly those files; the image installs it from `wheels/` (pip
    `--find-links`), so `requirements.txt` can pin it exactly where no index serves it.
    """
    import base64
    import hashlib
    import io
    import zipfile
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(RUNTIME_DISTRIBUTION)
    except PackageNotFoundError:
        return None
    files = [
        f
        for f in dist.files or ()
        if "__pycache__" not in f.parts
        and not f.name.endswith(".pyc")
        and not (f.parts[0].endswith(".dist-info") and f.name in _INSTALL_RECORDS)
        and not f.parts[0].startswith("..")
        and not f.name.endswith(".pth")  # an editable install's path hook is not the runtime
    ]
    if not any(f.parts[0] == "nb2svc_runtime" for f in files):
        return None  # an editable install: no files to pack (build it: pip wheel ./runtime)
    info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    buf, record = io.BytesIO(), []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(files, key=lambda f: f.as_posix()):
            data = f.locate().read_bytes()
            zf.writestr(f.as_posix(), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{f.as_posix()},sha256={digest.decode()},{len(data)}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    name = f"{dist.metadata['Name'].replace('-', '_')}-{dist.version}-py3-none-any.whl"
    return name, buf.getvalue()


def has_serving_templates() -> bool:
    folder = templates_dir() / "container"
    return all((folder / t).is_file() for t in SERVING_TEMPLATES)


def _step_entry(step: Any, sm: SageMakerPlan) -> dict[str, Any]:
    """What train.py says of a step: pipeline.py's function, or training_steps.py's part."""
    part = sm.train_parts.get(step.name)
    if part is None:
        return {"name": step.name, "params": step.params, "returns": step.returns, "part": False}
    return {"name": step.name, "params": part.params, "returns": part.returns, "part": True}


def container_files(
    sm: SageMakerPlan,
    plan: Plan,
    context: dict[str, Any],
    extra_files: list[str],
    notebook_rel: str,
) -> dict[str, str]:
    """The training and serving files; `notebook_rel` is the notebook's folder relative to the
    output folder ("" for an in-memory notebook): the generated tests find its data from there."""
    package = context["package"]
    steps = [_step_entry(s, sm) for s in sm.train_steps]
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
        notebook_rel=notebook_rel,
        serving=bool(sm.model) and has_serving_templates(),
        feature_function=sm.feature_function,
        target=sm.target,
        threshold=decision_threshold(context.get("pipeline_source", "")) if sm.model else None,
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
    if context.get("training_steps"):
        out[f"{package}/training_steps.py"] = context["training_steps"]
    if ctx["serving"]:
        out[f"{package}/serve.py"] = render("container/serve.py.j2", **ctx)
        out[f"{package}/inference.py"] = render("container/inference.py.j2", **ctx)
        out["bin/serve"] = render("container/bin_entry.j2", command="serve", module="serve", **ctx)
    return out
