"""`serve`: SageMaker's serving program on uvicorn (httptools parser, uvloop loop).

A small supervisor, no HTTP code: it binds the listening socket once (TCP_NODELAY set on it,
so every accepted connection inherits it), forks `SAGEMAKER_MODEL_SERVER_WORKERS` workers that
each run a `uvicorn.Server` on that socket with the `ServingApp`, restarts a worker that dies,
reaps every child (it is a child subreaper, and PID 1 in a container: orphans are re-parented
to it and reaped), and on SIGTERM/SIGINT lets the workers drain (uvicorn's graceful shutdown:
no new connections, in-flight requests finish) for up to NB2SVC_GRACEFUL_TIMEOUT (20 s, under
SageMaker's 30 s) before killing what is left.

Settings (flags win over the environment): --host/NB2SVC_HOST (0.0.0.0),
--port/SAGEMAKER_BIND_TO_PORT (8080), --workers/SAGEMAKER_MODEL_SERVER_WORKERS (CPU count),
--timeout/SAGEMAKER_MODEL_SERVER_TIMEOUT (60 s per request), --base-dir/SAGEMAKER_BASE_DIR
(/opt/ml), SAGEMAKER_MAX_PAYLOAD_IN_MB (6..100), NB2SVC_KEEPALIVE (60 s).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from nb2svc_runtime.app import MIB, ModelRunner, ServingApp, log
from nb2svc_runtime.training import BASE_ENV, DEFAULT_BASE

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
MAX_HEAD = 64 * 1024  # request line + headers
MAX_HEADERS = 100


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            return value
    return None


@dataclass
class Config:
    host: str
    port: int
    workers: int
    timeout: float
    base_dir: str
    max_body: int
    keepalive: float
    graceful: float
    grace: float
    handlers: str

    @property
    def model_dir(self) -> str:
        return os.path.join(self.base_dir, "model")


def parse_args(argv: list[str], handlers: str = "nb2svc_runtime.handlers") -> Config:
    p = argparse.ArgumentParser(prog="serve", description=__doc__.split("\n\n", 1)[0])
    p.add_argument("command", nargs="?", choices=["serve"], help="accepted and ignored")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--timeout", type=float)
    p.add_argument("--base-dir")
    p.add_argument("--handlers", default=handlers, help="module with model_fn/input_fn/...")
    args = p.parse_args(argv)
    workers = args.workers or _env("SAGEMAKER_MODEL_SERVER_WORKERS", "MODEL_SERVER_WORKERS")
    timeout = args.timeout or _env("SAGEMAKER_MODEL_SERVER_TIMEOUT", "MODEL_SERVER_TIMEOUT")
    payload_mb = float(_env("SAGEMAKER_MAX_PAYLOAD_IN_MB") or 6)
    return Config(
        host=args.host or _env("NB2SVC_HOST") or "0.0.0.0",
        port=int(args.port or _env("SAGEMAKER_BIND_TO_PORT") or 8080),
        workers=max(1, int(workers or os.cpu_count() or 1)),
        timeout=float(timeout or 60),
        base_dir=args.base_dir or _env(BASE_ENV) or DEFAULT_BASE,
        max_body=int(min(max(payload_mb, 6), 100) * MIB),
        keepalive=float(_env("NB2SVC_KEEPALIVE") or 60),
        graceful=float(_env("NB2SVC_GRACEFUL_TIMEOUT") or 20),
        grace=float(_env("NB2SVC_HARD_TIMEOUT_GRACE") or 10),
        handlers=args.handlers,
    )


def listen(cfg: Config) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in cfg.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((cfg.host, cfg.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: no subreaper / parent-death signal
        pass


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request line and headers (431-class
    requests are refused with uvicorn's own 400 and the connection closed).

    Why a subclass: uvicorn (0.54) has a header-size option only for its h11 implementation
    (`h11_max_incomplete_event_size`, uvicorn#1514); httptools/llhttp has none, and the uvicorn
    PRs that would add one for httptools (`--limit-request-header-size`, uvicorn#1684/#1686;
    header count, #1682/#1683; #2019) were closed unmerged. h11 itself is the pure-Python
    parser (slower per request, bench/serve_bench.py). So this class only counts the bytes of
    what httptools has already parsed (URL fragments, complete headers) and raises in its
    callbacks, which uvicorn turns into its "Invalid HTTP request" 400; all parsing and framing
    stay httptools' and uvicorn's. Limit: a single header is counted when httptools completes
    it, so one huge header line is buffered by httptools until then.
    """

    def on_message_begin(self) -> None:
        self._head_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > MAX_HEAD:
            raise ValueError("request line too long")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD or len(self.headers) >= MAX_HEADERS:
            raise ValueError("request headers too large")
        super().on_header(name, value)


def run_worker(cfg: Config, sock: socket.socket) -> None:
    """One worker: uvicorn (httptools, uvloop) in a thread on the shared socket, the model
    calls on the main thread (where SIGALRM can interrupt them)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    handlers = importlib.import_module(cfg.handlers)
    runner = ModelRunner(cfg.timeout)
    app = ServingApp(handlers, cfg.model_dir, runner, cfg.max_body, cfg.grace)
    config = uvicorn.Config(
        app, loop="uvloop", http=LimitedHttpTools, lifespan="on", interface="asgi3",
        access_log=False, log_level="warning", timeout_keep_alive=int(cfg.keepalive),
        timeout_graceful_shutdown=int(cfg.graceful), server_header=False, date_header=False,
    )
    server = uvicorn.Server(config)

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            runner.stop()

    def drain(_signum: int, _frame: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    thread = threading.Thread(target=serve, name="uvicorn", daemon=True)
    thread.start()
    runner.run()
    thread.join(cfg.graceful + 5)


class Supervisor:
    """Forks the workers, restarts the ones that die, reaps orphans, drains on SIGTERM."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.sock = listen(cfg)
        self.workers: dict[int, int] = {}  # pid -> slot
        self.stopping = False

    def spawn(self, slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 0
            try:
                run_worker(self.cfg, self.sock)
            except BaseException as exc:  # a worker must never return into the supervisor
                log(f"worker failed: {type(exc).__name__}: {exc}")
                code = 1
            os._exit(code)
        self.workers[pid] = slot

    def stop(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            log(f"signal {signum}: draining workers")
            signal.alarm(int(self.cfg.graceful) + 5)
        self.stopping = True
        for pid in list(self.workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def kill(self, _signum: int, _frame: object) -> None:
        """The drain deadline passed: kill the workers that are still running."""
        for pid in list(self.workers):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log(f"uvicorn on {self.cfg.host}:{self.cfg.port}, {self.cfg.workers} workers")
        for slot in range(self.cfg.workers):
            self.spawn(slot)
        signal.signal(signal.SIGALRM, self.kill)
        while self.workers:
            self._reap()
        self.sock.close()
        return 0

    def _reap(self) -> None:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            self.workers.clear()
            return
        except InterruptedError:
            return
        slot = self.workers.pop(pid, None)
        if slot is None:
            return  # an orphan re-parented to us: reaped
        if not self.stopping:
            log(f"worker {pid} exited ({status}); starting another")
            time.sleep(0.2)
            self.spawn(slot)


def main(argv: list[str] | None = None, *, handlers: str = "nb2svc_runtime.handlers") -> int:
    cfg = parse_args(sys.argv[1:] if argv is None else argv, handlers)
    return Supervisor(cfg).run()


if __name__ == "__main__":
    sys.exit(main())
