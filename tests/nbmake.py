"""Build small notebooks in tests: `notebook("x = 1", ("print(x)", 3), md("# Title"))`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def md(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": None, "metadata": {}, "source": text}


def code(
    source: str, count: int | None = None, outputs: list | None = None, **extra: Any
) -> dict[str, Any]:
    cell = {
        "cell_type": "code",
        "execution_count": count,
        "id": None,
        "metadata": extra.pop("metadata", {}),
        "outputs": outputs or [],
        "source": source,
    }
    cell.update(extra)
    return cell


def notebook(*cells: Any, language: str = "python", minor: int = 5) -> dict[str, Any]:
    out = []
    for i, c in enumerate(cells):
        if isinstance(c, str):
            c = code(c)
        elif isinstance(c, tuple):
            c = code(*c)
        c = dict(c)
        if c.get("id") is None and minor >= 5:
            c["id"] = f"cell-{i}"
        elif minor < 5:
            c.pop("id", None)
        src = c["source"]
        c["source"] = src.splitlines(keepends=True) if isinstance(src, str) else src
        out.append(c)
    return {
        "cells": out,
        "metadata": {
            "kernelspec": {
                "display_name": language.title(),
                "language": language,
                "name": language,
            },
            "language_info": {"name": language},
        },
        "nbformat": 4,
        "nbformat_minor": minor,
    }


def write(path: Path, nb: dict[str, Any]) -> Path:
    path.write_text(
        json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return path


def codes(diagnostics: list) -> list[str]:
    return [d.code for d in diagnostics]


def run_package(out: Path, package: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m package` of a package converted into `out`, run from `cwd` (bounded)."""
    env = dict(os.environ, PYTHONPATH=str(out), MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, "-m", package, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def undefined_names(code: str) -> subprocess.CompletedProcess:
    """ruff's undefined/unbound-name checks (F821, F823) on generated code."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F821,F823", "-"],
        input=code,
        capture_output=True,
        text=True,
    )
