"""Jupyter Server endpoints: POST /nb2svc/lint and POST /nb2svc/convert.

* Every verb requires login (``@tornado.web.authenticated``) and the XSRF check of
  ``APIHandler``.
* Notebooks are read only through the contents manager (which keeps requests inside the
  server's root and answers 404 for missing files); paths that are absolute or contain ``..``
  are refused with 400 before the contents manager sees them.
* Linting and converting run in a child process with a timeout and a memory limit, so the
  server stays up and responsive whatever the notebook holds.
* Bad requests get 400, not 500: a body that is not a JSON object, a missing or non-notebook
  ``path``, an output folder outside the root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

import tornado.web
from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

NAMESPACE = "nb2svc"


def _clean_path(value: Any, what: str = "path") -> str:
    """A root-relative API path (forward slashes), or HTTPError 400."""
    if not isinstance(value, str) or not value.strip():
        raise tornado.web.HTTPError(400, f"`{what}` must be a non-empty string")
    raw = value.strip().replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise tornado.web.HTTPError(400, f"`{what}` must be relative to the server root")
    parts = PurePosixPath(raw).parts
    if ".." in parts:
        raise tornado.web.HTTPError(400, f"`{what}` must not contain '..'")
    return "/".join(p for p in parts if p not in ("", "."))


def _package_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the Convert dialog shows: model, parameters, channels, steps, warnings."""
    from notebook2service.manifest import Manifest

    typed = Manifest.from_dict(manifest)  # the one manifest type, as convert wrote it
    sm = typed.sagemaker if isinstance(typed.sagemaker, dict) else {}
    findings = [f.to_dict() for f in typed.findings]
    return {
        "package": typed.package,
        "entrypoint": typed.entrypoint,
        "model": sm.get("model"),
        "model_cell": sm.get("model_cell"),
        "channels": sm.get("channels") or [],
        "hyperparameters": sm.get("hyperparameters") or [],
        "parameters": typed.parameters,
        "steps": [
            {"function": s.get("function"), "cells": s.get("cells")}
            for s in typed.steps
            if isinstance(s, dict)
        ],
        "requirements": [
            r.get("name") + (r.get("specifier") or "")
            for r in typed.requirements
            if isinstance(r, dict) and isinstance(r.get("name"), str)
        ],
        "findings": findings,  # SageMaker decisions are findings too (code "sagemaker")
        "warnings": [f for f in findings if f.get("severity") in ("warning", "error")],
    }


