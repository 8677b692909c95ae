"""Every lint rule, one class each, the way ruff writes a rule: the class statement gives its
code, name, kind and default severity; its docstring documents it (a one-line summary, then
"What it does", "Why it matters", "Example" and "Instead"); its `template` and fields are the
message (the pattern of pyflakes' ``messages.py``).

A check builds a message object from structured values (``UseBeforeDefinition(name="x",
via=None, later=4)``); the `Finding` carries the object's fields as ``args`` and its text as
``message``. Readers take names, cells and counts from ``args``; the prose is for people. A
template names the message's fields and the small derived phrases the class defines as
properties (``{via_text}``); a cell is a `CellRef` (``{cell.label}`` is ``cell 3 (In[7])``).
`rules.RULES` (the registry) and `ruledocs` (the documentation) are read from these classes.
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


class _NameRead(Message):
    """A message about a read of `name`, perhaps through a function (`via`)."""

    name: str
    via: str | None

    @property
    def via_text(self) -> str:
        return f" (read by `{self.via}()`)" if self.via else ""


# -- syntax and format (NB0xx) -------------------------------------------------------------
class SyntaxErrorInCell(
    Message, code="NB001", rule="syntax-error", kind="syntax", severity="error"
):
    """a cell that cannot be parsed even after IPython syntax is translated; the rest of the notebook
    is still checked

    ## What it does
    Reports a cell that cannot be parsed, even after IPython syntax (magics, `!` shell lines,
    `?` help) is translated to Python. The rest of the notebook is still checked.

    ## Why it matters
    A cell that does not parse fails on Restart & Run All and cannot be converted; the names it
    would define are unknown to every other check.

    ## Example
    ```python
    # %%
    for i in range(3)
        print(i)
    ```

    ## Instead
    Fix the syntax error (here: the missing `:`).
    """

    template = (
        "cell {cell.index} cannot be parsed ({error}); it is skipped and the rest of the notebook "
        "is still checked"
    )
    cell: CellRef
    error: str


class MissingCellId(
    Message, code="NB002", rule="missing-cell-id", kind="format", severity="warning"
):
    """a cell without an id in an nbformat ≥ 4.5 notebook

    ## What it does
    Reports a cell without an `id` in a notebook whose nbformat version (4.5 or later) requires
    one.

    ## Why it matters
    Cell ids let tools (diffs, reviews, nb2svc's manifest) refer to a cell across edits; without
    them references fall back to positions, which move.

    ## Example
    ```python
    # a cell saved as {"cell_type": "code", "source": "x = 1"} with no "id"
    ```

    ## Instead
    Open and save the notebook in a current JupyterLab or run `nbformat`'s validator, which adds
    ids.
    """

    template = "cell {cell.index} has no id (nbformat 4.{minor} requires one)"
    cell: CellRef
    minor: int


class DuplicateCellId(
    Message, code="NB003", rule="duplicate-cell-id", kind="format", severity="warning"
):
    """two cells with the same id

    ## What it does
    Reports two cells that share an id.

    ## Why it matters
    Ids must be unique: tools that follow a cell by id pick the wrong one.

    ## Example
    ```python
    # two cells both saved with "id": "a1"
    ```

    ## Instead
    Give one of them a new id (copying cells between notebooks by editing JSON does this).
    """

    template = "cell {cell.index} repeats the id {cell_id!r} of cell {first}"
    cell: CellRef
    cell_id: str
    first: int


class InvalidCell(Message, code="NB004", rule="invalid-cell", kind="format", severity="warning"):
    """a malformed cell (skipped)

    ## What it does
    Reports a malformed cell (wrong type, missing source); it is skipped.

    ## Why it matters
    A malformed cell is not run by Jupyter the way the file suggests, and is not checked.

    ## Example
    ```python
    # {"cell_type": "code", "source": 42}
    ```

    ## Instead
    Repair the cell in the JSON, or delete and re-create it in the editor.
    """

    template = "cell {cell.index} {problem_text}; it was skipped"
    cell: CellRef
    problem: str  # "not-an-object" or "no-cell-type" (`notebook.Notebook.problems`)

    @property
    def problem_text(self) -> str:
        if self.problem == "not-an-object":
            return "is not a JSON object"
        return "has no valid cell_type"


# -- hidden state (NB1xx) ------------------------------------------------------------------
class OutOfOrderExecution(
    Message,
    code="NB101",
    rule="out-of-order-execution",
    kind="hidden-state",
    severity="warning",
    fixable=True,
):
    """saved execution counts not increasing top-down (fixable: `--fix` clears the counts)

    ## What it does
    Reports saved execution counts that do not increase top-down.

    ## Why it matters
    The saved outputs were produced in another order than the notebook reads; a reader and
    Restart & Run All see different results.

    ## Example
    ```python
    # %% In[2]
    x = 1
    # %% In[1]
    print(x)
    ```

    ## Instead
    Restart the kernel and run all cells, then save (`nb2svc lint --fix` clears the counts).
    """

    template = (
        "{cell.label} ran before {above.label} above it: saved execution counts are not in "
        "top-down order"
    )
    cell: CellRef
    above: CellRef


class UnexecutedCell(
    Message, code="NB102", rule="unexecuted-cell", kind="hidden-state", severity="warning"
):
    """a code cell never executed while cells below it were (`info` when only cells above ran)

    ## What it does
    Reports a code cell that was never executed while cells below it were.

    ## Why it matters
    Its effects are missing from the saved outputs, or the cell is dead code a reader thinks
    matters.

    ## Example
    ```python
    # %% In[1]
    import pandas as pd
    # %% (never run)
    df = pd.read_csv('a.csv')
    # %% In[2]
    print(1)
    ```

    ## Instead
    Run it (Restart & Run All) or delete it.
    """

    template = "cell {cell.index} was never executed{where}; its effects are missing from the saved outputs"
    cell: CellRef
    cells_below_ran: bool

    @property
    def where(self) -> str:
        return " although cells below it were" if self.cells_below_ran else " (cells above it were)"


class UseBeforeDefinition(
    _NameRead, code="NB103", rule="use-before-definition", kind="hidden-state", severity="error"
):
    """a name read before the cell that defines it (fails on Restart & Run All)

    ## What it does
    Reports a name read before the cell (or the line of the same cell) that defines it.

    ## Why it matters
    It only works because an earlier run left the name in the kernel; Restart & Run All fails
    there with NameError, and so does the converted package.

    ## Example
    ```python
    # %%
    print(total)
    # %%
    total = 42
    ```

    ## Instead
    Move the defining cell above the reading one (or the definition above the read).
    """

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


class UndefinedName(
    _NameRead, code="NB104", rule="undefined-name", kind="hidden-state", severity="error"
):
    """a name defined in no cell; names the missing `In[k]` when the counts show a gap

    ## What it does
    Reports a name that no cell defines; when the saved counts show a gap it names the missing
    `In[k]`.

    ## Why it matters
    The definition lived in a deleted cell or only in the kernel: nobody can re-run the notebook
    from the file.

    ## Example
    ```python
    # %% In[1]
    import numpy as np
    # %% In[4]
    y = np.array(xs)
    ```

    ## Instead
    Restore the definition (here: of `xs`) in a cell above its first use.
    """

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


class ExecutionCountGap(
    Message, code="NB105", rule="execution-count-gap", kind="hidden-state", severity="info"
):
    """a gap in the execution counts (common and mild on its own)

    ## What it does
    Reports gaps in the saved execution counts.

    ## Why it matters
    Mild on its own (cells re-run or deleted), but it explains NB104 findings and hints that the
    outputs come from a session the file does not describe.

    ## Example
    ```python
    # %% In[1]
    x = 1
    # %% In[5]
    print(x)
    ```

    ## Instead
    Restart and run all before saving when the outputs matter.
    """

    template = "execution counts skip {missing_text}: cells were re-run or deleted after they ran"
    missing: list[int]

    @property
    def missing_text(self) -> str:
        return counts_text(self.missing)


class ReplayDivergence(
    Message, code="NB106", rule="replay-divergence", kind="hidden-state", severity="warning"
):
    """replaying the saved execution order: a read resolves to another definition than top-down

    ## What it does
    Replays the saved execution order and reports a read that resolves to another definition
    than in top-down order.

    ## Why it matters
    The saved outputs were computed from other values than a top-down run computes.

    ## Example
    ```python
    # %% In[1]
    x = 1
    # %% In[3]
    print(x)
    # %% In[2]
    x = 2
    ```

    ## Instead
    Restart and run all; if the later value is meant, move that cell up.
    """

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


class MutatedAfterRead(
    Message, code="NB107", rule="mutated-after-read", kind="hidden-state", severity="warning"
):
    """a later cell mutates an object an earlier cell read (`info` when the readers only display)

    ## What it does
    Reports a later cell that mutates an object an earlier cell read.

    ## Why it matters
    Re-running the earlier cell after the later one gives other results: the notebook depends on
    the order cells were run in.

    ## Example
    ```python
    # %%
    items = [1, 2, 3]
    # %%
    total = sum(items)
    # %%
    items.append(4)
    ```

    ## Instead
    Build the object completely before reading it, or copy it before changing it.
    """

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


class NonIdempotentCell(
    Message, code="NB108", rule="non-idempotent-cell", kind="hidden-state", severity="warning"
):
    """a cell that reads and updates the same name, so running it twice changes it (`info` for `df =
    df.dropna()`-like chains)

    ## What it does
    Reports a cell that reads and rebinds (or mutates) the same name.

    ## Why it matters
    Running it twice changes the result (`x = x + 1`), a common source of hidden state.

    ## Example
    ```python
    # %%
    count = count + 1
    ```

    ## Instead
    Compute a new name from the old one (`count_after = count + 1`), or keep the whole
    computation in one cell from its start.
    """

    template = (
        "running cell {cell.index} twice changes `{name}` again: it reads and updates it ({how})"
    )
    cell: CellRef
    name: str
    how: str


class EditedAfterRun(
    Message, code="NB109", rule="cell-edited-after-run", kind="hidden-state", severity="warning"
):
    """a cell edited after it ran: the source hash recorded when it ran (JupyterLab extension) differs
    from its source

    ## What it does
    Reports a cell edited after it ran: the source hash the JupyterLab extension recorded when
    it ran differs from its saved source.

    ## Why it matters
    Its output, and the kernel state later cells used, come from code that is no longer in the
    notebook.

    ## Example
    ```python
    # %% In[3] (ran as `x = 1`, then edited)
    x = 2
    ```

    ## Instead
    Re-run the cell (and the cells after it).
    """

    template = (
        "{cell.label} was edited after it ran: its saved output and what the kernel holds come "
        "from code that is no longer in the cell; re-run it"
    )
    cell: CellRef


class StaleKernelOutput(
    Message, code="NB110", rule="stale-kernel-output", kind="hidden-state", severity="warning"
):
    """a cell whose output comes from an earlier kernel session than the most recent run (the kernel
    was restarted and the cell not re-run)

    ## What it does
    Reports a cell whose output comes from an earlier kernel session than the most recent run
    (the kernel was restarted and the cell not re-run).

    ## Why it matters
    The output shows values the current session never computed.

    ## Example
    ```python
    # %% session 1, In[1]
    print(1)
    # %% session 2, In[1]
    x = 2
    ```

    ## Instead
    Restart and run all before saving.
    """

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


class IPythonSyntax(
    Message, code="NB201", rule="ipython-syntax", kind="production", severity="warning"
):
    """IPython magics and shell commands headed for production (`!pip install`, `%run`, `%%bash`, …);
    session-only magics such as `%matplotlib` are not reported

    ## What it does
    Reports IPython magics and shell commands in code headed for production (`!pip install`,
    `%run`, `%%bash`, …); session-only magics such as `%matplotlib` are not reported.

    ## Why it matters
    Plain Python cannot run them: a script or service needs a requirement, a subprocess call or
    a function instead.

    ## Example
    ```python
    # %%
    !pip install pandas
    %run helpers.py
    ```

    ## Instead
    Declare dependencies in requirements, import modules instead of `%run`, and call
    `subprocess.run` for real shell work (`nb2svc convert` does these rewrites).
    """

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


class NotebookGlobal(
    Message, code="NB202", rule="notebook-global", kind="production", severity="warning"
):
    """notebook-only globals: `In`, `Out`, `_`, `_3`, `get_ipython()`, `display()`, `input()`

    ## What it does
    Reports notebook-only globals: `In`, `Out`, `_`, `_3`, `get_ipython()`, `display()`,
    `input()`.

    ## Why it matters
    They exist only in an interactive IPython session; outside it they are undefined or block
    waiting for input.

    ## Example
    ```python
    # %%
    result = _ * 2
    name = input()
    ```

    ## Instead
    Bind the value to a name (`result = value * 2`), and read input from parameters.
    """

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


class AbsolutePath(
    Message, code="NB203", rule="absolute-path", kind="production", severity="warning"
):
    """absolute or home-directory paths in string literals, judged by their form

    ## What it does
    Reports absolute or home-directory paths in string literals, judged by their form.

    ## Why it matters
    They only exist on the author's machine; a container or a colleague's checkout fails.

    ## Example
    ```python
    # %%
    df = pd.read_csv('/Users/ana/data/train.csv')
    ```

    ## Instead
    Use a path relative to the notebook or a parameter (`nb2svc convert` makes data reads
    SageMaker channels).
    """

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


class UnseededRandomness(
    Message, code="NB204", rule="unseeded-randomness", kind="production", severity="warning"
):
    """randomness without a seed (numpy, `random`, torch, TensorFlow, scikit-learn `random_state`)

    ## What it does
    Reports randomness without a seed (numpy, `random`, torch, TensorFlow, scikit-learn
    `random_state`).

    ## Why it matters
    Every run gives other numbers: results cannot be reproduced and `nb2svc verify` cannot
    compare outputs.

    ## Example
    ```python
    # %%
    import numpy as np
    x = np.random.rand(3)
    ```

    ## Instead
    Seed once (`rng = np.random.default_rng(0)`) or pass `random_state=0`.
    """

    template = "{why}; results change from run to run"
    call: str
    problem: str  # a key of RANDOMNESS

    @property
    def why(self) -> str:
        return RANDOMNESS[self.problem].format(call=self.call)


class StarImport(Message, code="NB205", rule="star-import", kind="production", severity="warning"):
    """star imports nb2svc cannot follow: a library's (a local module's are read statically)

    ## What it does
    Reports star imports that nb2svc cannot follow: a library's, or a local module it cannot
    read. A local module's (`preamble.py` next to the notebook, or a file an earlier cell writes
    with `%%writefile`) is read statically and its names are known.

    ## Why it matters
    They hide where names come from and switch off undefined-name checks (NB103/NB104).

    ## Example
    ```python
    # %%
    from math import *
    print(sqrt(2))
    ```

    ## Instead
    Import the names you use (`from math import sqrt`).
    """

    template = (
        "`from {module} import *` hides where names come from; undefined-name checks are off "
        "for this notebook"
    )
    module: str


class StoredError(
    Message, code="NB206", rule="stored-error", kind="production", severity="warning"
):
    """the notebook was saved with an error output

    ## What it does
    Reports a notebook saved with an error output.

    ## Why it matters
    A reader cannot tell whether the error is expected; the notebook does not run top-down as
    saved.

    ## Example
    ```python
    # %% (saved with a ZeroDivisionError traceback)
    1 / 0
    ```

    ## Instead
    Fix the cell and re-run, or clear the output if the error is intended and explained.
    """

    template = "{cell.label} was saved with an error output ({error})"
    cell: CellRef
    ename: str
    evalue: str

    @property
    def error(self) -> str:
        return f"{self.ename}: {self.evalue}" if self.evalue else self.ename


class BillableWithoutCleanup(
    Message, code="NB207", rule="billable-without-cleanup", kind="production", severity="warning"
):
    """a cell creates a SageMaker resource that bills until deleted (an endpoint) and no cell deletes
    it

    ## What it does
    Reports a cell that creates a SageMaker resource billed until it is deleted (an endpoint
    from `.deploy()` or `create_endpoint`) when no cell of the notebook deletes it.

    ## Why it matters
    An endpoint keeps its instances running, and billing, after the notebook is closed; a
    converted notebook must not create one as a side effect.

    ## Example
    ```python
    # %% In[1]
    from sagemaker.sklearn import SKLearn
    est = SKLearn(entry_point='train.py', framework_version='1.2-1')
    est.fit({'train': 's3://bucket/train'})
    # %% In[2]
    predictor = est.deploy(initial_instance_count=1, instance_type='ml.m5.large')
    ```

    ## Instead
    End the notebook with a cleanup cell (`predictor.delete_endpoint()`), and deploy with the
    generated `deploy.py` (`deploy.py delete` removes what it created).
    """

    template = (
        "`{call}(...)` creates a SageMaker {creates}, billed until it is deleted, and no cell "
        "deletes it (e.g. `predictor.delete_endpoint()` or "
        "`sm.delete_endpoint(EndpointName=...)`)"
    )
    call: str
    creates: str


# -- security (NB3xx) ----------------------------------------------------------------------
class HardCodedSecret(
    Message, code="NB301", rule="hard-coded-secret", kind="security", severity="error"
):
    """hard-coded secrets (AWS keys, tokens, passwords) in code, shell lines or outputs — shown
    redacted, never copied

    ## What it does
    Reports hard-coded secrets (AWS keys, tokens, passwords) in code, shell lines or outputs;
    they are shown redacted, never copied.

    ## Why it matters
    A notebook is shared, committed and rendered: a secret in it is leaked.

    ## Example
    ```python
    # %%
    token = 'ghp_4fQm2Lx9Tz7Wb1Kc8Vn3Ry6Hd5Js0Pa2Ge9M'  # a (made-up) GitHub token
    ```

    ## Instead
    Read secrets from the environment or a secrets manager, rotate the leaked one, and clear
    outputs that printed it.
    """

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
