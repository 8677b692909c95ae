"""Checks and formatting of the generated Python: ruff's import sort and formatter (for
`__main__.py` and `model_code.py`, built from templates and text, and `training_steps.py`)
and ruff's pyflakes rules. pipeline.py is not formatted: it is built as one libcst tree
(lift/module.py), which also gives its line → cell map."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable
from typing import Any


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
