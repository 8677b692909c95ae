"""Each rule's documentation in four parts, the way ruff documents its rules: what it does,
why it matters, an example notebook (cells separated by `# %%`), and what to do instead.

The text is the docstring of the rule's message class (`messages`), in sections headed
`## What it does`, `## Why it matters`, `## Example` (a fenced block) and `## Instead`.
`nb2svc rule CODE` prints one; `nb2svc rules` and the README's rules table are generated from
the registry (`rules.RULES`), whose `summary` is the docstring's first paragraph.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from dataclasses import dataclass
from functools import cache

from .messages import MESSAGES
from .registry import RULES


@dataclass(frozen=True)
class RuleDoc:
    what: str
    why: str
    example: str
    instead: str


_SECTIONS = {
    "What it does": "what",
    "Why it matters": "why",
    "Example": "example",
    "Instead": "instead",
}
_FENCE = re.compile(r"^```\w*\n(.*?)^```", re.S | re.M)


@cache
def doc_of(code: str) -> RuleDoc:
    """`code`'s documentation, read from its message class's docstring."""
    text = inspect.cleandoc(MESSAGES[code].__doc__ or "")
    parts = re.split(r"^## (.+)\n", text, flags=re.M)
    found = {
        _SECTIONS[h.strip()]: body.strip() for h, body in zip(parts[1::2], parts[2::2], strict=True)
    }
    fence = _FENCE.search(found.get("example", ""))
    found["example"] = fence.group(1).rstrip("\n") if fence else found.get("example", "")
    prose = {k: " ".join(v.split()) for k, v in found.items() if k != "example"}
    return RuleDoc(prose["what"], prose["why"], found["example"], prose["instead"])


def docs() -> dict[str, RuleDoc]:
    """Every rule's documentation, by code."""
    return {code: doc_of(code) for code in sorted(MESSAGES)}


def rule_text(code: str) -> str:
    """One rule's documentation as `nb2svc rule CODE` prints it."""
    rule, doc = RULES[code], doc_of(code)
    fix = "; fixable with --fix" if rule.fixable else ""
    example = "\n".join("    " + line for line in doc.example.splitlines())
    return (
        f"{rule.code} {rule.name} ({rule.kind}, {rule.severity}{fix})\n\n"
        f"What it does\n{_wrap(doc.what)}\n\nWhy it matters\n{_wrap(doc.why)}\n\n"
        f"Example\n{example}\n\nInstead\n{_wrap(doc.instead)}\n"
    )


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=88, initial_indent="    ", subsequent_indent="    ")


def rules_table() -> str:
    """The README's rules table (markdown), from the registry."""
    rows = ["| code | kind | severity | what it finds |", "|---|---|---|---|"]
    rows += [f"| {r.code} | {r.kind} | {r.severity} | {r.summary} |" for r in RULES.values()]
    return "\n".join(rows) + "\n"