class _Base(APIHandler):
    async def _off_loop(
        self, req: dict[str, Any], path: str, verb: str, done: str
    ) -> tuple[bool, Any]:
        """Run the library call in a child process (notebook2service.worker: a timeout and a
        memory limit), so no notebook can crash, hang or starve the server; failures become
        422 or 500 responses."""
        from notebook2service.worker import WorkerError, run_isolated

        try:
            return True, await run_isolated({"verb": verb, **req})
        except WorkerError as exc:
            if exc.kind == "unprocessable":
                self._fail(422, f"{path} cannot be {done}: {exc}")
            else:
                self.log.error("nb2svc %s on %s: %s", verb, path, exc)
                self._fail(500, f"nb2svc {verb} {exc} on {path}")
        except Exception as exc:  # a bug in nb2svc: say so, with the cause, in the UI
            self.log.exception("nb2svc %s failed on %s", verb, path)
            self._fail(500, f"nb2svc {verb} failed on {path}: {type(exc).__name__}: {exc}")
        return False, None

    def _body(self) -> dict[str, Any]:
        from notebook2service.notebook import NotebookError, check_json_bounds

        try:
            check_json_bounds(self.request.body or b"{}", max_depth=64)
            body = json.loads(self.request.body or b"{}")
        except (ValueError, RecursionError, NotebookError):
            raise tornado.web.HTTPError(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise tornado.web.HTTPError(400, "the request body must be a JSON object")
        return body

    async def _read_notebook(self, body: dict[str, Any]) -> tuple[str, str, Path | None]:
        """(api path, file text, OS path when the contents manager has one)."""
        path = _clean_path(body.get("path"))
        if not path.endswith(".ipynb"):
            raise tornado.web.HTTPError(400, "`path` must name a .ipynb notebook")
        cm = self.contents_manager
        model = await ensure_async(cm.get(path, type="file", format="text", content=True))
        text = model.get("content")
        if not isinstance(text, str):
            raise tornado.web.HTTPError(400, f"{path} is not a text file")
        os_path = None
        root = getattr(cm, "root_dir", None)
        if root:
            os_path = Path(root, *PurePosixPath(path).parts)
        return path, text, os_path

    def _fail(self, status: int, message: str, **extra: Any) -> None:
        self.set_status(status)
        self.finish(json.dumps({"message": message, **extra}))


class LintHandler(_Base):
    @tornado.web.authenticated
    async def post(self) -> None:
        body = self._body()
        path, text, os_path = await self._read_notebook(body)
        select = body.get("select")
        ignore = body.get("ignore")
        for name, value in (("select", select), ("ignore", ignore)):
            if value is not None and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                raise tornado.web.HTTPError(400, f"`{name}` must be a list of rule codes")

        req = {
            "text": text,
            "path": str(os_path) if os_path else path,
            "select": select,
            "ignore": ignore,
        }
        ok, diagnostics = await self._off_loop(req, path, "lint", "linted")
        if not ok:
            return None
        for item in diagnostics:
            item["path"] = path
        counts = {
            s: sum(1 for d in diagnostics if d["severity"] == s)
            for s in ("error", "warning", "info")
        }
        self.finish(json.dumps({"path": path, "diagnostics": diagnostics, "counts": counts}))


class ConvertHandler(_Base):
    @tornado.web.authenticated
    async def post(self) -> None:
        body = self._body()
        path, text, os_path = await self._read_notebook(body)
        cm = self.contents_manager
        root = getattr(cm, "root_dir", None)
        if not root or os_path is None:
            return self._fail(501, "converting needs a contents manager that stores files on disk")
        root_path = Path(root).resolve()
        output = body.get("output")
        if output is None:
            folder = PurePosixPath(path).parent
            stem = PurePosixPath(path).stem
            out_rel = (folder / "build" / _default_package(stem)).as_posix()
        else:
            out_rel = _clean_path(output, "output")
        if not out_rel:
            raise tornado.web.HTTPError(400, "`output` must name a folder below the server root")
        out_dir = (root_path / out_rel).resolve()
        if root_path not in out_dir.parents:
            raise tornado.web.HTTPError(400, "`output` must be a folder below the server root")
        from notebook2service.output import OutputExistsError, check_output_dir

        try:  # the library's one output-folder rule (the CLI's --force rule)
            check_output_dir(out_dir, os_path, force=True)
        except OutputExistsError as exc:
            return self._fail(409, f"{out_rel}: {exc}")

        req = {"text": text, "path": str(os_path), "out_dir": str(out_dir), "force": True}
        ok, manifest = await self._off_loop(req, path, "convert", "converted")
        if not ok:
            return None
        summary = _package_summary(manifest)
        self.finish(
            json.dumps(
                {
                    "path": path,
                    "output": out_rel,
                    "manifest": f"{out_rel}/nb2svc.json",
                    "run": f"PYTHONPATH={os.path.relpath(out_dir, os_path.parent)} "
                    f"python -m {summary['package']}",
                    **summary,
                },
                default=str,
            )
        )


def _default_package(stem: str) -> str:
    from notebook2service.staleness import _default_package as name

    return name(stem)


def setup_handlers(web_app) -> None:  # type: ignore[no-untyped-def]
    base_url = web_app.settings["base_url"]
    handlers = [
        (url_path_join(base_url, NAMESPACE, "lint"), LintHandler),
        (url_path_join(base_url, NAMESPACE, "convert"), ConvertHandler),
    ]
    web_app.add_handlers(".*$", handlers)
