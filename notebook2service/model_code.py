"""`<pkg>/model_code.py`: the notebook's classes and functions, importable without the notebook.

A model that references a notebook-defined class (a custom transformer inside a Pipeline) or a
feature helper is saved with that class's module path. When it lives in ``pipeline.py``,
loading the model for serving imports the whole notebook (its plotting and exploration
imports included); when it lived in ``__main__`` it cannot be loaded at all ("Can't get
attribute ... on <module '__main__'>"). So every module-level definition that needs only
imports, builtins and other such definitions moves to ``model_code.py`` with just the imports
it uses; ``pipeline.py`` imports them back from there. Serving imports ``model_code`` only.

    split = split_definitions(import_lines, definition_blocks)
    split.module        # model_code.py's text ("" when nothing moves)
    split.kept          # blocks that stay in pipeline.py (they read notebook globals)
    split.kept_at       # their places in definition_blocks
    model_code_import(split.moved)  # the libcst node `from .model_code import A, b`
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

import libcst as cst

__all__ = ["Split", "model_code_import", "split_definitions"]

_BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__"}


@dataclass
class Split:
    module: str = ""
    kept: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # names defined in model_code.py
    kept_at: list[int] = field(default_factory=list)  # the kept blocks' places in the input


def model_code_import(names: list[str]) -> cst.SimpleStatementLine:
    """`from .model_code import A, b  # noqa: F401`: pipeline.py imports the moved names back."""
    comment = cst.TrailingWhitespace(cst.SimpleWhitespace("  "), cst.Comment("# noqa: F401"))
    return cst.SimpleStatementLine(
        [
            cst.ImportFrom(
                module=cst.Name("model_code"),
                names=[cst.ImportAlias(cst.Name(n)) for n in names],
                relative=[cst.Dot()],
            )
        ],
        trailing_whitespace=comment,
    )


def _bound_by_import(line: str) -> set[str]:
    try:
        tree = ast.parse(line)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                if a.name != "*":
                    names.add(a.asname or a.name.split(".")[0])
    return names


def _defined_and_free(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(top-level names the block defines, names it reads that nothing inside binds)."""
    defined = {
        n.name
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    defined |= {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    loads: set[str] = set()
    stores: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else stores).add(node.id)
        elif isinstance(node, ast.arg):
            stores.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stores.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stores |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            return defined, {"<global statement>"}  # rebinds module state: stays
    return defined, loads - stores - _BUILTINS


def _parse(block: str) -> ast.Module | None:
    try:
        return ast.parse(block)
    except (SyntaxError, ValueError, RecursionError):
        return None


def _only_needed_constants(
    blocks: list[str], info: list[tuple[set[str], set[str]]], movable: list[bool]
) -> list[bool]:
    """A block of constants (no def or class: lift/constants.py) moves only when a moved
    function or class reads it; the rest of the notebook's constants stay in pipeline.py."""
    trees = [_parse(b) for b in blocks]
    constant = [
        t is not None
        and not any(
            isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in t.body
        )
        for t in trees
    ]
    needed = {
        n
        for (_, free), m, c in zip(info, movable, constant, strict=True)
        if m and not c
        for n in free
    }
    keep = [m and not c for m, c in zip(movable, constant, strict=True)]
    changed = True
    while changed:  # constants the needed constants read are needed too
        changed = False
        for i, (defined, free) in enumerate(info):
            if movable[i] and constant[i] and not keep[i] and defined & needed:
                keep[i], changed = True, True
                needed |= free
    return keep


def split_definitions(import_lines: list[str], blocks: list[str]) -> Split:
    """Which definition blocks move to model_code.py, and that module's text."""
    provided: dict[str, str] = {}
    for line in import_lines:
        if line.startswith("from __future__"):
            continue
        for name in _bound_by_import(line):
            provided.setdefault(name, line)
    info = []
    for block in blocks:
        tree = _parse(block)
        info.append(_defined_and_free(tree) if tree is not None else (set(), {"<unparsable>"}))
    movable = [bool(defined) for defined, _ in info]
    changed = True
    while changed:  # a block moves when all it reads is imports, builtins or moved blocks
        changed = False
        moved_names = {n for (d, _), m in zip(info, movable, strict=True) if m for n in d}
        for i, (_, free) in enumerate(info):
            if movable[i] and not free <= set(provided) | moved_names:
                movable[i], changed = False, True
    movable = _only_needed_constants(blocks, info, movable)
    split = Split()
    used: set[str] = set()
    for i, (block, (defined, free), move) in enumerate(zip(blocks, info, movable, strict=True)):
        if move:
            split.moved += sorted(defined)
            used |= free
            split.module += "\n\n" + block.strip() + "\n"
        else:
            split.kept.append(block)
            split.kept_at.append(i)
    if not split.moved:
        return Split(kept=list(blocks), kept_at=list(range(len(blocks))))
    imports = [ln for ln in import_lines if ln.startswith("from __future__")]
    imports += list(dict.fromkeys(provided[n] for n in sorted(used) if n in provided))
    head = (
        '"""The notebook\'s classes and functions the model and its features need (generated by '
        'nb2svc).\n\nServing imports this module, never pipeline.py."""\n\n'
    )
    split.module = head + "\n".join(imports) + "\n" + split.module
    return split
