"""The library's own shape: no function over 60 lines (read the pipeline in one screen)."""

from __future__ import annotations

import ast
from pathlib import Path

import notebook2service

LIMIT = 60


def long_functions(root: Path, limit: int = LIMIT) -> list[tuple[str, int]]:
    out = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    out.append(
                        (f"{path.relative_to(root.parent)}:{node.lineno} {node.name}", length)
                    )
    return out


def test_long_functions_are_found(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text("def f():\n" + "    x = 1\n" * 70 + "\ndef g():\n    pass\n")
    assert [name for name, _ in long_functions(pkg)] == ["pkg/m.py:1 f"]


def test_no_library_function_is_over_60_lines() -> None:
    root = Path(notebook2service.__file__).parent
    assert long_functions(root) == []
