"""Every lint message: one class per sentence, a fixed template and named arguments.

The pattern of pyflakes' ``messages.py``: a check builds a message object from structured
values (``UseBeforeDefinition(name="x", via=None, later=4)``); the `Finding` carries the
object's fields as ``args`` and its text as ``message``. Readers take names, cells and counts
from ``args``; the prose is for people. A template names the message's fields and the small
derived phrases the class defines as properties (``{via_text}``); a cell is a `CellRef`
(``{cell.label}`` is ``cell 3 (In[7])``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, dataclass_transform

from ..findings import CellRef
from ..redact import MARKER


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
    """A message class: `class X(Message, code="NB103")` with a `template` and its fields
    (each subclass is made a frozen dataclass). A cell is a `CellRef` (`{cell.label}`)."""

    code: ClassVar[str] = ""
    template: ClassVar[str] = ""

    def __init_subclass__(cls, code: str = "", **kw: Any) -> None:
        super().__init_subclass__(**kw)
        dataclass(frozen=True)(cls)
        if code:
            cls.code = code
            assert code not in MESSAGES, f"{code} has two message classes"
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


class _NameRead(Message):
    """A message about a read of `name`, perhaps through a function (`via`)."""

    name: str
    via: str | None

    @property
    def via_text(self) -> str:
        return f" (read by `{self.via}()`)" if self.via else ""


# -- syntax and format (NB0xx) -------------------------------------------------------------
class SyntaxErrorInCell(Message, code="NB001"):
    template = (
        "cell {cell.index} cannot be parsed ({error}); it is skipped and the rest of the notebook "
        "is still checked"
    )
    cell: CellRef
    error: str


class MissingCellId(Message, code="NB002"):
    template = "cell {cell.index} has no id (nbformat 4.{minor} requires one)"
    cell: CellRef
    minor: int


class DuplicateCellId(Message, code="NB003"):
    template = "cell {cell.index} repeats the id {cell_id!r} of cell {first}"
    cell: CellRef
    cell_id: str
    first: int


class InvalidCell(Message, code="NB004"):
    template = "cell {cell.index} {problem_text}; it was skipped"
    cell: CellRef
    problem: str  # "not-an-object" or "no-cell-type" (`notebook.Notebook.problems`)

    @property
    def problem_text(self) -> str:
        if self.problem == "not-an-object":
            return "is not a JSON object"
        return "has no valid cell_type"


# -- hidden state (NB1xx) ------------------------------------------------------------------
class OutOfOrderExecution(Message, code="NB101"):
    template = (
        "{cell.label} ran before {above.label} above it: saved execution counts are not in "
        "top-down order"
    )
    cell: CellRef
    above: CellRef


class UnexecutedCell(Message, code="NB102"):
    template = "cell {cell.index} was never executed{where}; its effects are missing from the saved outputs"
    cell: CellRef
    cells_below_ran: bool

    @property
    def where(self) -> str:
        return " although cells below it were" if self.cells_below_ran else " (cells above it were)"


class UseBeforeDefinition(_NameRead, code="NB103"):
    template = (
        "`{name}`{via_text} is read before {place} defines it; Restart & Run All fails here "
        "with NameError (it only works because an earlier run left it in the kernel)"
    )
    later: int | None = None  # the cell below that defines it
    same_cell: int | None = None  # the line further down this cell that defines it

    @property
    def place(self) -> str:
        if self.later is not None:
            return f"cell {self.later} below"
        return f"line {self.same_cell} of this cell"


class UndefinedName(_NameRead, code="NB104"):
    template = "`{name}`{via_text} {problem}"
    deleted_in: int | None  # the cell above that deleted it; None: no cell ever defined it
    missing: list[int]  # execution counts missing before the reading cell's

    @property
    def problem(self) -> str:
        if self.deleted_in is not None:
            return f"was deleted in cell {self.deleted_in} above and is not defined again"
        if not self.missing:
            return "is defined in no cell: it lived in a deleted cell or only in the kernel"
        verb = "is" if len(self.missing) == 1 else "are"
        return (
            f"is defined in no cell: it probably lived in a deleted cell "
            f"({counts_text(self.missing)} {verb} missing from the saved counts)"
        )


class ExecutionCountGap(Message, code="NB105"):
    template = "execution counts skip {missing_text}: cells were re-run or deleted after they ran"
    missing: list[int]

    @property
    def missing_text(self) -> str:
        return counts_text(self.missing)


class ReplayDivergence(Message, code="NB106"):
    template = (
        "when {cell.label} ran, `{name}` was last {verb} by {saved.label}; on Restart & Run All "
        "it comes from {topdown.label}{never_ran}"
    )
    cell: CellRef
    name: str
    modified: bool  # the saved-order writer mutated the object rather than binding the name
    saved: CellRef  # the cell that wrote it last in the saved order
    topdown: CellRef  # the cell that writes it last top-down

    @property
    def verb(self) -> str:
        return "modified" if self.modified else "defined"

    @property
    def never_ran(self) -> str:
        return ", which never ran" if self.topdown.execution_count is None else ""


class MutatedAfterRead(Message, code="NB107"):
    template = (
        "cell {cell.index} mutates `{name}` ({how}) after {readers_text} read it; re-running "
        "{pronoun} now gives another result"
    )
    cell: CellRef
    name: str
    how: str
    readers: list[int]

    @property
    def readers_text(self) -> str:
        return cells_text(self.readers)

    @property
    def pronoun(self) -> str:
        return "them" if len(self.readers) > 1 else "it"


class NonIdempotentCell(Message, code="NB108"):
    template = (
        "running cell {cell.index} twice changes `{name}` again: it reads and updates it ({how})"
    )
    cell: CellRef
    name: str
    how: str


class EditedAfterRun(Message, code="NB109"):
    template = (
        "{cell.label} was edited after it ran: its saved output and what the kernel holds come "
        "from code that is no longer in the cell; re-run it"
    )
    cell: CellRef


class StaleKernelOutput(Message, code="NB110"):
    template = (
        "{cell.label} shows output from an earlier kernel session: the kernel was restarted "
        "before the latest run ({latest.label}) and this cell was not run again, so its values are not "
        "in the current kernel; run it again (or Restart & Run All)"
    )
    cell: CellRef
    latest: CellRef  # the cell that ran last


# -- production (NB2xx) --------------------------------------------------------------------
EFFECTS = {  # NB201: what a piece of IPython syntax does, by `IPythonSyntax.effect`
    "install": "installs packages at run time; declare them as requirements",
    "fetch": "fetches data at run time; make it an explicit data step",
    "shell": "runs a shell command; use subprocess or a real script step",
    "run": "runs another file whose names analysis cannot see",
    "load": "pastes another file's code at run time",
    "cd": "changes the working directory of the process",
    "env": "sets environment variables; a service gets them from its deployment",
    "store": "keeps values between kernel sessions, outside the code",
    "writefile": "writes a file at run time; ship the file instead",
    "script": "runs a shell script",
    "interpreter": "runs a script in another interpreter",
    "system": "runs a shell command",
    "sql": "runs SQL through an IPython extension",
    "pylab": "star-imports numpy and matplotlib",
    "ipython": "is IPython syntax that plain Python cannot run",
}


class IPythonSyntax(Message, code="NB201"):
    template = "`{syntax}` {why}"
    syntax: str  # as written (shortened)
    magic: str  # the magic's name, or "shell" for a `!` line
    effect: str  # a key of EFFECTS

    @property
    def why(self) -> str:
        return EFFECTS[self.effect]


NOTEBOOK_CALLS = {  # NB202: why a call exists only in a notebook
    "get_ipython": "exists only inside IPython",
    "display": "exists only inside IPython; log or return the value instead",
    "input": "waits for a person at a keyboard; a job or service has none",
}


class NotebookGlobal(Message, code="NB202"):
    template = "`{shown}` {why}"
    name: str
    called: bool  # `get_ipython()`, `display()`, `input()`; else a history name (`_`, `Out`)

    @property
    def shown(self) -> str:
        return f"{self.name}()" if self.called else self.name

    @property
    def why(self) -> str:
        if self.called:
            return NOTEBOOK_CALLS[self.name]
        return "is IPython's output/input history; it does not exist outside the notebook"


PATH_FORMS = {
    "absolute": "an absolute path",
    "windows-drive": "a Windows drive path",
    "windows-network": "a Windows network path",
    "home": "a home-directory path",
}


class AbsolutePath(Message, code="NB203"):
    template = (
        "{form_text} {path!r} only exists on one machine; pass it as a parameter or make it "
        "relative to the project"
    )
    form: str  # a key of PATH_FORMS
    path: str  # shortened

    @property
    def form_text(self) -> str:
        return PATH_FORMS[self.form]


RANDOMNESS = {  # NB204: why a call's randomness is unseeded, by `UnseededRandomness.problem`
    "no-seed": "`{call}()` without a seed",
    "numpy-global": "`{call}()` uses numpy's global generator, which was never seeded",
    "random-module": "`{call}()` uses the `random` module, which was never seeded",
    "torch": "`{call}()` without `torch.manual_seed`",
    "no-random-state": "`{call}(…)` has no `random_state`",
    "no-random-seed": "`{call}(…)` has no `random_seed`",
}


class UnseededRandomness(Message, code="NB204"):
    template = "{why}; results change from run to run"
    call: str
    problem: str  # a key of RANDOMNESS

    @property
    def why(self) -> str:
        return RANDOMNESS[self.problem].format(call=self.call)


class StarImport(Message, code="NB205"):
    template = (
        "`from {module} import *` hides where names come from; undefined-name checks are off "
        "for this notebook"
    )
    module: str


class StoredError(Message, code="NB206"):
    template = "{cell.label} was saved with an error output ({error})"
    cell: CellRef
    ename: str
    evalue: str

    @property
    def error(self) -> str:
        return f"{self.ename}: {self.evalue}" if self.evalue else self.ename


class BillableWithoutCleanup(Message, code="NB207"):
    template = (
        "`{call}(...)` creates a SageMaker {creates}, billed until it is deleted, and no cell "
        "deletes it (e.g. `predictor.delete_endpoint()` or "
        "`sm.delete_endpoint(EndpointName=...)`)"
    )
    call: str
    creates: str


# -- security (NB3xx) ----------------------------------------------------------------------
class HardCodedSecret(Message, code="NB301"):
    template = "{found}; {advice}"
    secret: str | None  # what kind ("a GitHub token"); None for a literal bound to `target`
    target: str | None  # the name or attribute a secret-looking literal is bound to
    output_of: CellRef | None  # the cell whose saved output shows it

    @property
    def found(self) -> str:
        if self.output_of is not None:
            return f"an output of {self.output_of.label} shows {self.secret}"
        if self.target is not None:
            return f"a hard-coded secret in `{self.target}` ({MARKER})"
        return f"{self.secret} ({MARKER})"

    @property
    def advice(self) -> str:
        if self.output_of is not None:
            return "clear the output and rotate the secret"
        return "read it from the environment or a secret store"
