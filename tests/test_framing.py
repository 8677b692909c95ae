"""Negative HTTP framing suite against the real runtime server (uvicorn + httptools).

Every malformed or ambiguous request of issue 10 is sent over a raw socket: the answer must be
400/413/431 or the connection closed, never a 200 for an ambiguous body, and the server must
still answer /ping and a good /invocations afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("httptools")
pytest.importorskip("skops")
pytestmark = [pytest.mark.slow, pytest.mark.integration]

from nb2svc_runtime import model_io  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

ROW = b"5.1,3.5,1.4,0.2"
REFUSED = {400, 408, 413, 414, 431, 501}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    base = tmp_path_factory.mktemp("opt_ml")
    X, y = load_iris(return_X_y=True)
    model_io.save_model(LogisticRegression(max_iter=300).fit(X, y), base / "model", X_sample=X)
    port = _free_port()
    env = dict(os.environ, SAGEMAKER_BASE_DIR=str(base), SAGEMAKER_BIND_TO_PORT=str(port),
               NB2SVC_HOST="127.0.0.1", SAGEMAKER_MODEL_SERVER_WORKERS="1",
               SAGEMAKER_MODEL_SERVER_TIMEOUT="20", NB2SVC_KEEPALIVE="5")
    log = open(Path(base) / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "nb2svc_runtime.server"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (Path(base) / "serve.log").read_text()
            try:
                if _statuses(_exchange(port, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")) == [200]:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _exchange(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    """Send `data`, read until the server closes or `timeout` passes; return what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            return b""
        out = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def _statuses(reply: bytes) -> list[int]:
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", reply)]


def _post(headers: str, body: bytes) -> bytes:
    return (f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n{headers}"
            "\r\n").encode() + body


def _still_serving(port: int) -> None:
    assert _statuses(_exchange(port, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", 5)) == [200]
    good = _post(f"Content-Length: {len(ROW)}\r\nConnection: close\r\n", ROW)
    reply = _exchange(port, good, 5)
    assert _statuses(reply) == [200] and reply.endswith(b"[0]")


CASES = {
    "content_length_underscore": _post("Content-Length: 1_5\r\n", ROW),
    "two_content_lengths": _post("Content-Length: 15\r\nContent-Length: 5\r\n", ROW),
    "chunk_without_crlf": _post("Transfer-Encoding: chunked\r\n", b"f\r\n" + ROW + b"XX0\r\n\r\n"),
    "chunk_size_0x": _post("Transfer-Encoding: chunked\r\n", b"0xf\r\n" + ROW + b"\r\n0\r\n\r\n"),
    "te_gzip_with_cl": _post("Transfer-Encoding: gzip\r\nContent-Length: 15\r\n", ROW),
    "te_chunked_cl_pipelined": _post(
        "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", b"0\r\n\r\n"
    ) + b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n",
    "obs_fold": _post("Content-Length: 15\r\nX-Folded: a\r\n b\r\n", ROW),
    "xchunkedx": _post("Transfer-Encoding: xchunkedx\r\n", b"f\r\n" + ROW + b"\r\n0\r\n\r\n"),
    "oversize_header": _post("X-Big: " + "a" * 200_000 + "\r\nContent-Length: 15\r\n", ROW),
    "oversize_body": _post(f"Content-Length: {7 * 1024 * 1024}\r\n", b"1" * (7 * 1024 * 1024)),
    "chunk_flood_over_limit": _post(
        "Transfer-Encoding: chunked\r\n", b"1\r\n1\r\n" * 1_200_000 + b"0\r\n\r\n"
    ),
    "lf_only_lines": b"POST /invocations HTTP/1.1\nHost: x\nContent-Length: 15\n\n" + ROW,
    "space_before_colon": _post("Content-Length : 15\r\n", ROW),
    "negative_content_length": _post("Content-Length: -15\r\n", ROW),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ambiguous_or_malformed_is_refused(port, name):
    reply = _exchange(port, CASES[name], timeout=10)
    statuses = _statuses(reply)
    assert 200 not in statuses, f"{name}: answered {statuses}: {reply[:300]!r}"
    assert all(s in REFUSED for s in statuses), f"{name}: {statuses}"
    _still_serving(port)


def test_http10_and_pipelining_are_served(port):
    reply = _exchange(port, b"GET /ping HTTP/1.0\r\n\r\n")
    assert _statuses(reply) == [200]
    one = _post(f"Content-Length: {len(ROW)}\r\n", ROW)
    reply = _exchange(port, one * 3 + b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _statuses(reply) == [200, 200, 200, 200]


def test_slow_clients_and_many_connections_do_not_block(port):
    idle = []
    try:
        for i in range(300):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n" if i % 2
                      else b"GET /pi")
            idle.append(s)
        _still_serving(port)
    finally:
        for s in idle:
            s.close()
    _still_serving(port)
