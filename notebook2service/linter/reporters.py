"""Reporters: text (like ruff), json, sarif 2.1.0 and GitHub workflow annotations."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .. import __version__
from ..findings import Finding
from .registry import RULES
from .runner import FileResult

_LEVEL_SARIF = {"error": "error", "warning": "warning", "info": "note"}
_LEVEL_GITHUB = {"error": "error", "warning": "warning", "info": "notice"}


def _diagnostics(results: Sequence[FileResult]) -> list[Finding]:
    out = [d for r in results for d in r.diagnostics]
    out.sort(key=Finding.sort_key)
    return out


def text(results: Sequence[FileResult], out: TextIO, fix_hint: bool = True) -> None:
    diags = _diagnostics(results)
    for d in diags:
        where = f"cell {d.cell.index}:{d.line}:{d.column}" if d.cell else f"{d.line}:{d.column}"
        mark = " [*]" if d.fixable and fix_hint else ""
        out.write(f"{d.path}:{where}: {d.code}{mark} {d.message}\n")
    if diags:
        counts = {s: sum(1 for d in diags if d.severity == s) for s in ("error", "warning", "info")}
        detail = ", ".join(
            f"{n} {s}{'s' if n != 1 and s != 'info' else ''}" for s, n in counts.items() if n
        )
        out.write(f"Found {len(diags)} finding{'s' if len(diags) != 1 else ''} ({detail}).\n")
        fixable = sum(1 for d in diags if d.fixable)
        if fixable and fix_hint:
            out.write(f"[*] {fixable} fixable with the `--fix` option.\n")
    else:
        checked = sum(1 for r in results if not r.error and not r.skipped)
        if checked:
            out.write(f"All checks passed ({checked} notebook{'s' if checked != 1 else ''}).\n")


def json_(results: Sequence[FileResult], out: TextIO) -> None:
    json.dump([d.to_dict() for d in _diagnostics(results)], out, indent=2)
    out.write("\n")


def sarif(results: Sequence[FileResult], out: TextIO) -> None:
    codes = sorted(RULES)
    index = {c: i for i, c in enumerate(codes)}
    rules = [_sarif_rule(RULES[c]) for c in codes]
    sarif_results = [_sarif_result(d, index[d.code]) for d in _diagnostics(results)]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nb2svc",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/notebook2service/",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": sarif_results,
            }
        ],
    }
    json.dump(doc, out, indent=2)
    out.write("\n")


def _sarif_rule(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "defaultConfiguration": {"level": _LEVEL_SARIF[rule.severity]},
        "properties": {"kind": rule.kind},
    }


def _sarif_result(d: Finding, rule_index: int) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": d.path.replace("\\", "/")},
            "region": {"startLine": d.file_line or 1},
        }
    }
    if d.cell:
        location["logicalLocations"] = [
            {
                "name": f"cell {d.cell.index}",
                "kind": "cell",
                "fullyQualifiedName": f"{d.path}:cell {d.cell.index}",
            }
        ]
    return {
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": _LEVEL_SARIF[d.severity],
        "message": {"text": d.message},
        "locations": [location],
        "properties": {
            "kind": d.kind,
            "severity": d.severity,
            "cell": d.cell.to_dict() if d.cell else None,
            "cellLine": d.line,
            "cellColumn": d.column,
            "relatedCells": list(d.related),
        },
    }


def _gh_escape(value: str, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github(results: Sequence[FileResult], out: TextIO) -> None:
    """`::error file=…,line=…::…` with the line in the .ipynb file, so it lands on the cell."""
    for d in _diagnostics(results):
        level = _LEVEL_GITHUB[d.severity]
        cell = f"cell {d.cell.index}:{d.line}:{d.column}" if d.cell else f"{d.line}:{d.column}"
        props = f"file={_gh_escape(d.path, True)},line={d.file_line or 1}"
        title = _gh_escape(f"{d.code} {d.name}", True)
        out.write(
            f"::{level} {props},title={title}::{_gh_escape(f'{d.code} {d.message} ({cell})')}\n"
        )


REPORTERS: dict[str, Callable[[Sequence[FileResult], TextIO], None]] = {
    "text": text,
    "json": json_,
    "sarif": sarif,
    "github": github,
}
