"""Safe fixes, only on request (`--fix`): never a change to code or outputs' content."""

from __future__ import annotations

import json
from pathlib import Path

from ..notebook import NotebookError
from .runner import write_atomic


def clear_execution_counts(path: str) -> int:
    """Clear saved execution counts (cells and their execute_result outputs).

    Stale, out-of-order counts claim an order that Restart & Run All will not reproduce. The
    file keeps nbformat's layout (sorted keys, one-space indent) so the diff shows only counts.
    Returns the number of cells changed.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8-sig")
    data = json.loads(text)
    if (
        not isinstance(data, dict)
        or data.get("nbformat") != 4
        or not isinstance(data.get("cells"), list)
    ):
        raise NotebookError("only nbformat 4 notebooks can be fixed in place")
    changed = 0
    for cell in data["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        touched = cell.get("execution_count") is not None
        cell["execution_count"] = None
        for out in cell.get("outputs") or []:
            if isinstance(out, dict) and out.get("execution_count") is not None:
                out["execution_count"] = None
                touched = True
        changed += touched
    if changed:
        write_atomic(p, json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    return changed
