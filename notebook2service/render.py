"""Render Jinja templates from `templates/`; output folders are written by `output.py`.

Templates only render: every decision is made in Python before they are called.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from .output import OutputExistsError, write_tree  # noqa: F401  (the one rule, re-exported)


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
