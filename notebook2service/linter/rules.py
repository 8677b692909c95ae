"""The rule registry (stable codes, kinds and default severities) and the check context.

Checking (the rule families) and reporting (``reporters``) are kept apart: a check yields
``Finding`` objects through ``Context.report``; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..findings import CellRef, Finding
from .messages import Message


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    kind: str  # hidden-state | production | security | syntax | format
    severity: str
    summary: str
    fixable: bool = False

    @property
    def doc(self) -> Any:  # ruledocs.RuleDoc: what it does, why, example, instead
        from .ruledocs import DOCS

        return DOCS[self.code]


RULES: dict[str, Rule] = {}


def _rule(
    code: str, name: str, kind: str, severity: str, summary: str, fixable: bool = False
) -> None:
    RULES[code] = Rule(code, name, kind, severity, summary, fixable)


_rule(
    "NB001",
    "syntax-error",
    "syntax",
    "error",
    "a cell that cannot be parsed even after IPython syntax is translated; the rest of the notebook is still checked",
)
_rule(
    "NB002",
    "missing-cell-id",
    "format",
    "warning",
    "a cell without an id in an nbformat ≥ 4.5 notebook",
)
_rule("NB003", "duplicate-cell-id", "format", "warning", "two cells with the same id")
_rule("NB004", "invalid-cell", "format", "warning", "a malformed cell (skipped)")
_rule(
    "NB101",
    "out-of-order-execution",
    "hidden-state",
    "warning",
    "saved execution counts not increasing top-down (fixable: `--fix` clears the counts)",
    fixable=True,
)
_rule(
    "NB102",
    "unexecuted-cell",
    "hidden-state",
    "warning",
    "a code cell never executed while cells below it were (`info` when only cells above ran)",
)
_rule(
    "NB103",
    "use-before-definition",
    "hidden-state",
    "error",
    "a name read before the cell that defines it (fails on Restart & Run All)",
)
_rule(
    "NB104",
    "undefined-name",
    "hidden-state",
    "error",
    "a name defined in no cell; names the missing `In[k]` when the counts show a gap",
)
_rule(
    "NB105",
    "execution-count-gap",
    "hidden-state",
    "info",
    "a gap in the execution counts (common and mild on its own)",
)
_rule(
    "NB106",
    "replay-divergence",
    "hidden-state",
    "warning",
    "replaying the saved execution order: a read resolves to another definition than top-down",
)
_rule(
    "NB107",
    "mutated-after-read",
    "hidden-state",
    "warning",
    "a later cell mutates an object an earlier cell read (`info` when the readers only display)",
)
_rule(
    "NB108",
    "non-idempotent-cell",
    "hidden-state",
    "warning",
    "a cell that reads and updates the same name, so running it twice changes it (`info` for `df = df.dropna()`-like chains)",
)
_rule(
    "NB109",
    "cell-edited-after-run",
    "hidden-state",
    "warning",
    "a cell edited after it ran: the source hash recorded when it ran (JupyterLab extension) differs from its source",
)
_rule(
    "NB110",
    "stale-kernel-output",
    "hidden-state",
    "warning",
    "a cell whose output comes from an earlier kernel session than the most recent run (the kernel was restarted and the cell not re-run)",
)
_rule(
    "NB201",
    "ipython-syntax",
    "production",
    "warning",
    "IPython magics and shell commands headed for production (`!pip install`, `%run`, `%%bash`, …); session-only magics such as `%matplotlib` are not reported",
)
_rule(
    "NB202",
    "notebook-global",
    "production",
    "warning",
    "notebook-only globals: `In`, `Out`, `_`, `_3`, `get_ipython()`, `display()`, `input()`",
)
_rule(
    "NB203",
    "absolute-path",
    "production",
    "warning",
    "absolute or home-directory paths in string literals, judged by their form",
)
_rule(
    "NB204",
    "unseeded-randomness",
    "production",
    "warning",
    "randomness without a seed (numpy, `random`, torch, TensorFlow, scikit-learn `random_state`)",
)
_rule(
    "NB205",
    "star-import",
    "production",
    "warning",
    "star imports nb2svc cannot follow: a library's (a local module's are read statically)",
)
_rule(
    "NB206", "stored-error", "production", "warning", "the notebook was saved with an error output"
)
_rule(
    "NB207",
    "billable-without-cleanup",
    "production",
    "warning",
    "a cell creates a SageMaker resource that bills until deleted (an endpoint) and no cell "
    "deletes it",
)
_rule(
    "NB301",
    "hard-coded-secret",
    "security",
    "error",
    "hard-coded secrets (AWS keys, tokens, passwords) in code, shell lines or outputs — shown redacted, never copied",
)


@dataclass
class Context:
    """What a check sees: the notebook, its dataflow, and a way to report."""

    notebook: Any  # notebook.Notebook
    flow: Any  # dataflow.Flow
    enabled: Callable[[str], bool]
    diagnostics: list[Finding] = field(default_factory=list)
    checking: str = ""  # the rule whose check is running: it reports only its own code

    def report(
        self,
        cell: Any,
        line: int,
        column: int,
        message: Message,
        *,
        severity: str = "",
        related: tuple[int, ...] = (),
        end_line: int | None = None,
    ) -> None:
        """Record `message` (its class gives the code, its fields the finding's `args`)."""
        code = message.code
        assert code == (self.checking or code), f"the {self.checking} check reported {code}"
        if not self.enabled(code):
            return
        rule = RULES[code]
        line = max(1, line)
        self.diagnostics.append(
            Finding(
                code,
                str(message),
                self.notebook.path,
                CellRef.of(cell),
                line,
                max(1, column),
                severity=severity or rule.severity,
                kind=rule.kind,
                name=rule.name,
                args=message.args,
                file_line=cell.file_line_of(line) if cell is not None else None,
                related=related,
                fixable=rule.fixable,
                end_line=end_line,
            )
        )


CHECKS: list[tuple[str, Callable[[Context], None]]] = []


def check(code: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register the check for one rule (skipped when the rule is not selected)."""

    def deco(fn: Callable[[Context], None]) -> Callable[[Context], None]:
        assert code in RULES and code not in dict(CHECKS), code
        CHECKS.append((code, fn))
        return fn

    return deco
