"""The container image: its base Python, building it (`nb2svc build`) and a local base image."""

from __future__ import annotations

import re
import sys
from typing import Any

__all__ = ["notebook_python"]

_VERSION = re.compile(r"^\s*(3)\.(\d{1,2})(?:\.\d+)?")


def notebook_python(metadata: Any) -> tuple[str, str]:
    """("3.10", where it came from): the Python the notebook ran on, for the image's base.

    Read from ``language_info.version`` (written by the kernel when the notebook ran), then a
    version in the kernelspec's name or display name ("Python 3.9"); else the converter's own.
    """
    md = metadata if isinstance(metadata, dict) else {}
    info = md.get("language_info") if isinstance(md.get("language_info"), dict) else {}
    spec = md.get("kernelspec") if isinstance(md.get("kernelspec"), dict) else {}
    for source, value in (
        ("language_info.version", info.get("version")),
        ("kernelspec.display_name", spec.get("display_name")),
        ("kernelspec.name", spec.get("name")),
    ):
        text = value if isinstance(value, str) else ""
        m = _VERSION.match(text) or re.search(r"(3)\.(\d{1,2})\b", text)
        if m and 8 <= int(m.group(2)) <= 20:
            return f"{m.group(1)}.{m.group(2)}", source
    return f"{sys.version_info.major}.{sys.version_info.minor}", "converter"
