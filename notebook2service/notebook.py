"""Load a notebook into a small, fast model: cells with index, id, execution count.

Reading uses the standard ``json`` module and the notebook's own structure; nbformat is
imported only to upgrade v3 notebooks and to write fixes (importing it costs ~120 ms, more
than the whole lint of a typical notebook). Outputs are kept as they were parsed and are never
walked unless a rule asks for them, so very large outputs do not slow analysis down.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .findings import CellRef


class NotebookError(Exception):
    """The file cannot be read as a notebook (bad JSON, not a notebook, unreadable)."""


@dataclass
class Cell:
    index: int  # 1-based over all cells (markdown included), as ruff counts
    cell_type: str
    source: str
    id: str | None = None
    execution_count: int | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    file_line: int | None = None  # 1-based line in the .ipynb where the source starts
    source_is_list: bool = True  # one JSON string per line (nbformat's layout)

    @property
    def is_code(self) -> bool:
        return self.cell_type == "code"

    @property
    def tags(self) -> list[str]:
        tags = self.metadata.get("tags") if isinstance(self.metadata, dict) else None
        return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []

    def ref(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "execution_count": self.execution_count}

    def label(self) -> str:
        """`cell 3 (In[7])` — how messages name a cell."""
        return CellRef(self.index, self.id, self.execution_count).label

    def file_line_of(self, line: int) -> int | None:
        """Line in the .ipynb file that holds line ``line`` (1-based) of this cell's source."""
        if self.file_line is None:
            return None
        return self.file_line + (line - 1 if self.source_is_list else 0)


