"""Checks and formatting of the generated Python: ruff's import sort and formatter, ruff's
pyflakes rules, and the pipeline.py line → notebook cell map (from the formatted code's
libcst syntax tree and its PositionProvider metadata)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

_MARKER = re.compile(r"^\s*# (cell (\d+)(?: \(In\[\d+\]\))?)\s*$")


def _marker_cell(text: str) -> int | None:
    """The cell number of a `# cell N` marker line, else None."""
    m = _MARKER.match(text)
    return int(m.group(2)) if m else None


def _ruff(args: list[str], text: str, filename: str) -> tuple[int, str, str]:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--stdin-filename", filename, "-"],
            input=text,
            capture_output=True,
            encoding="utf-8",
            errors="backslashreplace",  # a lone surrogate in a notebook must not crash convert
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def format_code(text: str, filename: str) -> str:
    """isort-style import order, then ruff's formatter."""
    rc, out, _ = _ruff(
        ["check", "--isolated", "--select", "I001", "--fix", "--exit-zero", "--quiet"],
        text,
        filename,
    )
    text = out if rc == 0 and out else text
    rc, out, _ = _ruff(["format", "--isolated", "--line-length", "100"], text, filename)
    return out if rc == 0 and out else text


def check_code(text: str, filename: str) -> list[dict[str, Any]]:
    """pyflakes rules (F) over generated code: undefined names, unused imports..."""
    rc, out, err = _ruff(
        [
            "check",
            "--isolated",
            "--select",
            "F",
            "--ignore",
            "F401,F811,F841,F403,F405",
            "--output-format",
            "json",
            "--exit-zero",
        ],
        text,
        filename,
    )
    try:
        return [
            {"code": d["code"], "message": d["message"], "line": d["location"]["row"]}
            for d in json.loads(out or "[]")
        ]
    except (ValueError, KeyError, TypeError):
        return [
            {"code": "ruff", "message": (err or out or "ruff did not run").strip()[:200], "line": 0}
        ]


def check_notebook_code(cells: Iterable[tuple[int, str]]) -> list[dict[str, Any]]:
    """:func:`check_code` over the notebook's own code, its cells (index, Python) joined
    top-down as Restart & Run All runs them; each finding names its cell and line in it."""
    text, starts = "", []  # starts: (first line in text, cell index)
    for index, python in cells:
        starts.append((text.count("\n") + 1, index))
        text += python.rstrip("\n") + "\n"
    out = []
    for r in check_code(text, "notebook.py"):
        first, index = next(((a, i) for a, i in reversed(starts) if a <= r["line"]), (1, None))
        out.append({**r, "cell": index, "cell_line": r["line"] - first + 1})
    return out


_LINE_REF = re.compile(r" (?:from |on )?line \d+")


def same_finding(generated: dict[str, Any], own: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The notebook's own finding that a generated-code finding repeats (removed from `own`,
    so each one accounts for one generated finding), else None: the conversion made it."""
    key = _key(generated)
    for i, r in enumerate(own):
        if _key(r) == key:
            return own.pop(i)
    return None


def _key(r: dict[str, Any]) -> tuple[str, str]:
    """Rule and message, without what formatting changes (quotes, case, line numbers)."""
    text = _LINE_REF.sub("", r["message"]).replace('"', "").replace("'", "")
    return r["code"], text.lower()


def line_map(code: str) -> list[dict[str, Any]]:
    """pipeline.py line ranges → the cell each came from, read from the syntax tree.

    The `# cell N` comments are libcst `EmptyLine` nodes in the `leading_lines` of the first
    statement of each cell's code; libcst's PositionProvider gives each statement's lines. A
    cell covers its statements up to the next marked one (at the top level: the marked
    definition and the constants after it; in a step: not the step's generated `return`)."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    try:
        wrapper = MetadataWrapper(cst.parse_module(code))
    except cst.ParserSyntaxError:
        return []
    positions = wrapper.resolve(PositionProvider)
    ranges: list[dict[str, Any]] = []
    blocks = [wrapper.module.body] + [
        s.body.body for s in wrapper.module.body if isinstance(s, cst.FunctionDef)
    ]
    for top, body in enumerate(blocks):
        cell: int | None = None
        for stmt in body:
            marked = next((c for c in map(_comment_cell, stmt.leading_lines) if c), None)
            if marked is not None:
                cell = marked
            elif (top == 0 and not _is_assignment(stmt)) or _is_return(stmt):
                cell = None  # a module-level constant continues its cell (lift/constants.py)
            if cell is None:
                continue
            pos = positions[stmt]
            if marked is None and ranges:
                ranges[-1]["end"] = pos.end.line
            else:
                ranges.append({"cell": cell, "start": pos.start.line, "end": pos.end.line})
    return sorted(ranges, key=lambda r: r["start"])


def _comment_cell(line: Any) -> int | None:
    return _marker_cell(line.comment.value) if line.comment is not None else None


def _is_assignment(stmt: Any) -> bool:
    import libcst as cst

    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Assign, cst.AnnAssign)) for s in stmt.body
    )


def _is_return(stmt: Any) -> bool:
    import libcst as cst

    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, cst.Return) for s in stmt.body
    )
