"""Rules document themselves: four-part docs, `nb2svc rule`, the README table from the
registry, and each documented example notebook produces its rule's finding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from notebook2service.cli import main
from notebook2service.linter import lint
from notebook2service.linter.ruledocs import DOCS, rules_table
from notebook2service.linter.rules import RULES

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_rule_has_a_four_part_doc() -> None:
    assert set(DOCS) == set(RULES)
    for code, doc in DOCS.items():
        assert all((doc.what, doc.why, doc.example, doc.instead)), code


def test_readme_rules_table_is_the_registry() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("| code | kind | severity | what it finds |")
    end = text.index("\n\n", start)
    assert text[start : end + 1] == rules_table(), "regenerate with rules_table()"


def test_rule_command_prints_the_doc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "NB103"]) == 0
    out = capsys.readouterr().out
    for heading in ("What it does", "Why it matters", "Example", "Instead"):
        assert f"\n{heading}\n" in out
    assert out.startswith("NB103 use-before-definition (hidden-state, error)")
    assert main(["rule", "NB999"]) == 2


def _notebook(example: str) -> dict:
    """The doc's example as a notebook: `# %%` starts a cell, `In[k]` its execution count."""
    cells = []
    for chunk in re.split(r"^# %%", example, flags=re.M)[1:]:
        header, _, source = chunk.partition("\n")
        m = re.search(r"In\[(\d+)\]", header)
        cells.append(
            {
                "cell_type": "code",
                "id": f"c{len(cells)}",
                "metadata": {},
                "execution_count": int(m.group(1)) if m else None,
                "outputs": [],
                "source": source,
            }
        )
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


# the documented examples that are plain notebooks: code → (cell, args) expected
EXAMPLES = {
    "NB001": (1, {}),
    "NB101": (2, {}),
    "NB103": (1, {"name": "total", "later": 2}),
    "NB104": (2, {"name": "xs"}),
    "NB105": (2, {}),
    "NB107": (3, {}),
    "NB108": (1, {}),
    "NB201": (1, {}),
    "NB202": (1, {}),
    "NB203": (1, {}),
    "NB204": (1, {}),
    "NB205": (1, {}),
    "NB301": (1, {}),
}


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_documented_example_produces_the_finding(code: str) -> None:
    cell, args = EXAMPLES[code]
    found = [d for d in lint(_notebook(DOCS[code].example), config=False) if d.code == code]
    assert found, code
    assert found[0].cell.index == cell
    assert {k: found[0].args.get(k) for k in args} == args
