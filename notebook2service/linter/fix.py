"""Safe fixes, only on request (`--fix`): never a change to code or outputs' content.

The fix is a minimal textual edit of the file's own bytes: only the values of the
`execution_count` keys of code cells (and of their outputs) become `null`. Line endings, a
BOM, indentation, key order and number spellings (`1e400`, `1.50`) stay as they are, so the
diff shows only the fix; the edit is verified by parsing the result again. The file is
written through `output.replace_file_content` (mode, symlinks and hard links kept).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json.decoder import scanstring
from pathlib import Path
from typing import Any

from ..notebook import NotebookError, check_json_bounds
from ..output import replace_file_content

_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|NaN|-?Infinity")
_BOM = b"\xef\xbb\xbf"
_VERBATIM: dict[str, Any] = {"parse_float": str, "parse_int": str, "parse_constant": str}


def scalar_spans(text: str, wanted: Callable[[tuple], bool]) -> list[tuple[int, int]]:
    """(start, end) of every scalar value of valid JSON `text` whose key path is `wanted`.

    Iterative (no recursion), so nesting depth costs no stack.
    """
    spans: list[tuple[int, int]] = []
    stack: list[list[Any]] = []  # [is_object, path, next index]
    path: tuple = ()
    i, expect_value = 0, True
    while True:
        i = _WS.match(text, i).end()
        if expect_value:
            expect_value = False
            if text[i] in "{[":
                stack.append([text[i] == "{", path, 0])
                i += 1
                continue
            start = i
            i = scanstring(text, i + 1)[1] if text[i] == '"' else _SCALAR.match(text, i).end()
            if wanted(path):
                spans.append((start, i))
            if not stack:
                return spans
            continue
        top = stack[-1]
        if text[i] in "}]":
            stack.pop()
            i += 1
            if not stack:
                return spans
            continue
        if text[i] == ",":
            i = _WS.match(text, i + 1).end()
        if top[0]:
            key, i = scanstring(text, i + 1)
            i = _WS.match(text, i).end() + 1  # the ':'
            path = (*top[1], key)
        else:
            path = (*top[1], top[2])
            top[2] += 1
        expect_value = True


def _count_paths(data: dict) -> set[tuple]:
    """Key paths of the execution counts to clear (code cells and their outputs)."""
    paths: set[tuple] = set()
    for i, cell in enumerate(data["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        if cell.get("execution_count") is not None:
            paths.add(("cells", i, "execution_count"))
        outputs = cell.get("outputs")
        for j, out in enumerate(outputs if isinstance(outputs, list) else []):
            if isinstance(out, dict) and out.get("execution_count") is not None:
                paths.add(("cells", i, "outputs", j, "execution_count"))
    return paths


def cleared_text(text: str) -> tuple[str, int]:
    """`text` with the saved execution counts set to null, and the number of cells changed."""
    check_json_bounds(text)
    try:
        data = json.loads(text, **_VERBATIM)
    except (ValueError, RecursionError) as exc:
        raise NotebookError(f"invalid JSON: {exc}") from None
    if (
        not isinstance(data, dict)
        or data.get("nbformat") != "4"
        or not isinstance(data.get("cells"), list)
    ):
        raise NotebookError("only nbformat 4 notebooks can be fixed in place")
    paths = _count_paths(data)
    new = text
    for start, end in reversed(scalar_spans(text, paths.__contains__)):
        new = new[:start] + "null" + new[end:]
    for p in paths:
        node = data
        for part in p[:-1]:
            node = node[part]
        node[p[-1]] = None
    if json.loads(new, **_VERBATIM) != data:
        raise NotebookError("the fix would change more than execution counts; not written")
    return new, len({p[1] for p in paths})


def clear_execution_counts(path: str) -> int:
    """Clear saved execution counts (cells and their execute_result outputs) in place.

    Stale, out-of-order counts claim an order that Restart & Run All will not reproduce.
    Returns the number of cells changed.
    """
    raw = Path(path).read_bytes()
    bom = _BOM if raw.startswith(_BOM) else b""
    try:
        text = raw[len(bom) :].decode("utf-8")
    except UnicodeDecodeError:
        raise NotebookError("not a notebook: the file is not UTF-8 text") from None
    new, changed = cleared_text(text)
    if changed:
        replace_file_content(path, bom + new.encode("utf-8"))
    return changed
