"""`Finding`: the one shape of everything nb2svc reports about a notebook.

Lint diagnostics, conversion notes, SageMaker decisions and the generated-code check all
build a `Finding`; the manifest stores `Finding.to_dict()` and readers (verify, the CLI,
the JupyterLab handler) read the structured fields — `cell`, `args`, `file`/`file_line` —
never the message prose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .redact import redact, redact_data


@dataclass(frozen=True)
class CellRef:
    index: int
    id: str | None = None
    execution_count: int | None = None

    @classmethod
    def of(cls, cell: Any) -> CellRef | None:
        """A reference to a notebook cell (anything with index/id/execution_count), or None."""
        if cell is None:
            return None
        return cls(cell.index, getattr(cell, "id", None), getattr(cell, "execution_count", None))

    @property
    def label(self) -> str:
        """`cell 3 (In[7])` — how messages name a cell."""
        if self.execution_count is None:
            return f"cell {self.index}"
        return f"cell {self.index} (In[{self.execution_count}])"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "execution_count": self.execution_count}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> CellRef | None:
        if not isinstance(d, Mapping) or not isinstance(d.get("index"), int):
            return None
        return cls(d["index"], d.get("id"), d.get("execution_count"))


def build_message(text: str) -> str:
    """The one place a finding's message is made final: every secret in it is redacted, and
    control characters quoted from the notebook (a terminal escape, `\\x1e`, which
    `splitlines` and log readers take for a line break) are written as escapes."""
    text = redact(str(text))
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    path: str = ""
    cell: CellRef | None = None
    line: int | None = None  # 1-based within the cell
    column: int | None = None  # 1-based within the cell
    severity: str = "warning"
    kind: str = ""
    name: str = ""
    args: Mapping[str, Any] = field(default_factory=dict)  # the message's named arguments
    file: str | None = None  # generated file the line is in; None: the notebook file
    file_line: int | None = None  # line in `file` (or in the .ipynb file)
    related: tuple[int, ...] = ()  # other cells involved
    fixable: bool = False
    end_line: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", build_message(self.message))
        object.__setattr__(self, "related", tuple(self.related))
        # the keys are the message class's field names (code, never data): only values redacted
        args = {k: redact_data(v) for k, v in self.args.items()}
        object.__setattr__(self, "args", args)

    def __hash__(self) -> int:
        return hash((self.code, self.message, self.path, self.cell, self.line, self.column))

    @property
    def cell_index(self) -> int | None:
        return self.cell.index if self.cell is not None else None

    def sort_key(self) -> tuple:
        return (self.path, self.cell_index or 0, self.line or 0, self.column or 0, self.code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "args": dict(self.args),
            "path": self.path,
            "cell": self.cell.to_dict() if self.cell else None,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "file": self.file,
            "file_line": self.file_line,
            "related_cells": list(self.related),
            "fixable": self.fixable,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        return cls(
            code=str(d["code"]),
            message=str(d.get("message", "")),
            path=d.get("path") or "",
            cell=CellRef.from_dict(d.get("cell")),
            line=d.get("line"),
            column=d.get("column"),
            severity=d.get("severity") or "warning",
            kind=d.get("kind") or "",
            name=d.get("name") or "",
            # read from a file, its keys are data too: redacted here (__post_init__ does values)
            args={redact(k) if isinstance(k, str) else k: v for k, v in _mapping(d.get("args"))},
            file=d.get("file"),
            file_line=d.get("file_line"),
            related=tuple(i for i in _items(d.get("related_cells")) if isinstance(i, int)),
            fixable=bool(d.get("fixable", False)),
            end_line=d.get("end_line"),
        )


def _mapping(value: Any) -> Any:
    """The items of a JSON object (none for anything else)."""
    return value.items() if isinstance(value, Mapping) else ()


def _items(value: Any) -> Any:
    """The items of a JSON array (none for anything else)."""
    return value if isinstance(value, list) else ()


def note(
    code: str, name: str, severity: str, message: str, cell: Any = None, /, **args: Any
) -> Finding:
    """A conversion or SageMaker note (`code` is "convert" or "sagemaker")."""
    kind = "conversion" if code == "convert" else code
    if isinstance(cell, int):
        ref: CellRef | None = CellRef(cell)
    else:
        ref = cell if isinstance(cell, CellRef) or cell is None else CellRef.of(cell)
    return Finding(code, message, cell=ref, severity=severity, kind=kind, name=name, args=args)
