"""The linter behind `nb2svc lint`: hidden state and production blockers, statically."""

from .rules import RULES, Diagnostic, Rule
from .runner import FileResult, lint, lint_file, lint_notebook, lint_paths

__all__ = [
    "RULES",
    "Diagnostic",
    "FileResult",
    "Rule",
    "lint",
    "lint_file",
    "lint_notebook",
    "lint_paths",
]