@dataclass
class Notebook:
    path: str  # as given by the user, '<memory>' for in-memory notebooks
    cells: list[Cell]
    metadata: dict[str, Any]
    nbformat: int
    nbformat_minor: int
    raw: dict[str, Any] | None = None  # the parsed JSON (v4 layout)
    text: str | None = None  # file text, when read from disk
    # structural problems found while loading: (cell, problem, details), problem one of
    # "invalid-cell", "missing-id", "duplicate-id" (the linter phrases them)
    problems: list[tuple[Cell, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.is_code]

    @property
    def language(self) -> str | None:
        """The kernel language, lower-case, or None when the notebook does not say."""
        md = self.metadata
        for key, sub in (("kernelspec", "language"), ("language_info", "name")):
            value = md.get(key)
            if isinstance(value, dict) and isinstance(value.get(sub), str) and value[sub]:
                return value[sub].strip().lower()
        value = md.get("language")  # v3 notebooks
        return value.strip().lower() if isinstance(value, str) and value.strip() else None

    @property
    def is_python(self) -> bool:
        lang = self.language
        return lang is None or lang in ("python", "python2", "python3", "ipython", "ipython3")

    @property
    def kernel_name(self) -> str:
        ks = self.metadata.get("kernelspec")
        if isinstance(ks, dict):
            name = ks.get("display_name") or ks.get("name")
            if isinstance(name, str):
                return name
        return self.language or "unknown"


def _join_source(value: Any) -> tuple[str, bool]:
    if isinstance(value, list):
        return _valid_unicode("".join(v for v in value if isinstance(v, str))), True
    if isinstance(value, str):
        return _valid_unicode(value), False
    return "", False


def _valid_unicode(text: str) -> str:
    """`text` with lone surrogates (JSON allows `"\\ud800"`) written as `\\ud800` escapes:
    the same value inside a Python string literal, and encodable as UTF-8 everywhere after."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


_SOURCE_KEY = re.compile(r'"source"\s*:\s*[\["]')


def _source_lines(text: str, cells: list[Cell]) -> None:
    """Find where each cell's source starts in the file text (for annotations on the .ipynb).

    A key ``"source"`` can only appear unescaped as an object key; cells are the only objects
    with that key in nbformat's schema, so the n-th match is the n-th cell. If the count does
    not match (a hand-edited file), lines are left unknown rather than guessed.
    """
    matches = list(_SOURCE_KEY.finditer(text))
    if len(matches) != len(cells):
        return
    pos, line = 0, 1
    for cell, m in zip(cells, matches, strict=True):
        start = m.end() - 1
        line += text.count("\n", pos, start)
        pos = start
        if text[start] == "[":
            # nbformat writes each element on its own line after the bracket; a compact
            # file keeps them on one line, so every source line maps to the key's line
            after = text[start + 1 : start + 80].lstrip(" \t\r")
            one_per_line = after.startswith("\n")
            cell.file_line = line + 1 if one_per_line else line
            cell.source_is_list = cell.source_is_list and one_per_line
        else:
            cell.file_line = line


def _upgrade_v3(data: dict[str, Any]) -> dict[str, Any]:
    try:
        import nbformat
    except ImportError as exc:  # pragma: no cover - nbformat is a dependency
        raise NotebookError("nbformat is needed to read nbformat v3 notebooks") from exc
    worksheets = data.get("worksheets")
    for ws in worksheets if isinstance(worksheets, list) else []:
        # nbformat writes v3 sources as lists of lines; its converter wants strings
        cells = ws.get("cells") if isinstance(ws, dict) else None
        for cell in cells if isinstance(cells, list) else []:
            if isinstance(cell, dict):
                for key in ("source", "input"):
                    if isinstance(cell.get(key), list):
                        cell[key] = "".join(x for x in cell[key] if isinstance(x, str))
    try:
        node = nbformat.from_dict(data)
        upgraded = nbformat.convert(node, 4)
    except Exception as exc:  # nbformat raises many types on malformed v3 data
        raise NotebookError(f"cannot upgrade nbformat v3 notebook: {exc}") from exc
    return json.loads(json.dumps(upgraded))


def _cell_of(i: int, raw: dict[str, Any]) -> Cell:
    """Cell `i` from its JSON, every field checked for its type (wrong types are dropped)."""
    source, is_list = _join_source(raw.get("source", ""))
    if "\r" in source:  # IPython splits lines on \r too
        source = source.replace("\r\n", "\n").replace("\r", "\n")
    ctype = raw.get("cell_type") if isinstance(raw.get("cell_type"), str) else "invalid"
    count = raw.get("execution_count") if ctype == "code" else None
    if not isinstance(count, int) or isinstance(count, bool):
        count = None
    outputs = raw.get("outputs") if ctype == "code" else None
    md = raw.get("metadata")
    cell_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    cell = Cell(
        index=i,
        cell_type=ctype,
        source=source,
        id=cell_id,
        execution_count=count,
        outputs=outputs if isinstance(outputs, list) else [],
        metadata=md if isinstance(md, dict) else {},
        source_is_list=is_list,
    )
    return cell


def walk_files(root: str | os.PathLike[str], want: Any, skip: Any) -> list[str]:
    """Files under `root` whose name `want(name)` accepts, sorted; folders named in `skip` or
    starting with a dot are not entered."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in skip and not d.startswith("."))
        found.extend(os.path.join(folder, n) for n in names if want(n))
    return sorted(found)


def load_python(obj: Any, why: str = "") -> Notebook:
    """`load`, then NotebookError unless the kernel is Python (`why` ends the message)."""
    nb = load(obj)
    if not nb.is_python:
        raise NotebookError(f"the kernel is {nb.kernel_name}, not Python{why}")
    return nb


def from_dict(data: Any, path: str = "<memory>", text: str | None = None) -> Notebook:
    """Build a Notebook from parsed notebook JSON (v4, or v3 which is upgraded)."""
    if not isinstance(data, dict):
        raise NotebookError("not a notebook: the top level is not a JSON object")
    major = data.get("nbformat")
    if not isinstance(major, int):
        if "cells" not in data and "worksheets" not in data:
            raise NotebookError("not a notebook: no 'nbformat' version and no cells")
        major = 4 if "cells" in data else 3
    if major < 4:
        if major != 3:
            raise NotebookError(f"unsupported nbformat version {major}")
        data = _upgrade_v3(data)
        text = None  # line positions refer to the v3 layout; do not guess
    elif major > 4:
        raise NotebookError(f"unsupported nbformat version {major}")
    minor = data.get("nbformat_minor")
    minor = minor if isinstance(minor, int) else 0
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        raise NotebookError("not a notebook: 'cells' is missing or not a list")
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    nb = Notebook(
        path=path, cells=[], metadata=metadata, nbformat=4, nbformat_minor=minor, raw=data
    )
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_cells, start=1):
        if not isinstance(raw, dict):
            cell = Cell(index=i, cell_type="invalid", source="")
            nb.cells.append(cell)
            nb.problems.append((cell, "invalid-cell", {"problem": "not-an-object"}))
            continue
        cell = _cell_of(i, raw)
        ctype, cell_id = cell.cell_type, cell.id
        nb.cells.append(cell)
        if cell_id is None:
            if (minor >= 5) and ctype in ("code", "markdown", "raw"):
                nb.problems.append((cell, "missing-id", {"minor": minor}))
        elif cell_id in seen:
            nb.problems.append((cell, "duplicate-id", {"cell_id": cell_id, "first": seen[cell_id]}))
        else:
            seen[cell_id] = i
        if ctype == "invalid":
            nb.problems.append((cell, "invalid-cell", {"problem": "no-cell-type"}))
    if text is not None:
        nb.text = text
        _source_lines(text, nb.cells)
    return nb


