"""Hashes that say which code produced what: cell provenance and a notebook's code digest.

Two small contracts live here, shared by the linter (NB109/NB110), the converter's manifest,
``nb2svc check-converted`` and the JupyterLab extension (which computes the same hash in
TypeScript):

* **Cell provenance.** When a cell runs in JupyterLab with the nb2svc extension, the
  extension writes ``cell.metadata["nb2svc"]``::

      {"source_sha256": "<sha256 of the source that ran>",
       "kernel_session": "<the kernel's session id; a new one after every restart>",
       "execution_count": 7,
       "executed_at": "2026-11-25T18:30:00.123Z"}

  The notebook format has no dirty flag; with this record a static check can tell that a
  cell was edited after it ran (the hash differs from the current source) and that a cell's
  output comes from an earlier kernel session than the most recent run.

* **Code digest.** ``code_sha256`` hashes the code cells' sources only, so re-running a
  notebook (new outputs, counts, metadata) or editing markdown does not make a converted
  package stale; changing any code does.

``source_sha256`` of a cell is the SHA-256 of its source as UTF-8 after ``\\r\\n`` and ``\\r``
become ``\\n`` (what JupyterLab's editor and ``notebook.py`` both do). Nothing here imports
more than the C hash module, so the lint path stays fast.
"""

from __future__ import annotations

from typing import Any

METADATA_KEY = "nb2svc"

try:  # the C module alone; `hashlib` also loads OpenSSL (~4 ms of start-up)
    from _sha2 import sha256 as _sha256  # Python 3.12+
except ImportError:  # pragma: no cover - depends on the Python version
    try:
        from _sha256 import sha256 as _sha256  # Python 3.10, 3.11
    except ImportError:
        from hashlib import sha256 as _sha256


def normalize_source(source: Any) -> str:
    """A cell source (string or nbformat's list of lines) as one string with ``\\n`` newlines."""
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    elif not isinstance(source, str):
        source = ""
    if "\r" in source:
        source = source.replace("\r\n", "\n").replace("\r", "\n")
    return source


def source_sha256(source: Any) -> str:
    """The hex SHA-256 of a cell's source (see the module docstring for the normalization)."""
    return _sha256(normalize_source(source).encode("utf-8")).hexdigest()


def cell_record(
    source: Any,
    kernel_session: str | None,
    execution_count: int | None,
    executed_at: str | None = None,
) -> dict[str, Any]:
    """The metadata record the JupyterLab extension writes for a cell that ran."""
    record: dict[str, Any] = {
        "source_sha256": source_sha256(source),
        "kernel_session": kernel_session,
        "execution_count": execution_count,
    }
    if executed_at is not None:
        record["executed_at"] = executed_at
    return record


def read_record(metadata: Any) -> dict[str, Any] | None:
    """The provenance record in a cell's metadata, or None when absent or malformed."""
    if not isinstance(metadata, dict):
        return None
    record = metadata.get(METADATA_KEY)
    if not isinstance(record, dict):
        return None
    digest = record.get("source_sha256")
    if not isinstance(digest, str) or len(digest) != 64:
        return None
    return record


def code_sha256(notebook: Any) -> str:
    """SHA-256 over the code cells' sources, in order, each followed by a NUL byte.

    ``notebook`` is a path, a JSON string, a dict / NotebookNode or a loaded
    ``notebook.Notebook``. Outputs, execution counts, metadata and markdown do not count.
    """
    from .notebook import load

    nb = load(notebook)
    h = _sha256()
    for cell in nb.cells:
        if cell.is_code:
            h.update(normalize_source(cell.source).encode("utf-8"))
            h.update(b"\0")
    return h.hexdigest()


def file_sha256(path: Any) -> str:
    """SHA-256 of a file's bytes (what the manifest's ``notebook_sha256`` records)."""
    with open(path, "rb") as f:
        return _sha256(f.read()).hexdigest()
