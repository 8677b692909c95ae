"""Run provenance (NB109, NB110): what the saved outputs were produced by, without a kernel.

The notebook format has no dirty flag. The nb2svc JupyterLab extension records, for every
cell it runs, the hash of the source that actually ran, the kernel session and the execution
count (``cell.metadata["nb2svc"]``, see ``notebook2service.provenance``). A record is trusted
only when its execution count equals the cell's saved count: a cell run later by a frontend
without the extension keeps an old record, and that record says nothing about the new output.
"""

from __future__ import annotations

from ..provenance import read_record, source_sha256
from .rules import Context, check


@check("NB109", "NB110")
def run_provenance(ctx: Context) -> None:
    records = []
    for cell in ctx.notebook.cells:
        if not cell.is_code or not cell.metadata or cell.execution_count is None:
            continue
        record = read_record(cell.metadata)
        if record is None or record.get("execution_count") != cell.execution_count:
            continue
        records.append((cell, record))
    if not records:
        return

    for cell, record in records:
        if source_sha256(cell.source) != record["source_sha256"]:
            ctx.report(
                "NB109",
                cell,
                1,
                1,
                f"{cell.label()} was edited after it ran: its saved output and what the kernel "
                "holds come from code that is no longer in the cell; re-run it",
            )

    sessions = [(c, r) for c, r in records if isinstance(r.get("kernel_session"), str)]
    if len(sessions) < 2:
        return
    latest_cell, latest = max(
        sessions,
        key=lambda cr: (str(cr[1].get("executed_at") or ""), cr[0].execution_count or 0),
    )
    current = latest["kernel_session"]
    for cell, record in sessions:
        if record["kernel_session"] != current:
            ctx.report(
                "NB110",
                cell,
                1,
                1,
                f"{cell.label()} shows output from an earlier kernel session: the kernel was "
                f"restarted before the latest run ({latest_cell.label()}) and this cell was not "
                "run again, so its values are not in the current kernel; run it again "
                "(or Restart & Run All)",
                related=(latest_cell.index,),
            )
