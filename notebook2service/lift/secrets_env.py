"""Secret literals in code become environment reads: `password = "..."` → `os.environ["PASSWORD"]`.

A string literal is a secret when `redact.find_secrets` flags it, or when it is bound to a
secret-like name (an assignment target or a keyword argument). Built with libcst nodes.
"""

from __future__ import annotations

import re

import libcst as cst

from ..redact import find_secrets, is_secret_name
from .glue import quoted


def _env_name(name: str) -> str:
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).upper()


def _environ(name: str) -> cst.Subscript:
    return cst.Subscript(
        cst.Attribute(cst.Name("os"), cst.Name("environ")),
        [cst.SubscriptElement(cst.Index(quoted(_env_name(name))))],
    )


def _is_secret_literal(node: cst.BaseExpression, name: str) -> bool:
    if not isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return False
    value = node.evaluated_value
    if not isinstance(value, str) or not value.strip():
        return False
    return bool(find_secrets(value)) or (
        is_secret_name(name) and bool(find_secrets(f"{name} = {value!r}"))
    )


class _FromEnv(cst.CSTTransformer):
    def __init__(self) -> None:
        self.names: list[str] = []

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        if len(updated.targets) == 1 and isinstance(updated.targets[0].target, cst.Name):
            name = updated.targets[0].target.value
            if _is_secret_literal(updated.value, name):
                self.names.append(_env_name(name))
                return updated.with_changes(value=_environ(name))
        return updated

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        if updated.keyword is not None and _is_secret_literal(updated.value, updated.keyword.value):
            self.names.append(_env_name(updated.keyword.value))
            return updated.with_changes(value=_environ(updated.keyword.value))
        return updated


def secrets_from_env(source: str) -> tuple[str, list[str]]:
    """`source` with secret literals read from the environment, and the variables it reads."""
    if not find_secrets(source):
        return source, []
    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return source, []
    visitor = _FromEnv()
    new = module.visit(visitor)
    return new.code, visitor.names
