"""Render Jinja templates from `templates/` and write output folders atomically.

Templates only render: every decision is made in Python before they are called.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from functools import lru_cache
from pathlib import Path

import jinja2


class OutputExistsError(Exception):
    """The output folder exists and --force was not given."""


def templates_dir() -> Path:
    """`notebook2service/templates` in a wheel; the repository's `templates/` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "package").is_dir():
            return candidate
    raise FileNotFoundError("nb2svc templates are missing from this installation")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = repr  # a Python literal in generated code (None, True, 'x', [..])
    return env


def render(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)


def write_tree(
    out_dir: str | Path,
    files: dict[str, str],
    *,
    force: bool = False,
    executable: frozenset[str] = frozenset(),
) -> None:
    """Write `files` (relative path -> text) as the folder `out_dir`, all or nothing.

    Everything is written to a temporary folder beside `out_dir` and renamed into place, so
    a failure never leaves a half-written package. An existing `out_dir` is replaced only with
    `force=True`.
    """
    out = Path(out_dir)
    if out.exists() and not force:
        raise OutputExistsError(f"{out} exists; use --force to replace it")
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for rel, text in files.items():
            target = tmp / rel
            if tmp.resolve() not in target.resolve().parents:
                raise ValueError(f"refusing to write outside the output folder: {rel}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
            if rel in executable:
                target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
