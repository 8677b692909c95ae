"""Lint or convert in a child process, so the caller survives whatever the notebook holds.

A long-running host (the JupyterLab server) must stay up and answer SIGTERM even when a
notebook makes a parser segfault or spin: `run_isolated` runs the work in
``python -m notebook2service.worker`` with a wall-clock timeout and an address-space limit
(``resource.setrlimit`` in the child), and turns a crash, a timeout or an exhausted memory
limit into `WorkerError`. Requests and answers are JSON on stdin/stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

TIMEOUT = 300.0  # seconds; NB2SVC_WORKER_TIMEOUT overrides
MEMORY_MB = 4096  # address space of the child; NB2SVC_WORKER_MEMORY_MB overrides


def _limits() -> tuple[float, int]:
    try:
        timeout = float(os.environ.get("NB2SVC_WORKER_TIMEOUT", TIMEOUT))
        memory = int(os.environ.get("NB2SVC_WORKER_MEMORY_MB", MEMORY_MB))
    except ValueError:
        return TIMEOUT, MEMORY_MB
    return timeout, memory


class WorkerError(Exception):
    """The work failed: `unprocessable` (bad notebook or output folder) or `crash`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _lint(req: dict[str, Any]) -> Any:
    from . import lint
    from .notebook import loads

    nb = loads(req["text"], path=req["path"])
    found = lint(nb, select=req.get("select"), ignore=req.get("ignore"))
    return [d.to_dict() for d in found]


def _convert(req: dict[str, Any]) -> Any:
    from .convert import convert
    from .notebook import loads

    nb = loads(req["text"], path=req["path"])
    return convert(nb, req["out_dir"], force=bool(req.get("force"))).manifest.to_dict()


VERBS = {"lint": _lint, "convert": _convert}


def handle(req: dict[str, Any]) -> dict[str, Any]:
    """One request, answered in this process (the child calls it)."""
    from .convert import ConvertError
    from .notebook import NotebookError
    from .output import OutputExistsError

    try:
        return {"ok": True, "result": VERBS[req["verb"]](req)}
    except (ConvertError, NotebookError, OutputExistsError) as exc:
        return {"ok": False, "kind": "unprocessable", "message": str(exc)}
    except (RecursionError, MemoryError) as exc:
        return {"ok": False, "kind": "unprocessable", "message": f"too complex ({exc!r})"}


def _limit_memory(mb: int) -> None:
    try:
        import resource
    except ImportError:  # not on Windows
        return
    limit = mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


async def run_isolated(
    req: dict[str, Any], timeout: float | None = None, memory_mb: int | None = None
) -> Any:
    """The result of `handle(req)` computed in a child process, or WorkerError."""
    default_timeout, default_memory = _limits()
    timeout = default_timeout if timeout is None else timeout
    memory_mb = default_memory if memory_mb is None else memory_mb
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "notebook2service.worker",
        str(memory_mb),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C or SIGTERM of the host does not reach it twice
    )
    data = json.dumps(req).encode("utf-8", "backslashreplace")
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise WorkerError("crash", f"took longer than {timeout:g} s; stopped") from None
    except asyncio.CancelledError:  # the host is shutting down or the client went away
        proc.kill()
        raise
    return _answer(proc.returncode, out, err, memory_mb)


def _answer(code: int | None, out: bytes, err: bytes, memory_mb: int) -> Any:
    try:
        answer = json.loads(out.decode("utf-8", "replace")) if code == 0 else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        if code is not None and code < 0:
            why = f"crashed (signal {-code})"
        elif "MemoryError" in last[0]:
            why = f"ran out of memory (limit {memory_mb} MB)"
        else:
            why = f"failed (exit {code}): {last[0][:300]}"
        raise WorkerError("crash", why)
    if not answer.get("ok"):
        raise WorkerError(str(answer.get("kind")), str(answer.get("message")))
    return answer.get("result")


def main() -> int:
    _limit_memory(int(sys.argv[1]) if len(sys.argv) > 1 else MEMORY_MB)
    req = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    answer = handle(req)
    sys.stdout.write(json.dumps(answer, default=str))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
