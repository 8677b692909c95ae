"""Runtime requirements of the generated serving stack (templates/container/).

serve.py uses only the standard library (its own pre-fork HTTP server); inference.py needs
numpy; model_io.py needs skops for scikit-learn models. The model's own libraries
(scikit-learn, xgboost, lightgbm, ...) are not listed here: they come from the notebook.
"""

from __future__ import annotations

# Always needed by the generated model_io.py / inference.py / serve.py.
SERVING_REQUIREMENTS: tuple[str, ...] = ("numpy", "skops")

# Needed only on the DataFrame path of inference.py: when a feature function is set, or when
# the model takes non-numeric columns or selects columns by name (ColumnTransformer).
FRAME_REQUIREMENTS: tuple[str, ...] = ("pandas",)

# Needed only when model_io falls back to joblib (a dependency of scikit-learn anyway).
JOBLIB_REQUIREMENTS: tuple[str, ...] = ("joblib",)


def serving_requirements(*, dataframes: bool = True) -> list[str]:
    """Distribution names to add (pinned by the caller) to the generated requirements.txt."""
    return [*SERVING_REQUIREMENTS, *(FRAME_REQUIREMENTS if dataframes else ())]