#: bounds checked before json.loads: a notebook file larger than this is refused, and so is
#: JSON nested deeper than any notebook (json's C parser recurses once per level)
MAX_NOTEBOOK_BYTES = 512 * 1024 * 1024
MAX_JSON_DEPTH = 200
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^()\[\]{}]+")


def bracket_depth(text: str) -> int:
    """How deeply the brackets ( [ { of `text` nest, its strings (and comments) already taken
    out; a closer with none open counts for nothing. The one depth counter of the bounds
    checks: JSON before json.loads (json_depth) and a cell before ast/libcst
    (ipython.complexity_error)."""
    depth = deepest = 0
    for ch in _NOT_BRACKET.sub("", text):
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
    return deepest


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of JSON `text` nest (strings do not count)."""
    return bracket_depth(_JSON_STRING.sub("", text))


def check_json_bounds(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> None:
    """NotebookError when `text` is too large or too deeply nested to parse safely."""
    if len(text) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(
            f"too large to read ({len(text):,} bytes; limit {MAX_NOTEBOOK_BYTES:,})"
        )
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if json_depth(text) > max_depth:
        raise NotebookError(f"invalid JSON: nested more than {max_depth} levels deep")


def read_json(path: str | os.PathLike[str], max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON file (a manifest, say) within the size and depth bounds, or ValueError."""
    p = Path(path)
    if p.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"too large to read (limit {MAX_NOTEBOOK_BYTES:,} bytes)")
    text = p.read_text(encoding="utf-8")
    try:
        check_json_bounds(text, max_depth)
        return json.loads(text)
    except (NotebookError, RecursionError) as exc:
        raise ValueError(str(exc) or "nested too deeply") from None


def loads(text: str, path: str = "<memory>") -> Notebook:
    check_json_bounds(text)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nesting too deep"
        where = (
            f" (line {exc.lineno}, column {exc.colno})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise NotebookError(f"invalid JSON: {msg}{where}") from None
    return from_dict(data, path=path, text=text)


def read(path: str | os.PathLike[str]) -> Notebook:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise NotebookError(f"too large to read (limit {MAX_NOTEBOOK_BYTES:,} bytes)")
        raw = p.read_bytes()
    except IsADirectoryError:
        raise NotebookError("is a directory") from None
    except (OSError, ValueError) as exc:
        raise NotebookError(getattr(exc, "strerror", None) or str(exc)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotebookError("not a notebook: the file is not UTF-8 text") from None
    return loads(text, path=str(path))


def load(obj: Any, path: str | None = None) -> Notebook:
    """A Notebook from a path, a JSON string, a dict, an nbformat NotebookNode or a Notebook."""
    if isinstance(obj, Notebook):
        return obj
    if isinstance(obj, str) and (obj.lstrip("\ufeff \t\r\n")[:1] in ("{", "[") or "\n" in obj):
        return loads(obj.lstrip("\ufeff"), path=path or "<memory>")
    if isinstance(obj, (str, os.PathLike)):
        return read(obj)
    if isinstance(obj, dict):  # includes nbformat.NotebookNode
        return from_dict(obj, path=path or "<memory>")
    raise NotebookError(f"cannot load a notebook from {type(obj).__name__}")
