"""Checks and formatting of the generated Python: ruff's import sort and formatter, ruff's
pyflakes rules, and the pipeline.py line → notebook cell map."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

_MARKER = re.compile(r"^\s*# (cell (\d+)(?: \(In\[\d+\]\))?)\s*$")


def marker_cell(text: str) -> int | None:
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


def line_map(code: str) -> list[dict[str, Any]]:
    """pipeline.py line ranges → the cell each came from, read from the `# cell N` markers.

    A marker covers the lines after it that are indented deeper than the marker (or, at the
    top level, the definition that follows it), up to the next marker; a step's generated
    `return` is not part of any cell."""
    ranges: list[dict[str, Any]] = []
    lines = code.split("\n")
    i = 0
    while i < len(lines):
        m = _MARKER.match(lines[i])
        if not m:
            i += 1
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())
        start = j = i + 1
        last = i
        while j < len(lines):
            text = lines[j]
            stripped = text.strip()
            if _MARKER.match(text):
                break
            depth = len(text) - len(text.lstrip())
            if stripped:
                top_level_head = indent == 0 and j == start
                if (
                    depth > indent
                    or top_level_head
                    or (indent == 0 and stripped.startswith("@") and j == last + 1)
                ):
                    last = j
                elif depth == indent and indent > 0 and not stripped.startswith("return "):
                    last = j
                else:
                    break
            j += 1
        ranges.append({"cell": int(m.group(2)), "start": start + 1, "end": last + 1})
        i = j
    return [r for r in ranges if r["end"] >= r["start"]]
