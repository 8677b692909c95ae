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
from .messages import EditedAfterRun, StaleKernelOutput
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


@check("NB109")
def edited_after_run(ctx: Context) -> None:
    for cell, record in _records(ctx):
        if source_sha256(cell.source) != record["source_sha256"]:
            ctx.report(cell, 1, 1, EditedAfterRun(cell=CellRef.of(cell)))


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
