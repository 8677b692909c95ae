"""The base of every lint rule. A rule is one class, the way ruff writes a rule, defined in
its family's module next to its check (`checker`: NB0xx, `hidden_state` and `kernel_records`:
NB1xx, `production`: NB2xx/NB3xx): the class statement gives its code, name, kind and default
severity; its docstring documents it (a one-line summary, then "What it does", "Why it
matters", "Example" and "Instead"); its `template` and fields are the message (the pattern of
pyflakes' ``messages.py``).

A check builds a message object from structured values (``UseBeforeDefinition(name="x",
via=None, later=4)``); the `Finding` carries the object's fields as ``args`` and its text as
``message``. Readers take names, cells and counts from ``args``; the prose is for people. A
template names the message's fields and the small derived phrases the class defines as
properties (``{via_text}``); a cell is a `CellRef` (``{cell.label}`` is ``cell 3 (In[7])``).
`registry.RULES` and `ruledocs` (the documentation) are read from these classes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, dataclass_transform

from ..findings import CellRef


def counts_text(counts: list[int], limit: int = 4) -> str:
    """`In[2], In[3] and 5 more`."""
    shown = ", ".join(f"In[{k}]" for k in counts[:limit])
    return shown + (f" and {len(counts) - limit} more" if len(counts) > limit else "")


def cells_text(indexes: list[int]) -> str:
    """`cell 2` or `cells 2, 3, 4, 5, … (9 in all)`."""
    names = [str(i) for i in indexes]
    if len(names) > 4:
        names = names[:4] + [f"… ({len(indexes)} in all)"]
    return ("cells " if len(indexes) > 1 else "cell ") + ", ".join(names)


MESSAGES: dict[str, type[Message]] = {}  # code → its message class


class _Fields:
    """`str.format_map` view of a message: its fields and properties by name."""

    def __init__(self, message: Message):
        self.message = message

    def __getitem__(self, key: str) -> Any:
        return getattr(self.message, key)


@dataclass_transform(frozen_default=True)
class Message:
    """A rule's message class: `class X(Message, code="NB103", rule="use-before-definition",
    kind="hidden-state", severity="error")` with a docstring, a `template` and its fields (each
    subclass is made a frozen dataclass). A cell is a `CellRef` (`{cell.label}`)."""

    code: ClassVar[str] = ""
    rule: ClassVar[str] = ""  # the rule's name, `use-before-definition`
    kind: ClassVar[str] = ""  # hidden-state | production | security | syntax | format
    severity: ClassVar[str] = ""  # the default severity
    fixable: ClassVar[bool] = False  # `nb2svc lint --fix` fixes it
    template: ClassVar[str] = ""

    def __init_subclass__(
        cls,
        code: str = "",
        rule: str = "",
        kind: str = "",
        severity: str = "",
        fixable: bool = False,
        **kw: Any,
    ) -> None:
        super().__init_subclass__(**kw)
        dataclass(frozen=True)(cls)
        if code:
            assert code not in MESSAGES, f"{code} has two message classes"
            documented = "## What it does" in (cls.__dict__.get("__doc__") or "")
            assert rule and kind and severity and documented, f"{code}: name, kind, severity, doc"
            cls.code, cls.rule, cls.kind, cls.severity = code, rule, kind, severity
            cls.fixable = fixable
            MESSAGES[code] = cls

    @property
    def args(self) -> dict[str, Any]:
        """The named arguments, as the `Finding` stores them (cells as `CellRef.to_dict()`)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: v.to_dict() if isinstance(v, CellRef) else v for k, v in values.items()}

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Message:
        """The message again from a finding's `args` (cells from their dicts)."""
        cells = {f.name for f in dataclasses.fields(cls) if "CellRef" in str(f.type)}
        return cls(**{k: CellRef.from_dict(v) if k in cells else v for k, v in args.items()})

    def __str__(self) -> str:
        return self.template.format_map(_Fields(self))
