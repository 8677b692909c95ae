"""Every lint message: one class per sentence, a fixed template and named arguments.

The pattern of pyflakes' ``messages.py``: a check builds a message object from structured
values (``UseBeforeDefinition(name="x", via=None, later=4)``); the `Finding` carries the
object's fields as ``args`` and its text as ``message``. Readers take names, cells and counts
from ``args``; the prose is for people. A template names the message's fields and the small
derived phrases the class defines as properties (``{via_text}``, ``{label}``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from ..redact import MARKER


def label(index: int, count: int | None) -> str:
    """`cell 3 (In[7])` — how messages name a cell."""
    return f"cell {index}" if count is None else f"cell {index} (In[{count}])"


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


MESSAGES: dict[str, list[type[Message]]] = {}  # code → its message classes


class _Fields:
    """`str.format_map` view of a message: its fields and properties by name."""

    def __init__(self, message: Message):
        self.message = message

    def __getitem__(self, key: str) -> Any:
        return getattr(self.message, key)


@dataclass(frozen=True)
class Message:
    code: ClassVar[str] = ""
    template: ClassVar[str] = ""

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if cls.code:
            MESSAGES.setdefault(cls.code, []).append(cls)

    @property
    def args(self) -> dict[str, Any]:
        """The named arguments, as the `Finding` stores them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __str__(self) -> str:
        return self.template.format_map(_Fields(self))


@dataclass(frozen=True)
class _OwnCell(Message):
    """A message that names its own cell (`cell 3 (In[7])`)."""

    cell: int
    count: int | None

    @property
    def label(self) -> str:
        return label(self.cell, self.count)


@dataclass(frozen=True)
class _NameRead(Message):
    """A message about a read of `name`, perhaps through a function (`via`)."""

    name: str
    via: str | None

    @property
    def via_text(self) -> str:
        return f" (read by `{self.via}()`)" if self.via else ""


# -- syntax and format (NB0xx) -------------------------------------------------------------
@dataclass(frozen=True)
class SyntaxErrorInCell(Message):
    code = "NB001"
    template = (
        "cell {cell} cannot be parsed ({error}); it is skipped and the rest of the notebook "
        "is still checked"
    )
    cell: int
    error: str


@dataclass(frozen=True)
class MissingCellId(Message):
    code = "NB002"
    template = "cell {cell} has no id (nbformat 4.{minor} requires one)"
    cell: int
    minor: int


@dataclass(frozen=True)
class DuplicateCellId(Message):
    code = "NB003"
    template = "cell {cell} repeats the id {cell_id!r} of cell {first}"
    cell: int
    cell_id: str
    first: int


@dataclass(frozen=True)
class CellNotAnObject(Message):
    code = "NB004"
    template = "cell {cell} is not a JSON object; it was skipped"
    cell: int


@dataclass(frozen=True)
class CellWithoutType(Message):
    code = "NB004"
    template = "cell {cell} has no valid cell_type; it was skipped"
    cell: int


# -- hidden state (NB1xx) ------------------------------------------------------------------
@dataclass(frozen=True)
class OutOfOrderExecution(_OwnCell):
    code = "NB101"
    template = (
        "{label} ran before {above_label} above it: saved execution counts are not in "
        "top-down order"
    )
    above: int
    above_count: int | None

    @property
    def above_label(self) -> str:
        return label(self.above, self.above_count)


@dataclass(frozen=True)
class UnexecutedCell(Message):
    code = "NB102"
    template = "cell {cell} was never executed{where}; its effects are missing from the saved outputs"
    cell: int
    cells_below_ran: bool

    @property
    def where(self) -> str:
        return " although cells below it were" if self.cells_below_ran else " (cells above it were)"


@dataclass(frozen=True)
class UseBeforeDefinition(_NameRead):
    code = "NB103"
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


@dataclass(frozen=True)
class DeletedName(_NameRead):
    code = "NB104"
    template = "`{name}`{via_text} was deleted in cell {deleted_in} above and is not defined again"
    deleted_in: int


@dataclass(frozen=True)
class UndefinedName(_NameRead):
    code = "NB104"
    template = "`{name}`{via_text} is defined in no cell: {why}"
    missing: list[int]  # execution counts missing before the reading cell's

    @property
    def why(self) -> str:
        if not self.missing:
            return "it lived in a deleted cell or only in the kernel"
        verb = "is" if len(self.missing) == 1 else "are"
        return (
            f"it probably lived in a deleted cell ({counts_text(self.missing)} {verb} missing "
            "from the saved counts)"
        )


@dataclass(frozen=True)
class ExecutionCountGap(Message):
    code = "NB105"
    template = "execution counts skip {missing_text}: cells were re-run or deleted after they ran"
    missing: list[int]

    @property
    def missing_text(self) -> str:
        return counts_text(self.missing)


