"""Diagnostics and the rule registry: stable codes, kinds and default severities.

Checking (the rule families) and reporting (``reporters``) are kept apart: a check yields
``Diagnostic`` objects through ``Context.report``; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..findings import CellRef, Finding


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    kind: str  # hidden-state | production | security | syntax | format
    severity: str
    summary: str
    fixable: bool = False


RULES: dict[str, Rule] = {}


def _rule(
    code: str, name: str, kind: str, severity: str, summary: str, fixable: bool = False
) -> None:
    RULES[code] = Rule(code, name, kind, severity, summary, fixable)


# notebook structure
_rule(
    "NB001",
    "syntax-error",
    "syntax",
    "error",
    "a cell cannot be parsed, even after IPython syntax is translated",
)
_rule(
    "NB002",
    "missing-cell-id",
    "format",
    "warning",
    "a cell has no id although its nbformat version requires one",
)
_rule("NB003", "duplicate-cell-id", "format", "warning", "two cells share an id")
_rule("NB004", "invalid-cell", "format", "warning", "a cell is malformed and was skipped")
# hidden state
_rule(
    "NB101",
    "out-of-order-execution",
    "hidden-state",
    "warning",
    "saved execution counts do not increase top-down",
    fixable=True,
)
_rule(
    "NB102",
    "unexecuted-cell",
    "hidden-state",
    "warning",
    "a code cell was never executed while others were",
)
_rule(
    "NB103",
    "use-before-definition",
    "hidden-state",
    "error",
    "a name is read before the cell that defines it (fails on Restart & Run All)",
)
_rule(
    "NB104",
    "undefined-name",
    "hidden-state",
    "error",
    "a name is defined in no cell (a deleted cell or the kernel only)",
)
_rule(
    "NB105",
    "execution-count-gap",
    "hidden-state",
    "info",
    "the saved execution counts skip numbers",
)
_rule(
    "NB106",
    "replay-divergence",
    "hidden-state",
    "warning",
    "a read resolves to another definition in saved order than top-down",
)
_rule(
    "NB107",
    "mutated-after-read",
    "hidden-state",
    "warning",
    "a later cell mutates an object an earlier cell read",
)
_rule(
    "NB108",
    "non-idempotent-cell",
    "hidden-state",
    "warning",
    "a cell reads and rebinds or mutates the same name",
)
_rule(
    "NB109",
    "cell-edited-after-run",
    "hidden-state",
    "warning",
    "a cell was edited after it ran: its output and the kernel's state come from other code",
)
_rule(
    "NB110",
    "stale-kernel-output",
    "hidden-state",
    "warning",
    "a cell's output comes from an earlier kernel session than the most recent run",
)
# production blockers
_rule(
    "NB201",
    "ipython-syntax",
    "production",
    "warning",
    "IPython magics or shell commands in code headed for production",
)
_rule(
    "NB202",
    "notebook-global",
    "production",
    "warning",
    "notebook-only globals: In, Out, _, _3, get_ipython(), display(), input()",
)
_rule(
    "NB203",
    "absolute-path",
    "production",
    "warning",
    "an absolute or home-directory path in a string literal",
)
_rule("NB204", "unseeded-randomness", "production", "warning", "randomness without a seed")
_rule("NB205", "star-import", "production", "warning", "a star import hides where names come from")
_rule(
    "NB206", "stored-error", "production", "warning", "the notebook was saved with an error output"
)
# security
_rule(
    "NB301",
    "hard-coded-secret",
    "security",
    "error",
    "a secret (key, token, password) written in the notebook",
)


Diagnostic = Finding  # a lint finding: a `Finding` whose code is in RULES


@dataclass
class Context:
    """What a check sees: the notebook, its dataflow, and a way to report."""

    notebook: Any  # notebook.Notebook
    flow: Any  # dataflow.Flow
    enabled: Callable[[str], bool]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def report(
        self,
        code: str,
        cell: Any,
        line: int,
        column: int,
        message: str,
        *,
        severity: str = "",
        related: tuple[int, ...] = (),
        end_line: int | None = None,
    ) -> None:
        if not self.enabled(code):
            return
        rule = RULES[code]
        line = max(1, line)
        self.diagnostics.append(
            Finding(
                code,
                message,
                self.notebook.path,
                CellRef.of(cell),
                line,
                max(1, column),
                severity=severity or rule.severity,
                kind=rule.kind,
                name=rule.name,
                file_line=cell.file_line_of(line) if cell is not None else None,
                related=related,
                fixable=rule.fixable,
                end_line=end_line,
            )
        )


CHECKS: list[tuple[tuple[str, ...], Callable[[Context], None]]] = []


def check(*codes: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a check that may emit the given codes (skipped when none is selected)."""

    def deco(fn: Callable[[Context], None]) -> Callable[[Context], None]:
        for code in codes:
            assert code in RULES, code
        CHECKS.append((codes, fn))
        return fn

    return deco
