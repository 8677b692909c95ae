"""The rule registry: every rule's `Rule`, by code, read from the rule classes the rule
families define next to their checks (`checker`, `hidden_state`, `kernel_records`,
`production`)."""

from __future__ import annotations

from . import checker  # noqa: F401  (imports every rule family, so every rule class exists)
from .messages import MESSAGES
from .rules import Rule

RULES: dict[str, Rule] = {code: Rule.of(MESSAGES[code]) for code in sorted(MESSAGES)}
