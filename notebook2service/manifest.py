"""`Manifest`: the one type of `nb2svc.json`, what a converted package was made from.

Written by `convert` (`Manifest.dumps`, the only serialisation) and read back through
`Manifest.from_dict` / `Manifest.read` by `check-converted`, verify and the JupyterLab
handler. Its JSON Schema (`schema/manifest-<version>.json`) is generated from this type
(`json_schema()`); a test keeps the published file equal to it.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .findings import CellRef, Finding
from .notebook import read_json

RUNTIME_DISTRIBUTION = "nb2svc-runtime"


@functools.cache
def runtime_version() -> str | None:
    """The installed nb2svc-runtime's version (None where it is not installed); the manifest's
    `runtime` records it and check-converted compares against it (no rendering stack needed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(RUNTIME_DISTRIBUTION)
    except PackageNotFoundError:
        return None


VERSION = 1
FILENAME = "nb2svc.json"
SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / f"manifest-{VERSION}.json"


class ManifestError(ValueError):
    """Not an nb2svc manifest (or not one this version can read)."""


@dataclass
class Manifest:
    nb2svc: str  # the nb2svc version that wrote it
    package: str
    notebook: str
    notebook_sha256: str | None = None  # the notebook file's bytes
    code_sha256: str | None = None  # the notebook's code only (outputs do not count)
    notebook_path: str | None = None  # relative to the manifest's folder
    entrypoint: str = ""
    cells: list[dict[str, Any]] = field(default_factory=list)  # index, id, count, target
    steps: list[dict[str, Any]] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    module_level: list[str] = field(default_factory=list)
    shared_globals: list[str] = field(default_factory=list)
    ipython: list[dict[str, Any]] = field(default_factory=list)  # what became of IPython syntax
    data_acquisition: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # %%writefile targets
    requirements: list[dict[str, Any]] = field(default_factory=list)
    line_map: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sagemaker: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)  # the Python the image runs
    written: list[str] = field(default_factory=list)  # the files --force may replace
    runtime: dict[str, Any] | None = None  # the serving runtime the package runs on
    manifest_version: int = VERSION

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["findings"] = [f.to_dict() for f in self.findings]
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """A manifest from parsed JSON; fields older manifests lack get their defaults."""
        if not isinstance(data, dict) or not isinstance(data.get("package"), str):
            raise ManifestError("not an nb2svc manifest")
        version = data.get("manifest_version", VERSION)
        if not isinstance(version, int) or version > VERSION:
            raise ManifestError(f"manifest version {version!r} is newer than this nb2svc reads")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("nb2svc", "")
        values.setdefault("notebook", "")
        raw = values.get("findings")
        values["findings"] = [
            Finding.from_dict(f) for f in (raw if isinstance(raw, list) else []) if _finding(f)
        ]
        return cls(**values)

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        try:
            return cls.from_dict(read_json(path))  # size and depth bounded before parsing
        except (OSError, ValueError) as exc:
            raise ManifestError(str(exc)) from None


def _finding(f: Any) -> bool:
    return isinstance(f, dict) and isinstance(f.get("code"), str)


# -- JSON Schema, generated from the types ---------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema (draft 2020-12), from `Manifest` and `Finding`."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://pypi.org/project/notebook2service/schema/manifest-{VERSION}.json",
        "title": "nb2svc.json: what a converted package was made from",
        **_object(Manifest, required={"nb2svc", "package", "notebook"}),
        "$defs": {
            "Finding": _object(Finding, required={"code", "message"}, rename=_FINDING_KEYS),
            "CellRef": _object(CellRef, required={"index"}),
        },
    }


_FINDING_KEYS = {"related": "related_cells"}


def _object(cls: type, required: set[str], rename: dict[str, str] | None = None) -> dict:
    hints = typing.get_type_hints(cls)
    props = {
        (rename or {}).get(f.name, f.name): _schema(hints[f.name]) for f in dataclasses.fields(cls)
    }
    return {"type": "object", "properties": props, "required": sorted(required)}


def _schema(hint: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema(a) for a in args]}
    if hint in (Finding, CellRef):
        return {"$ref": f"#/$defs/{hint.__name__}"}
    if origin in (list, tuple) or hint in (list, tuple):
        return {"type": "array", "items": _schema(args[0])} if args else {"type": "array"}
    if origin in (dict, collections.abc.Mapping) or hint is dict:
        return {"type": "object", "additionalProperties": _schema(args[1])} if args else {}
    simple = {str: "string", int: "integer", bool: "boolean", float: "number", type(None): "null"}
    return {"type": simple[hint]} if hint in simple else {}
