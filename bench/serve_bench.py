#!/usr/bin/env python3
"""Serving benchmark: the generated nb2svc server against reference SageMaker serving stacks.

Stacks (2 workers each, all on 127.0.0.1, measured one after the other in one run):

* nb2svc  - the installed runtime (nb2svc_runtime: uvicorn + httptools + uvloop, handlers on
            the worker's main thread) behind the thin generated inference.py/serve.py.
* old     - the hand-written pre-fork server this replaced (templates/container/*.py.j2 at
            commit OLD_COMMIT, read with `git show`), same handlers, for comparison.
* byo     - AWS's scikit_bring_your_own style: nginx -> gunicorn sync workers -> Flask,
            pandas.read_csv + DataFrame.to_csv per request (bench/reference/byo/).
* gunicorn-sync, gunicorn-gthread - gunicorn (sync workers; gthread with 4 threads) running
            our handlers through a WSGI shim (bench/reference/wsgi/nb2svc_wsgi.py).
* granian - granian's WSGI interface (2 workers, 1 blocking thread each) on the same shim.
* mlflow  - `mlflow models serve` (MLflow's scoring server), if a venv with mlflow exists at
            bench/results/serve/venv-mlflow (create it with --setup-mlflow).

Model: LogisticRegression(max_iter=1000) on iris (4 features). Payload: the 1-row CSV
`5.1,3.5,1.4,0.2` (MLflow: the same row as {"dataframe_split": ...}, since its CSV input
needs a header line). Load: wrk, keep-alive, c=1 and c=64 for --duration seconds, then c=256
while a prober sends GET /ping every 0.2 s on a new connection with a 2 s timeout (SageMaker's
health-check budget). Server CPU comes from /proc (utime+stime of the server's process tree,
nginx included). The floor is the in-process cost of the same work without HTTP.

Needs: wrk and nginx (apt-get install wrk nginx), flask + gunicorn + granian in
bench/results/serve/ref-site (installed by --setup-ref with pip --target). Results: bench/results/serve.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "results" / "serve"
REF = ROOT / "bench" / "reference" / "byo"
WSGI = ROOT / "bench" / "reference" / "wsgi"
REF_SITE = WORK / "ref-site"
MLFLOW_VENV = WORK / "venv-mlflow"
PKG = "benchsvc"
OLD_COMMIT = "325a2f8"  # last commit with the hand-written serve.py.j2
ROW = "5.1,3.5,1.4,0.2\n"
MLFLOW_BODY = json.dumps({"dataframe_split": {"data": [[5.1, 3.5, 1.4, 0.2]]}})
CLK = os.sysconf("SC_CLK_TCK")

WRK_LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = {ctype}
wrk.headers["Accept"] = {accept}
done = function(summary, latency, requests)
  io.write(string.format(
    'JSON {{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"max_us": %d}}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# setup


def setup_ref() -> None:
    if not (REF_SITE / "flask").is_dir() or not (REF_SITE / "gunicorn").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(REF_SITE),
                        "flask", "gunicorn", "granian"], check=True)


def setup_mlflow() -> None:
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        import sklearn

        subprocess.run([str(MLFLOW_VENV / "bin" / "pip"), "install", "-q", "mlflow",
                        f"scikit-learn=={sklearn.__version__}"], check=True)


def prepare(stacks: list[str]) -> dict:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    sys.path.insert(0, str(ROOT))
    from notebook2service.render import render

    X, y = load_iris(return_X_y=True)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    ml = WORK / "ml"
    shutil.rmtree(ml, ignore_errors=True)
    (ml / "model").mkdir(parents=True)
    out = WORK / "nb2svc"
    shutil.rmtree(out, ignore_errors=True)
    (out / PKG).mkdir(parents=True)
    (out / PKG / "__init__.py").write_text("")
    for name in ("inference", "serve"):
        (out / PKG / f"{name}.py").write_text(
            render(f"container/{name}.py.j2", package=PKG, feature_function=None))
    _entry(out)
    if "old" in stacks:
        _old_package(WORK / "old")
    sys.path.insert(0, str(out))
    from nb2svc_runtime import model_io

    nb_ml = WORK / "ml-nb2svc"
    shutil.rmtree(nb_ml, ignore_errors=True)
    model_io.save_model(clf, nb_ml / "model", X_sample=X)
    with open(ml / "model" / "model.pkl", "wb") as fh:
        pickle.dump(clf, fh)
    if "mlflow" in stacks:
        mdir = WORK / "ml-mlflow"
        shutil.rmtree(mdir, ignore_errors=True)
        subprocess.run([str(MLFLOW_VENV / "bin" / "python"), "-c",
                        "import pickle, sys, mlflow.sklearn;"
                        "mlflow.sklearn.save_model(pickle.load(open(sys.argv[1], 'rb')),"
                        " sys.argv[2], serialization_format='pickle')",
                        str(ml / "model" / "model.pkl"), str(mdir)],
                       check=True, capture_output=True)
    return {"clf": clf, "X": X, "nb_ml": nb_ml, "ml": ml, "out": out}


def _entry(out: Path) -> None:
    (out / "serve").write_text(
        "#!/usr/bin/env python3\nimport os, sys\n"
        "sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n"
        f"from {PKG}.serve import main\nsys.exit(main(sys.argv[1:]))\n")


def _old_package(out: Path) -> None:
    """The replaced hand-written server, from git history (only {{ package }} to fill in)."""
    shutil.rmtree(out, ignore_errors=True)
    (out / PKG).mkdir(parents=True)
    (out / PKG / "__init__.py").write_text("")
    for name in ("model_io", "inference", "serve"):
        text = subprocess.run(["git", "-C", str(ROOT), "show",
                               f"{OLD_COMMIT}:templates/container/{name}.py.j2"],
                              check=True, capture_output=True, text=True).stdout
        text = re.sub(r"{% if feature_function %}.*?{% else %}\n(.*?){% endif %}\n", r"\1",
                      text, flags=re.S)
        (out / PKG / f"{name}.py").write_text(text.replace("{{ package }}", PKG))
    _entry(out)


# ---------------------------------------------------------------------------------------------
# stacks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, name: str, procs: list[subprocess.Popen], port: int, body: str,
                 ctype: str, accept: str):
        self.name, self.procs, self.port = name, procs, port
        self.body, self.ctype, self.accept = body, ctype, accept

    def pids(self) -> list[int]:
        return tree([p.pid for p in self.procs])

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)  # our own session/process group
                p.wait(5)


def spawn(cmd, env=None, log_name="server") -> subprocess.Popen:
    fh = open(WORK / f"{log_name}.log", "wb")
    return subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=fh,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def start_nb2svc(ctx, workers) -> Stack:
    port = free_port()
    p = spawn([sys.executable, str(ctx["out"] / "serve"), "serve"],
              {"SAGEMAKER_BASE_DIR": str(ctx["nb_ml"]), "SAGEMAKER_BIND_TO_PORT": str(port),
               "NB2SVC_HOST": "127.0.0.1", "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers)},
              "nb2svc")
    return Stack("nb2svc", [p], port, ROW, "text/csv", "text/csv")


def start_old(ctx, workers) -> Stack:
    port = free_port()
    p = spawn([sys.executable, str(WORK / "old" / "serve"), "serve"],
              {"SAGEMAKER_BASE_DIR": str(ctx["nb_ml"]), "SAGEMAKER_BIND_TO_PORT": str(port),
               "NB2SVC_HOST": "127.0.0.1", "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers)},
              "old")
    return Stack("old", [p], port, ROW, "text/csv", "text/csv")


def start_byo(ctx, workers) -> Stack:
    port = free_port()
    prefix = WORK / "byo"
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    sock = prefix / "gunicorn.sock"
    conf = (REF / "nginx.conf.in").read_text().replace("@PREFIX@", str(prefix)).replace(
        "@SOCKET@", str(sock)).replace("@PORT@", str(port))
    (prefix / "nginx.conf").write_text(conf)
    env = {"PYTHONPATH": f"{REF_SITE}:{REF}", "SAGEMAKER_BASE_DIR": str(ctx["ml"])}
    g = spawn([sys.executable, "-m", "gunicorn", "--timeout", "60", "-k", "sync", "-b",
               f"unix:{sock}", "-w", str(workers), "--chdir", str(REF), "wsgi:app"], env,
              "byo-gunicorn")
    deadline = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    n = spawn(["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf")], None, "byo-nginx")
    return Stack("byo", [g, n], port, ROW, "text/csv", "text/csv")


def start_mlflow(ctx, workers) -> Stack:
    port = free_port()
    p = spawn([str(MLFLOW_VENV / "bin" / "mlflow"), "models", "serve", "-m",
               str(WORK / "ml-mlflow"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workers),
               "--env-manager", "local"],
              {"MLFLOW_TRACKING_URI": f"file://{WORK}/mlruns",
               "PATH": f"{MLFLOW_VENV / 'bin'}:{os.environ.get('PATH', '')}"},
              "mlflow")
    return Stack("mlflow", [p], port, MLFLOW_BODY, "application/json", "application/json")


def _wsgi_env(ctx) -> dict:
    # HOME: gunicorn 27 opens a control socket under $HOME by default
    return {"PYTHONPATH": f"{REF_SITE}:{WSGI}", "SAGEMAKER_BASE_DIR": str(ctx["nb_ml"]),
            "HOME": str(WORK)}


def start_gunicorn(kind: str):
    def start(ctx, workers) -> Stack:
        port = free_port()
        extra = ["--threads", "4"] if kind == "gthread" else []
        p = spawn([sys.executable, "-m", "gunicorn", "-k", kind, *extra, "-w", str(workers),
                   "-b", f"127.0.0.1:{port}", "--timeout", "60", "--no-control-socket",
                   "--chdir", str(WSGI), "nb2svc_wsgi:app"], _wsgi_env(ctx), f"gunicorn-{kind}")
        return Stack(f"gunicorn-{kind}", [p], port, ROW, "text/csv", "text/csv")

    return start


def start_granian(ctx, workers) -> Stack:
    port = free_port()
    p = spawn([sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", str(workers),
               "--blocking-threads", "1", "--host", "127.0.0.1", "--port", str(port),
               "--working-dir", str(WSGI), "nb2svc_wsgi:app"], _wsgi_env(ctx), "granian")
    return Stack("granian", [p], port, ROW, "text/csv", "text/csv")


STARTERS = {"nb2svc": start_nb2svc, "old": start_old, "byo": start_byo, "mlflow": start_mlflow,
            "gunicorn-sync": start_gunicorn("sync"), "gunicorn-gthread": start_gunicorn("gthread"),
            "granian": start_granian}


# ---------------------------------------------------------------------------------------------
# measuring


def tree(roots: list[int]) -> list[int]:
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(entry)] = int(fields[1])
    out, frontier = set(roots), list(roots)
    while frontier:
        pid = frontier.pop()
        for child, ppid in parent.items():
            if ppid == pid and child not in out:
                out.add(child)
                frontier.append(child)
    return sorted(out)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLK


def http_get(port: int, path: str, timeout: float) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else 0


def wait_ready(stack: Stack, budget=90.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < budget:
        try:
            if http_get(stack.port, "/ping", 2) == 200:
                return time.monotonic() - t0
        except OSError:
            pass
        for p in stack.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{stack.name}: process exited ({p.args})")
        time.sleep(0.1)
    raise RuntimeError(f"{stack.name}: no /ping 200 within {budget}s")


def run_wrk(stack: Stack, conns: int, duration: int) -> dict:
    script = WORK / f"wrk-{stack.name}.lua"
    script.write_text(WRK_LUA.format(body=json.dumps(stack.body), ctype=json.dumps(stack.ctype),
                                     accept=json.dumps(stack.accept)))
    threads = 1 if conns == 1 else 2
    pids = stack.pids()
    c0 = cpu_seconds(pids)
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "5s", "-s",
           str(script), f"http://127.0.0.1:{stack.port}/invocations"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30)
    c1 = cpu_seconds(pids)
    m = re.search(r"^JSON (.*)$", proc.stdout, re.M)
    if not m:
        raise RuntimeError(f"wrk failed: {proc.stdout}\n{proc.stderr}")
    r = json.loads(m.group(1))
    secs = r["duration_us"] / 1e6
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {
        "conns": conns, "requests": r["requests"], "rps": r["requests"] / secs,
        "p50_ms": r["p50_us"] / 1e3, "p99_ms": r["p99_us"] / 1e3, "errors": errors,
        "non2xx": r["status"], "cpu_ms_per_req": (c1 - c0) * 1e3 / max(r["requests"], 1),
        "cmd": " ".join(cmd),
    }


def ping_probe(stack: Stack, conns: int, duration: int) -> dict:
    stop = threading.Event()
    pings: list[tuple[int, float]] = []

    def prober():
        time.sleep(1.0)  # let the load build up
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                status = http_get(stack.port, "/ping", 2.0)
            except OSError:
                status = 0
            pings.append((status, time.monotonic() - t0))
            stop.wait(0.2)

    t = threading.Thread(target=prober, daemon=True)
    t.start()
    load = run_wrk(stack, conns, duration)
    stop.set()
    t.join(5)
    times = [d for _, d in pings]
    failed = sum(1 for s, d in pings if s != 200 or d > 2.0)
    return {"conns": conns, "pings": len(pings), "failed": failed,
            "p50_ms": statistics.median(times) * 1e3 if times else None,
            "max_ms": max(times) * 1e3 if times else None, "invocations_rps": load["rps"]}


def floor(ctx) -> dict:
    """In-process cost of the work a request does, without HTTP (µs, p50 of 5000 runs)."""
    import io

    import numpy as np
    import pandas as pd
    from nb2svc_runtime import handlers as inference

    model = inference.model_fn(str(ctx["nb_ml"] / "model"))
    clf = ctx["clf"]
    x = np.array([[5.1, 3.5, 1.4, 0.2]])
    body = ROW.encode()

    def handlers():
        pred = inference.predict_fn(inference.input_fn(body, "text/csv"), model)
        return inference.output_fn(pred, "text/csv")

    def byo():
        df = pd.read_csv(io.StringIO(body.decode()), header=None)
        out = io.StringIO()
        pd.DataFrame({"results": clf.predict(df)}).to_csv(out, header=False, index=False)
        return out.getvalue()

    result = {}
    for name, fn in (("predict", lambda: clf.predict(x)), ("nb2svc_handlers", handlers),
                     ("byo_pandas_path", byo)):
        for _ in range(300):
            fn()
        times = []
        for _ in range(5000):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        times.sort()
        result[name] = {"p50_us": times[len(times) // 2] * 1e6,
                        "p99_us": times[int(len(times) * 0.99)] * 1e6}
    return result


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--stacks",
                    default="nb2svc,gunicorn-sync,gunicorn-gthread,granian,old,byo,mlflow")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--setup-ref", action="store_true", help="pip install flask+gunicorn")
    ap.add_argument("--setup-mlflow", action="store_true", help="create the mlflow venv")
    args = ap.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            log(f"{tool} not found: apt-get install {tool}")
            return 2
    stacks = [s for s in args.stacks.split(",") if s]
    if args.setup_ref:
        setup_ref()
    if args.setup_mlflow:
        setup_mlflow()
    for name, module in (("byo", "flask"), ("gunicorn-sync", "gunicorn"),
                         ("gunicorn-gthread", "gunicorn"), ("granian", "granian")):
        if name in stacks and not (REF_SITE / module).is_dir():
            log(f"{name}: {module} missing (run with --setup-ref); skipped")
            stacks.remove(name)
    if "mlflow" in stacks and not (MLFLOW_VENV / "bin" / "mlflow").exists():
        log("mlflow: no venv (run with --setup-mlflow); skipped")
        stacks.remove("mlflow")
    ctx = prepare(stacks)
    results: dict = {"floor": floor(ctx), "stacks": {}, "duration_s": args.duration,
                     "workers": args.workers, "cpus": os.cpu_count()}
    for name in stacks:
        log(f"== {name}")
        stack = STARTERS[name](ctx, args.workers)
        try:
            ready = wait_ready(stack)
            run_wrk(stack, 16, 2)  # warm up every worker's first-call paths
            res = {"ready_s": ready}
            for c in (1, 64):
                res[f"c{c}"] = run_wrk(stack, c, args.duration)
                log(f"   c={c}: {res[f'c{c}']['rps']:.0f} req/s, p50 "
                    f"{res[f'c{c}']['p50_ms']:.2f} ms")
            res["ping_c256"] = ping_probe(stack, 256, args.duration)
            log(f"   ping under c=256: {res['ping_c256']}")
            results["stacks"][name] = res
        finally:
            stack.stop()
    (WORK.parent / "serve.json").write_text(json.dumps(results, indent=2))
    report(results)
    return 0


def report(results: dict) -> None:
    fl = results["floor"]
    print(f"\nIn-process floor (p50 / p99 µs): predict {fl['predict']['p50_us']:.0f} / "
          f"{fl['predict']['p99_us']:.0f}; nb2svc handlers (csv parse+predict+csv) "
          f"{fl['nb2svc_handlers']['p50_us']:.0f} / {fl['nb2svc_handlers']['p99_us']:.0f}; "
          f"BYO pandas path {fl['byo_pandas_path']['p50_us']:.0f} / "
          f"{fl['byo_pandas_path']['p99_us']:.0f}")
    ref = results["stacks"].get("byo")
    head = (f"{'stack':16} {'conc':>4} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} "
            f"{'non2xx':>6} {'cpu ms/req':>10} {'x ref':>6} {'x floor':>7} {'cpu x nb2svc':>12}")
    nb_stack = results["stacks"].get("nb2svc")
    print(head)
    print("-" * len(head))
    floor_us = fl["nb2svc_handlers"]["p50_us"]
    for name, res in results["stacks"].items():
        for key in ("c1", "c64"):
            r = res[key]
            ratio = r["rps"] / ref[key]["rps"] if ref else float("nan")
            vs_nb = (r["cpu_ms_per_req"] / nb_stack[key]["cpu_ms_per_req"]
                     if nb_stack else float("nan"))
            print(f"{name:16} {r['conns']:>4} {r['rps']:>8.0f} {r['p50_ms']:>7.2f} "
                  f"{r['p99_ms']:>7.2f} {r['errors']:>4} {r['non2xx']:>6} "
                  f"{r['cpu_ms_per_req']:>10.3f} {ratio:>6.2f} "
                  f"{r['cpu_ms_per_req'] * 1e3 / floor_us:>7.2f} {vs_nb:>12.2f}")
    print("('x floor' = server CPU per request / in-process handler p50)")
    print(f"\n{'stack':16} {'pings':>5} {'failed':>6} {'p50 ms':>7} {'max ms':>7} "
          f"{'inv req/s':>9}   (/ping every 0.2 s, 2 s timeout, wrk c=256 on /invocations)")
    for name, res in results["stacks"].items():
        p = res["ping_c256"]
        print(f"{name:16} {p['pings']:>5} {p['failed']:>6} {p['p50_ms'] or 0:>7.1f} "
              f"{p['max_ms'] or 0:>7.1f} {p['invocations_rps']:>9.0f}")
    nb = results["stacks"].get("nb2svc")
    if nb:
        goals = [
            ("req/s at c=64 >= 3x byo", ref and nb["c64"]["rps"] >= 3 * ref["c64"]["rps"]),
            ("p50 at c=1 < 2 ms", nb["c1"]["p50_ms"] < 2),
            ("server CPU per 1-row request < 0.8 ms", nb["c64"]["cpu_ms_per_req"] < 0.8),
            ("zero failed /ping at c=256", nb["ping_c256"]["failed"] == 0),
        ]
        print("\nGoals: " + "; ".join(f"{g}: {'met' if ok else 'MISSED'}" for g, ok in goals))


if __name__ == "__main__":
    sys.exit(main())