@dataclass(frozen=True)
class ReplayDivergence(_OwnCell):
    code = "NB106"
    template = (
        "when {label} ran, `{name}` was last {verb} by {saved_label}; on Restart & Run All "
        "it comes from {topdown_label}{never_ran}"
    )
    name: str
    modified: bool  # the saved-order writer mutated the object rather than binding the name
    saved: int
    saved_count: int | None
    topdown: int
    topdown_count: int | None

    @property
    def verb(self) -> str:
        return "modified" if self.modified else "defined"

    @property
    def saved_label(self) -> str:
        return label(self.saved, self.saved_count)

    @property
    def topdown_label(self) -> str:
        return label(self.topdown, self.topdown_count)

    @property
    def never_ran(self) -> str:
        return ", which never ran" if self.topdown_count is None else ""


@dataclass(frozen=True)
class MutatedAfterRead(Message):
    code = "NB107"
    template = (
        "cell {cell} mutates `{name}` ({how}) after {readers_text} read it; re-running "
        "{pronoun} now gives another result"
    )
    cell: int
    name: str
    how: str
    readers: list[int]

    @property
    def readers_text(self) -> str:
        return cells_text(self.readers)

    @property
    def pronoun(self) -> str:
        return "them" if len(self.readers) > 1 else "it"


@dataclass(frozen=True)
class NonIdempotentCell(Message):
    code = "NB108"
    template = "running cell {cell} twice changes `{name}` again: it reads and updates it ({how})"
    cell: int
    name: str
    how: str


@dataclass(frozen=True)
class EditedAfterRun(_OwnCell):
    code = "NB109"
    template = (
        "{label} was edited after it ran: its saved output and what the kernel holds come "
        "from code that is no longer in the cell; re-run it"
    )


@dataclass(frozen=True)
class StaleKernelOutput(_OwnCell):
    code = "NB110"
    template = (
        "{label} shows output from an earlier kernel session: the kernel was restarted before "
        "the latest run ({latest_label}) and this cell was not run again, so its values are not "
        "in the current kernel; run it again (or Restart & Run All)"
    )
    latest: int
    latest_count: int | None

    @property
    def latest_label(self) -> str:
        return label(self.latest, self.latest_count)


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


@dataclass(frozen=True)
class IPythonSyntax(Message):
    code = "NB201"
    template = "`{syntax}` {why}"
    syntax: str  # as written (shortened)
    magic: str  # the magic's name, or "shell" for a `!` line
    effect: str  # a key of EFFECTS

    @property
    def why(self) -> str:
        return EFFECTS[self.effect]


@dataclass(frozen=True)
class IPythonOnlyCall(Message):
    code = "NB202"
    template = "`{name}()` {why}"
    name: str

    @property
    def why(self) -> str:
        return {
            "get_ipython": "exists only inside IPython",
            "display": "exists only inside IPython; log or return the value instead",
            "input": "waits for a person at a keyboard; a job or service has none",
        }[self.name]


@dataclass(frozen=True)
class IPythonHistory(Message):
    code = "NB202"
    template = "`{name}` is IPython's output/input history; it does not exist outside the notebook"
    name: str


PATH_FORMS = {
    "absolute": "an absolute path",
    "windows-drive": "a Windows drive path",
    "windows-network": "a Windows network path",
    "home": "a home-directory path",
}


@dataclass(frozen=True)
class AbsolutePath(Message):
    code = "NB203"
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


@dataclass(frozen=True)
class UnseededRandomness(Message):
    code = "NB204"
    template = "{why}; results change from run to run"
    call: str
    problem: str  # a key of RANDOMNESS

    @property
    def why(self) -> str:
        return RANDOMNESS[self.problem].format(call=self.call)


@dataclass(frozen=True)
class StarImport(Message):
    code = "NB205"
    template = (
        "`from {module} import *` hides where names come from; undefined-name checks are off "
        "for this notebook"
    )
    module: str


@dataclass(frozen=True)
class StoredError(_OwnCell):
    code = "NB206"
    template = "{label} was saved with an error output ({error})"
    ename: str
    evalue: str

    @property
    def error(self) -> str:
        return f"{self.ename}: {self.evalue}" if self.evalue else self.ename


@dataclass(frozen=True)
class BillableWithoutCleanup(Message):
    code = "NB207"
    template = (
        "`{call}(...)` creates a SageMaker {creates}, billed until it is deleted, and no cell "
        "deletes it (e.g. `predictor.delete_endpoint()` or "
        "`sm.delete_endpoint(EndpointName=...)`)"
    )
    call: str
    creates: str


# -- security (NB3xx) ----------------------------------------------------------------------
_ROTATE = "read it from the environment or a secret store"


@dataclass(frozen=True)
class SecretInCode(Message):
    code = "NB301"
    template = "{secret} (" + MARKER + "); " + _ROTATE
    secret: str  # what kind of secret ("an AWS access key id")


@dataclass(frozen=True)
class SecretBoundToName(Message):
    code = "NB301"
    template = "a hard-coded secret in `{target}` (" + MARKER + "); " + _ROTATE
    target: str  # the name or attribute the literal is bound to


@dataclass(frozen=True)
class SecretInOutput(_OwnCell):
    code = "NB301"
    template = "an output of {label} shows {secret}; clear the output and rotate the secret"
    secret: str
