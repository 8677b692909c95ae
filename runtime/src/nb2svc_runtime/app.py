"""The serving app: a raw ASGI application around the SageMaker handlers.

HTTP parsing and framing belong to the server (uvicorn + httptools); this module only routes:

* `GET /ping` answers on the event loop (never behind model work): 200 once `model_fn` has
  loaded the model, 503 before or when loading failed;
* `POST /invocations` (and boto3's own path `POST /endpoints/<name>/invocations`) runs
  input_fn -> predict_fn -> output_fn on the worker's main thread (`ModelRunner`; the event
  loop runs in a second thread), one model call at a time, while the loop keeps reading
  requests and answering /ping;
* `SAGEMAKER_MODEL_SERVER_TIMEOUT` is enforced here: a SIGALRM interrupts a call over it
  (504); a call that cannot be interrupted (native code, blocked signals) is ended by the
  watchdog NB2SVC_HARD_TIMEOUT_GRACE seconds later, which exits the worker so the server
  starts a fresh one.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MIB = 1024 * 1024
PROBABILITY_VALUES = ("1", "true", "yes")
CUSTOM_ATTRIBUTES = b"x-amzn-sagemaker-custom-attributes"


class BodyTooLarge(Exception):
    """The request body is over the payload limit."""


class RequestTimeout(BaseException):
    """Raised in the model thread by SIGALRM when a call is over the request timeout."""


Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]", bool]


class ModelRunner:
    """Runs model calls one at a time on the main thread, each under a SIGALRM timeout."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.busy_since = 0.0

    def submit(self, fn: Callable[[], Any], *, limited: bool = True) -> asyncio.Future[Any]:
        """Queue `fn` for the model thread; `limited`: under the request timeout."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.jobs.put((fn, loop, future, limited))
        return future

    def stop(self) -> None:
        self.jobs.put(None)

    def run(self) -> None:
        signal.signal(signal.SIGALRM, _raise_timeout)
        while True:
            job = self.jobs.get()
            if job is None:
                return
            fn, loop, future, limited = job
            if future.done():  # the client was answered 504 while this call waited
                continue
            try:
                result: Any = self._call(fn) if limited else fn()
            except RequestTimeout:
                result = RequestTimeout()
            loop.call_soon_threadsafe(_resolve, future, result)

    def _call(self, fn: Callable[[], Any]) -> Any:
        self.busy_since = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.busy_since = 0.0


def _raise_timeout(_signum: int, _frame: object) -> None:
    raise RequestTimeout


def _resolve(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def log(message: str) -> None:
    print(f"serve[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def _json_error(status: int, message: str) -> tuple[int, bytes, bytes]:
    return status, json.dumps({"message": message}).encode(), b"application/json"


class ServingApp:
    """ASGI app serving one model (loaded at lifespan startup) with `handlers`."""

    def __init__(self, handlers: ModuleType, model_dir: str, runner: ModelRunner,
                 max_body: int, grace: float = 10.0) -> None:
        self.handlers = handlers
        self.model_dir = model_dir
        self.runner = runner
        self.timeout = runner.timeout
        self.grace = grace
        self.max_body = max_body
        self.model: Any = None
        self.load_error: str | None = None

    # -- ASGI entry -------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            status, body, ctype, extra = await self._route(scope, receive)
            headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": status,
                        "headers": headers + extra})
            await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._watch = asyncio.create_task(self._watchdog())
                await self.runner.submit(self._load, limited=False)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _load(self) -> None:
        try:
            self.model = self.handlers.model_fn(self.model_dir)
        except Exception as exc:  # /ping reports it; the worker stays up to say so
            self.load_error = f"model failed to load: {type(exc).__name__}: {exc}"
            log(f"model_fn failed: {self.load_error}")

    async def _watchdog(self) -> None:
        """Exit the worker when a model call is stuck past the timeout plus the grace."""
        while True:
            await asyncio.sleep(0.25)
            since = self.runner.busy_since
            if since and time.monotonic() - since > self.timeout + self.grace:
                log(f"a model call has run {time.monotonic() - since:.0f}s; replacing worker")
                os._exit(70)

    # -- routing ----------------------------------------------------------------------------
    async def _route(self, scope: Scope, receive: Receive
                     ) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return (*_json_error(405, "use GET /ping"), [(b"allow", b"GET")])
            if self.model is None:
                if self.load_error:
                    return (*_json_error(500, self.load_error), [])
                return (*_json_error(503, "the model is loading"), [])
            return 200, b"", b"application/json", []
        if path == "/execution-parameters" and method == "GET":
            params = {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD",
                      "MaxPayloadInMB": self.max_body // MIB}
            return 200, json.dumps(params).encode(), b"application/json", []
        if path == "/invocations" or _is_boto3_path(path):
            if method != "POST":
                return (*_json_error(405, "use POST /invocations"), [(b"allow", b"POST")])
            return await self._invoke(scope, receive)
        return (*_json_error(404, f"no route {path}; use GET /ping, POST /invocations"), [])

    async def _invoke(self, scope: Scope, receive: Receive
                      ) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
        if self.model is None:
            return (*_json_error(503, self.load_error or "the model is loading"), [])
        try:
            body = await self._read_body(receive)
        except BodyTooLarge:
            return (*_json_error(413, f"body over {self.max_body} bytes"),
                    [(b"connection", b"close")])
        headers = dict(scope["headers"])
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        accept = headers.get(b"accept", b"").decode("latin-1")
        proba = _wants_probabilities(scope, headers)
        future = self.runner.submit(lambda: self._handle(body, ctype, accept, proba))
        try:
            result = await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except asyncio.TimeoutError:
            # the client gets 504 now; a call still queued behind another is then skipped
            # (ModelRunner.run checks done()), so it cannot hold up the requests after it
            future.cancel()
            result = RequestTimeout()
        if isinstance(result, RequestTimeout):
            return (*_json_error(504, f"the model took over {self.timeout:g}s "
                                 "(SAGEMAKER_MODEL_SERVER_TIMEOUT)"), [])
        status, out, out_type = result
        return status, out, out_type, []

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _handle(self, body: bytes, ctype: str, accept: str, proba: bool
                ) -> tuple[int, bytes, bytes]:
        """input_fn -> predict_fn -> output_fn; InferenceError -> its status, else 500."""
        h = self.handlers
        try:
            data = h.input_fn(body, ctype)
            if proba and not isinstance(data, h.Probabilities):
                data = h.Probabilities(data)
            prediction = h.predict_fn(data, self.model)
            out, out_type = h.output_fn(prediction, accept)
            return 200, out, out_type.encode("latin-1")
        except h.InferenceError as exc:
            return _json_error(exc.status, str(exc))
        except RecursionError:
            return _json_error(400, "the input is nested too deeply")
        except Exception as exc:
            log(f"prediction failed: {type(exc).__name__}: {exc}")
            return _json_error(500, f"prediction failed: {type(exc).__name__}: {exc}")


def _is_boto3_path(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 4 and parts[1] == "endpoints" and parts[3] == "invocations"


def _wants_probabilities(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """`?probabilities=true`, or CustomAttributes `probabilities=true` (boto3 CustomAttributes)."""
    query = scope.get("query_string", b"")
    if query:
        values = parse_qs(query.decode("latin-1")).get("probabilities", [])
        if any(v.lower() in PROBABILITY_VALUES for v in values):
            return True
    attrs = headers.get(CUSTOM_ATTRIBUTES, b"").decode("latin-1")
    for part in attrs.split(","):
        name, _, value = part.partition("=")
        if name.strip() == "probabilities" and value.strip().lower() in PROBABILITY_VALUES:
            return True
    return False
