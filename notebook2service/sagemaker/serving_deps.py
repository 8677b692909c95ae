"""Runtime requirements of the generated serving stack (templates/container/).

The generic serving and training code is the installed runtime `nb2svc_runtime` (distribution
nb2svc-runtime, pinned exactly; it brings uvicorn, httptools, uvloop and numpy); skops is needed
for scikit-learn models. The model's own libraries
(scikit-learn, xgboost, lightgbm, ...) are not listed here: they come from the notebook.
"""

from __future__ import annotations

# Always needed by the generated inference.py / serve.py / train.py (import names).
SERVING_REQUIREMENTS: tuple[str, ...] = ("nb2svc_runtime", "numpy", "skops")


def runtime_version() -> str | None:
    """The version of the installed nb2svc-runtime (recorded in the manifest as `runtime`)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nb2svc-runtime")
    except PackageNotFoundError:
        return None

# Needed only on the DataFrame path of inference.py: when a feature function is set, or when
# the model takes non-numeric columns or selects columns by name (ColumnTransformer).
FRAME_REQUIREMENTS: tuple[str, ...] = ("pandas",)

# Needed only when model_io falls back to joblib (a dependency of scikit-learn anyway).
JOBLIB_REQUIREMENTS: tuple[str, ...] = ("joblib",)


def serving_requirements(*, dataframes: bool = True) -> list[str]:
    """Distribution names to add (pinned by the caller) to the generated requirements.txt."""
    return [*SERVING_REQUIREMENTS, *(FRAME_REQUIREMENTS if dataframes else ())]
