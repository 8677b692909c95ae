"""The linter behind `nb2svc lint`: hidden state and production blockers, statically."""

from ..findings import Finding
from .registry import RULES
from .rules import Rule
from .runner import FileResult, lint, lint_file, lint_notebook, lint_paths

__all__ = [
    "RULES",
    "FileResult",
    "Finding",
    "Rule",
    "lint",
    "lint_file",
    "lint_notebook",
    "lint_paths",
]
