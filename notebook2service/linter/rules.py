"""The rule registry (stable codes, kinds and default severities) and the check context.

Checking (the rule families) and reporting (``reporters``) are kept apart: a check yields
``Finding`` objects through ``Context.report``; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..findings import CellRef, Finding
from .messages import MESSAGES, Message


@dataclass(frozen=True)
class Rule:
    """A rule as the registry lists it, read from its message class (`messages`)."""

    code: str
    name: str
    kind: str  # hidden-state | production | security | syntax | format
    severity: str
    summary: str  # the docstring's first paragraph: the `nb2svc rules` and README table text
    fixable: bool = False

    @classmethod
    def of(cls, message: type[Message]) -> Rule:
        summary = (message.__doc__ or "").split("\n\n", 1)[0]
        return cls(
            message.code,
            message.rule,
            message.kind,
            message.severity,
            " ".join(summary.split()),
            message.fixable,
        )

    @property
    def doc(self) -> Any:  # ruledocs.RuleDoc: what it does, why, example, instead
        from .ruledocs import doc_of

        return doc_of(self.code)


T = TypeVar("T")


@dataclass
class Context:
    """What a check sees: the notebook, its dataflow, and a way to report."""

    notebook: Any  # notebook.Notebook
    flow: Any  # dataflow.Flow
    enabled: Callable[[str], bool]
    diagnostics: list[Finding] = field(default_factory=list)
    checking: str = ""  # the rule whose check is running: it reports only its own code
    #: analyses several checks share (see `once`), keyed by the function computing them
    shared: dict[Callable[[Any], Any], Any] = field(default_factory=dict, repr=False)

    def once(self, analysis: Callable[[Any], T]) -> T:
        """`analysis(flow)`, computed once per notebook for every check that needs it."""
        if analysis not in self.shared:
            self.shared[analysis] = analysis(self.flow)
        return self.shared[analysis]  # type: ignore[no-any-return]

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
        line = max(1, line)
        self.diagnostics.append(
            Finding(
                code,
                str(message),
                self.notebook.path,
                CellRef.of(cell),
                line,
                max(1, column),
                severity=severity or message.severity,
                kind=message.kind,
                name=message.rule,
                args=message.args,
                file_line=cell.file_line_of(line) if cell is not None else None,
                related=related,
                fixable=message.fixable,
                end_line=end_line,
            )
        )


CHECKS: list[tuple[str, Callable[[Context], None]]] = []


def check(code: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register the check for one rule (skipped when the rule is not selected)."""

    def deco(fn: Callable[[Context], None]) -> Callable[[Context], None]:
        assert code in MESSAGES and code not in dict(CHECKS), code  # its class comes first
        CHECKS.append((code, fn))
        return fn

    return deco
