"""notebook2service: take a Jupyter notebook to production.

``lint`` is imported lazily so that ``import notebook2service`` stays cheap for the CLI and
the pre-commit hook.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["NotebookError", "__version__", "lint", "load_notebook"]


def __getattr__(name: str) -> object:
    if name == "lint":
        from .linter.runner import lint

        return lint
    if name == "load_notebook":
        from .notebook import load

        return load
    if name == "NotebookError":
        from .notebook import NotebookError

        return NotebookError
    raise AttributeError(f"module 'notebook2service' has no attribute {name!r}")
