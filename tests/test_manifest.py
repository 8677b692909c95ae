"""The manifest: one type, a published versioned JSON Schema generated from it, one
serialisation, read back through the same type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notebook2service.convert import convert
from notebook2service.manifest import SCHEMA_PATH, Manifest, ManifestError, json_schema

SAMPLES = Path(__file__).resolve().parent.parent / "sample_notebooks"


def test_published_schema_is_generated_from_the_type() -> None:
    published = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert published == json_schema(), "regenerate schema/manifest-1.json from json_schema()"


def test_written_manifest_validates_and_round_trips(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    result = convert(SAMPLES / "churn_classification.ipynb", tmp_path / "out")
    written = json.loads((tmp_path / "out" / "nb2svc.json").read_text(encoding="utf-8"))
    jsonschema.validate(written, json_schema())
    assert written == json.loads(result.manifest.dumps())
    again = Manifest.read(tmp_path / "out" / "nb2svc.json")
    assert json.loads(again.dumps()) == written
    assert again.findings and all(f.code for f in again.findings)


def test_not_a_manifest_is_a_manifest_error(tmp_path: Path) -> None:
    for text in ("[]", '{"nb2svc": "1"}', "{not json", '{"package": "p", "manifest_version": 99}'):
        (tmp_path / "nb2svc.json").write_text(text, encoding="utf-8")
        with pytest.raises(ManifestError):
            Manifest.read(tmp_path / "nb2svc.json")


def test_odd_findings_in_a_manifest_read_without_a_crash(tmp_path: Path) -> None:
    from notebook2service.output import read_manifest

    odd = {"code": "X", "related_cells": 5, "args": [1]}
    data = {"package": "p", "nb2svc": "1", "written": ["a.py"], "findings": [odd]}
    (tmp_path / "nb2svc.json").write_text(json.dumps(data), encoding="utf-8")
    (finding,) = Manifest.read(tmp_path / "nb2svc.json").findings
    assert finding.related == () and finding.args == {}
    manifest = read_manifest(tmp_path)  # the output-folder rule reads it through the same type
    assert isinstance(manifest, Manifest) and manifest.written == ["a.py"]
