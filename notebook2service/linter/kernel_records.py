"""Run provenance (NB109, NB110): what the saved outputs were produced by, without a kernel.

The notebook format has no dirty flag. The nb2svc JupyterLab extension records, for every
cell it runs, the hash of the source that actually ran, the kernel session and the execution
count (``cell.metadata["nb2svc"]``, see ``notebook2service.provenance``). A record is trusted
only when its execution count equals the cell's saved count: a cell run later by a frontend
without the extension keeps an old record, and that record says nothing about the new output.
"""

from __future__ import annotations

from typing import Any

from ..findings import CellRef
from ..provenance import read_record, source_sha256
from .messages import Message
from .rules import Context, check


def _records(ctx: Context) -> list[tuple[Any, dict[str, Any]]]:
    """(cell, record) for each code cell whose record describes its saved output."""
    records = []
    for cell in ctx.notebook.cells:
        if not cell.is_code or not cell.metadata or cell.execution_count is None:
            continue
        record = read_record(cell.metadata)
        if record is None or record.get("execution_count") != cell.execution_count:
            continue
        records.append((cell, record))
    return records


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


@check("NB109")
def edited_after_run(ctx: Context) -> None:
    for cell, record in _records(ctx):
        if source_sha256(cell.source) != record["source_sha256"]:
            ctx.report(cell, 1, 1, EditedAfterRun(cell=CellRef.of(cell)))


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


@check("NB110")
def stale_kernel_output(ctx: Context) -> None:
    sessions = [(c, r) for c, r in _records(ctx) if isinstance(r.get("kernel_session"), str)]
    if len(sessions) < 2:
        return
    latest_cell, latest = max(
        sessions,
        key=lambda cr: (str(cr[1].get("executed_at") or ""), cr[0].execution_count or 0),
    )
    current = latest["kernel_session"]
    for cell, record in sessions:
        if record["kernel_session"] != current:
            message = StaleKernelOutput(cell=CellRef.of(cell), latest=CellRef.of(latest_cell))
            ctx.report(cell, 1, 1, message, related=(latest_cell.index,))
