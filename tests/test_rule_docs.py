"""Rules document themselves: four-part docs, `nb2svc rule`, the README table from the
registry, and each documented example notebook produces its rule's finding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from notebook2service.cli import main
from notebook2service.linter import lint
from notebook2service.linter.messages import MESSAGES
from notebook2service.linter.registry import RULES
from notebook2service.linter.ruledocs import docs, rules_table
from notebook2service.linter.rules import CHECKS

DOCS = docs()

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


def ref(index: int, count: int | None = None, id: str | None = None) -> dict:
    """A cell as a finding's args hold it (`CellRef.to_dict()`)."""
    return {"index": index, "id": id, "execution_count": count}


# The documented examples that are plain notebooks, and the findings of their rule in them:
# code → [(cell, args)], compared exactly.
EXAMPLES = {
    "NB001": [(1, {"cell": ref(1, id="c0"), "error": "expected ':'"})],
    "NB101": [(2, {"cell": ref(2, 1, "c1"), "above": ref(1, 2, "c0")})],
    "NB102": [(2, {"cell": ref(2, id="c1"), "cells_below_ran": True})],
    "NB103": [(1, {"name": "total", "via": None, "later": 2, "same_cell": None})],
    "NB104": [(2, {"name": "xs", "via": None, "deleted_in": None, "missing": [2, 3]})],
    "NB105": [(2, {"missing": [2, 3, 4]})],
    "NB106": [
        (
            2,
            {
                "cell": ref(2, 3, "c1"),
                "name": "x",
                "modified": False,
                "saved": ref(3, 2, "c2"),
                "topdown": ref(1, 1, "c0"),
            },
        )
    ],
    "NB107": [(3, {"cell": ref(3, id="c2"), "name": "items", "how": ".append()", "readers": [2]})],
    "NB108": [(1, {"cell": ref(1, id="c0"), "name": "count", "how": "`count = …count…`"})],
    "NB201": [
        (1, {"syntax": "!pip install pandas", "magic": "shell", "effect": "install"}),
        (1, {"syntax": "%run", "magic": "run", "effect": "run"}),
    ],
    "NB202": [(1, {"name": "_", "called": False}), (1, {"name": "input", "called": True})],
    "NB203": [(1, {"form": "absolute", "path": "/Users/ana/data/train.csv"})],
    "NB204": [(1, {"call": "np.random.rand", "problem": "numpy-global"})],
    "NB205": [(1, {"module": "math"})],
    "NB207": [(2, {"call": "est.deploy", "creates": "endpoint"})],
    "NB301": [(1, {"secret": "a GitHub token", "target": None, "output_of": None})],
}

# Fixture notebooks (tests/rule_fixtures/CODE-*.ipynb) for what a `# %%` example cannot
# express: the file's structure, saved outputs, the JupyterLab extension's run records.
FIXTURES = Path(__file__).resolve().parent / "rule_fixtures"
FIXTURE_FINDINGS = {
    "NB002-missing-cell-id": [(2, {"cell": ref(2, 2), "minor": 5})],
    "NB003-duplicate-cell-id": [
        (3, {"cell": ref(3, 3, "cell-0"), "cell_id": "cell-0", "first": 1})
    ],
    "NB004-invalid-cell": [
        (2, {"cell": ref(2), "problem": "not-an-object"}),
        (3, {"cell": ref(3, id="c2"), "problem": "no-cell-type"}),
    ],
    "NB102-unexecuted-cell": [
        (2, {"cell": ref(2, id="cell-1"), "cells_below_ran": True}),
        (4, {"cell": ref(4, id="cell-3"), "cells_below_ran": False}),
    ],
    "NB106-replay-divergence": [
        (
            2,
            {
                "cell": ref(2, 3, "cell-1"),
                "name": "x",
                "modified": False,
                "saved": ref(3, 2, "cell-2"),
                "topdown": ref(1, 1, "cell-0"),
            },
        )
    ],
    "NB109-cell-edited-after-run": [(2, {"cell": ref(2, 2, "cell-1")})],
    "NB110-stale-kernel-output": [
        (1, {"cell": ref(1, 1, "cell-0"), "latest": ref(3, 1, "cell-2")}),
        (2, {"cell": ref(2, 2, "cell-1"), "latest": ref(3, 1, "cell-2")}),
    ],
    "NB206-stored-error": [
        (
            2,
            {
                "cell": ref(2, 2, "cell-1"),
                "ename": "ZeroDivisionError",
                "evalue": "division by zero",
            },
        )
    ],
    "NB207-boto3-endpoint": [(1, {"call": "sm.create_endpoint", "creates": "endpoint"})],
}


def _findings(source: object, code: str) -> list:
    return [d for d in lint(source, config=False) if d.code == code]


def _shape(findings: list) -> list[tuple[int, dict]]:
    return [(d.cell.index, dict(d.args)) for d in findings]


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_documented_example_produces_the_finding(code: str) -> None:
    assert _shape(_findings(_notebook(DOCS[code].example), code)) == EXAMPLES[code]


@pytest.mark.parametrize("name", sorted(FIXTURE_FINDINGS))
def test_fixture_notebook_produces_the_findings(name: str) -> None:
    found = _findings(str(FIXTURES / f"{name}.ipynb"), name[:5])
    assert _shape(found) == FIXTURE_FINDINGS[name]


def test_every_rule_has_a_fixture() -> None:
    on_disk = {p.stem for p in FIXTURES.glob("*.ipynb")}
    assert on_disk == set(FIXTURE_FINDINGS)
    covered = set(EXAMPLES) | {name[:5] for name in FIXTURE_FINDINGS}
    assert covered == set(RULES)


def test_every_rule_has_message_classes_and_each_check_one_code() -> None:
    assert set(MESSAGES) == set(RULES)
    assert sorted(code for code, _ in CHECKS) == sorted(
        set(RULES) - {"NB001", "NB002", "NB003", "NB004"}
    )


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_message_is_its_template_filled_from_args(code: str) -> None:
    """The args carry everything the message says: the rule's message class rebuilds it."""
    for d in _findings(_notebook(DOCS[code].example), code):
        assert str(MESSAGES[code].from_args(d.args)) == d.message
