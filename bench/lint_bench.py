#!/usr/bin/env python3
"""Time ``nb2svc lint`` against reference notebook linters in one run.

Every measurement is a cold subprocess (new interpreter / binary each time), wall clock,
best of ``--runs``:

* ``nb2svc lint``   over the whole corpus (tool under test);
* ``ruff check``    over the whole corpus (lints ``.ipynb`` natively; the baseline of the ratios);
* ``nborder check`` over a random sample of the corpus, extrapolated per notebook, because it
  takes about a second per notebook and aborts the whole run on the first notebook it cannot
  parse (the sample is screened file by file first; failures are counted and left out);
* each tool on one typical notebook, ``--single-runs`` times: median and p90.

Results are printed as tables and written to ``bench/results/lint.json``. Only the standard
library is used; tools that are not installed are reported and skipped.

    python bench/lint_bench.py [CORPUS] [--runs 3] [--nborder-sample 50] [--single-runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CORPUS = BENCH_DIR / "corpus"
DEFAULT_RESULTS = BENCH_DIR / "results" / "lint.json"
TOOLS = ("nb2svc", "ruff", "nborder")
PATH_KEYS = ("path", "filename", "notebook_path", "file", "notebook")
LIST_KEYS = ("findings", "diagnostics", "results", "violations", "messages")


# ---------------------------------------------------------------------------------------------
# Subprocess helpers
# ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    """Outcome of one subprocess run."""

    seconds: float
    returncode: int | None  # None: timed out or could not start
    stdout: str = ""
    stderr: str = ""


def run(cmd: list[str], timeout: float, cwd: Path) -> Run:
    """Run ``cmd`` once, wall-clock timed; never raises for tool failures."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env={**os.environ, "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired:
        return Run(time.perf_counter() - t0, None, stderr=f"timed out after {timeout:.0f} s")
    except OSError as exc:
        return Run(time.perf_counter() - t0, None, stderr=f"could not start: {exc}")
    return Run(time.perf_counter() - t0, proc.returncode, proc.stdout, proc.stderr)


def find_executable(name: str) -> Path | None:
    """Prefer the executable next to this interpreter (the venv), then ``PATH``."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which(name)
    return Path(found) if found else None


def tool_version(exe: Path, dist: str, cwd: Path) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        pass
    res = run([str(exe), "--version"], 30, cwd)
    text = (res.stdout or res.stderr).strip().splitlines()
    return text[0] if res.returncode == 0 and text else "unknown"


def parse_version(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g or 0) for g in match.groups()) if match else (0,)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------


def parse_findings(stdout: str) -> tuple[int, int] | None:
    """``(findings, files with findings)`` from a JSON or SARIF report, or None."""
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    items: object = data
    if isinstance(data, dict):
        if isinstance(data.get("runs"), list):  # SARIF
            items = [r for run_ in data["runs"] for r in run_.get("results", [])]
        else:
            items = next((data[k] for k in LIST_KEYS if isinstance(data.get(k), list)), None)
    if not isinstance(items, list):
        return None
    files = set()
    for item in items:
        if isinstance(item, dict):
            path = next((item[k] for k in PATH_KEYS if isinstance(item.get(k), str)), None)
            if path:
                files.add(path)
    return len(items), len(files)


def failure_reason(res: Run) -> str:
    """The first ``error`` line of stderr, else its last non-decoration line."""
    lines = [line.strip(" \t│╭╰╮╯─") for line in res.stderr.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return f"exit {res.returncode}, no report on stdout"
    first_error = next((line for line in lines if re.match(r"(\w+: )?error\b", line, re.I)), None)
    return (first_error or lines[-1])[:300]


def error_lines(stderr: str) -> int:
    return sum(1 for line in stderr.splitlines() if re.search(r"\berror\b", line, re.I))


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    tool: str
    scope: str  # "corpus", "sample" or "single"
    files: int
    command: list[str]
    seconds: list[float] = field(default_factory=list)
    returncode: int | None = None
    findings: int | None = None
    files_with_findings: int | None = None
    stderr_errors: int = 0
    failures: int = 0
    extrapolated_to: int | None = None
    failed_files: dict[str, str] = field(default_factory=dict)
    status: str = "ok"
    note: str = ""

    @property
    def best(self) -> float | None:
        return min(self.seconds) if self.seconds else None

    def per_notebook_ms(self) -> float | None:
        if self.best is None or self.files == 0:
            return None
        return 1000 * self.best / self.files

    def estimated_corpus_seconds(self) -> float | None:
        per = self.per_notebook_ms()
        if per is None:
            return None
        return per * (self.extrapolated_to or self.files) / 1000

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.update(
            best_seconds=self.best,
            ms_per_notebook=self.per_notebook_ms(),
            estimated_corpus_seconds=self.estimated_corpus_seconds(),
        )
        if self.scope == "single" and self.seconds:
            data.update(
                median_ms=1000 * statistics.median(self.seconds),
                p90_ms=1000 * percentile(self.seconds, 90),
            )
        return data


def ok_run(res: Run) -> bool:
    """A run counts if it finished and printed a parseable report (nb2svc exits 2 on
    unreadable notebooks even with --exit-zero, and still reports the others)."""
    return res.returncode is not None and parse_findings(res.stdout) is not None


def time_command(m: Measurement, runs: int, timeout: float, cwd: Path, warmup: bool) -> None:
    """Best-of-``runs`` timing of ``m.command``; the first (untimed) run warms the OS cache."""
    res = None
    for i in range(runs + int(warmup)):
        res = run(m.command, timeout, cwd)
        if not ok_run(res):
            m.status, m.returncode, m.note = "failed", res.returncode, failure_reason(res)
            m.seconds.clear()
            return
        if i >= int(warmup):
            m.seconds.append(res.seconds)
    if res is None:  # runs == 0
        return
    m.returncode = res.returncode
    m.findings, m.files_with_findings = parse_findings(res.stdout) or (None, None)
    m.stderr_errors = error_lines(res.stderr)


def nb2svc_command(exe: Path, cwd: Path, timeout: float) -> tuple[list[str], str]:
    """``nb2svc lint`` with ``--no-cache`` and ``--isolated`` when the CLI knows them."""
    base = [str(exe), "lint", "--exit-zero", "--format", "json"]
    res = run([str(exe), "lint", "--help"], timeout, cwd)
    if res.returncode != 0:
        raise RuntimeError(f"`nb2svc lint --help` failed: {res.stderr.strip()[-300:]}")
    wanted = [flag for flag in ("--no-cache", "--isolated") if flag in res.stdout]
    missing = [flag for flag in ("--no-cache", "--isolated") if flag not in wanted]
    note = f"without {', '.join(missing)} (not supported)" if missing else ""
    return base + wanted, note


def drop_rejected_flags(cmd: list[str], res: Run) -> list[str]:
    """Remove flags an argparse CLI rejected as unrecognized."""
    match = re.search(r"unrecognized arguments: (.*)", res.stderr)
    if res.returncode != 2 or not match:
        return cmd
    rejected = {arg for arg in match.group(1).split() if arg.startswith("--")}
    return [part for part in cmd if part not in rejected]


def ruff_command(exe: Path, version: str) -> list[str]:
    cmd = [str(exe), "check", "--isolated", "--no-cache", "--exit-zero", "--no-respect-gitignore"]
    cmd += ["--output-format", "json"]
    if parse_version(version) < (0, 6):  # notebooks became a default include in ruff 0.6
        cmd += ["--extend-include", "*.ipynb"]
    return cmd


def ruff_files_seen(cmd: list[str], target: Path, cwd: Path, timeout: float) -> int | None:
    """How many notebooks ruff would check (``--show-files``), to confirm it sees them all."""
    base = [c for c in cmd if c not in ("--exit-zero", "--output-format", "json")]
    res = run([*base, "--show-files", str(target)], timeout, cwd)
    if res.returncode != 0:
        return None
    return sum(1 for line in res.stdout.splitlines() if line.strip().endswith(".ipynb"))


def screen_nborder(
    cmd: list[str], files: list[Path], cwd: Path, timeout: float
) -> tuple[list[Path], dict[str, str]]:
    """Run nborder on each file alone (untimed, in parallel); split into ok and failed."""

    def one(path: Path) -> tuple[Path, Run]:
        return path, run([*cmd, str(path)], timeout, cwd)

    ok: list[Path] = []
    failed: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for path, res in pool.map(one, files):
            if ok_run(res):
                ok.append(path)
            else:
                failed[str(path)] = failure_reason(res)
    return ok, failed


# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------


def ensure_corpus(corpus: Path, timeout: float) -> None:
    if corpus.is_dir() and any(corpus.rglob("*.ipynb")):
        return
    print(f"corpus {corpus} missing: building it with bench/corpus.py ...", flush=True)
    cmd = [sys.executable, str(BENCH_DIR / "corpus.py"), "--out", str(corpus)]
    try:
        code = subprocess.run(cmd, timeout=timeout, check=False).returncode
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SystemExit(f"error: could not build the corpus: {exc}") from None
    if code != 0 or not corpus.is_dir():
        raise SystemExit(f"error: could not build the corpus (exit {code})")


def corpus_notebooks(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*.ipynb") if p.is_file())


def manifest_candidates(corpus: Path) -> list[tuple[Path, int]]:
    """Valid notebooks with >= 5 code cells, from the manifest written by corpus.py."""
    try:
        files = json.loads((corpus / "MANIFEST.json").read_text(encoding="utf-8"))["files"]
        return [
            (corpus / f["rel"], int(f["size"]))
            for f in files
            if not f.get("error") and f.get("stats", {}).get("code", 0) >= 5
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def typical_notebooks(corpus: Path, notebooks: list[Path]) -> list[Path]:
    """Valid notebooks ordered by closeness to the median size."""
    candidates = manifest_candidates(corpus)
    if not candidates:
        for path in notebooks:
            try:
                json.loads(path.read_bytes())
            except ValueError:
                continue
            candidates.append((path, path.stat().st_size))
    if not candidates:
        candidates = [(p, p.stat().st_size) for p in notebooks]
    if not candidates:
        return []
    median = statistics.median(size for _, size in candidates)
    candidates.sort(key=lambda item: (abs(item[1] - median), str(item[0])))
    return [path for path, _ in candidates]


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_corpus_table(rows: list[Measurement], n_corpus: int) -> None:
    ruff = next((m for m in rows if m.tool == "ruff" and m.status == "ok"), None)
    ruff_ms = ruff.per_notebook_ms() if ruff else None
    header = (
        f"{'tool':<8} {'files':>6} {'wall s':>8} {'ms/nb':>8} {'vs ruff':>8} "
        f"{'findings':>9} {'in nbs':>8}  notes"
    )
    print(header)
    print("-" * len(header))
    for m in rows:
        if m.status != "ok":
            print(
                f"{m.tool:<8} {'-':>6} {'-':>8} {'-':>8} {'-':>8} {'-':>9} {'-':>8}  "
                f"{m.status}: {m.note}"
            )
            continue
        per = m.per_notebook_ms()
        ratio = per / ruff_ms if per is not None and ruff_ms else None
        wall = m.estimated_corpus_seconds() if m.extrapolated_to else m.best
        files = f"{m.files}" if not m.extrapolated_to else f"~{n_corpus}"
        notes = m.note
        if m.extrapolated_to:
            sampled = m.files + m.failures
            notes = (
                f"estimated from {m.files} of {sampled} sampled notebooks ({m.best:.2f} s); "
                f"{m.failures}/{sampled} failed to parse; findings are for the sample"
            )
        elif m.stderr_errors:
            notes = f"{m.stderr_errors} error line(s) on stderr, exit {m.returncode}; " + notes
        print(
            f"{m.tool:<8} {files:>6} {fmt(wall, '.3f'):>8} {fmt(per, '.2f'):>8} "
            f"{fmt(ratio, '.1f') + 'x' if ratio else '-':>8} {fmt(m.findings, 'd'):>9} "
            f"{fmt(m.files_with_findings, 'd'):>8}  {notes.strip().rstrip(';')}"
        )


def print_single_table(rows: list[Measurement], path: Path | None) -> None:
    if path is not None:
        print(f"notebook: {path} ({path.stat().st_size / 1024:.0f} KiB)")
    ruff = next((m for m in rows if m.tool == "ruff" and m.status == "ok"), None)
    ruff_med = statistics.median(ruff.seconds) if ruff else None
    header = f"{'tool':<8} {'runs':>5} {'median ms':>10} {'p90 ms':>8} {'min ms':>8} {'vs ruff':>8}"
    print(header)
    print("-" * len(header))
    for m in rows:
        if m.status != "ok":
            print(
                f"{m.tool:<8} {'-':>5} {'-':>10} {'-':>8} {'-':>8} {'-':>8}  {m.status}: {m.note}"
            )
            continue
        med = statistics.median(m.seconds)
        ratio = f"{med / ruff_med:.1f}x" if ruff_med else "-"
        print(
            f"{m.tool:<8} {len(m.seconds):>5} {1000 * med:>10.1f} "
            f"{1000 * percentile(m.seconds, 90):>8.1f} {1000 * min(m.seconds):>8.1f} {ratio:>8}"
        )


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare nb2svc lint with ruff and nborder on a notebook corpus."
    )
    parser.add_argument(
        "corpus",
        nargs="?",
        type=Path,
        default=DEFAULT_CORPUS,
        help="corpus folder (default: %(default)s; built if missing)",
    )
    parser.add_argument("--runs", type=int, default=3, help="best of N runs (default: 3)")
    parser.add_argument(
        "--nborder-sample",
        type=int,
        default=50,
        metavar="N",
        help="notebooks sampled for nborder (default: 50; 0 skips nborder)",
    )
    parser.add_argument(
        "--single-runs",
        type=int,
        default=20,
        metavar="N",
        help="runs on one typical notebook (default: 20; 0 skips)",
    )
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help="comma-separated subset of %(default)s"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the nborder sample")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="timeout of one subprocess in seconds (default: 900)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_RESULTS,
        help="JSON results file (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(args.tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown tool(s): {', '.join(unknown)}")
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    return args


@dataclass
class Tool:
    name: str
    exe: Path | None
    version: str = ""
    command: list[str] = field(default_factory=list)
    note: str = ""
    problem: str = ""


def discover(args: argparse.Namespace, cwd: Path) -> dict[str, Tool]:
    tools: dict[str, Tool] = {}
    for name in args.tools:
        tool = Tool(name, find_executable(name))
        tools[name] = tool
        if tool.exe is None:
            tool.problem = "not installed"
            continue
        tool.version = tool_version(tool.exe, {"nb2svc": "notebook2service"}.get(name, name), cwd)
        try:
            if name == "nb2svc":
                tool.command, tool.note = nb2svc_command(tool.exe, cwd, args.timeout)
            elif name == "ruff":
                tool.command = ruff_command(tool.exe, tool.version)
            else:
                tool.command = [str(tool.exe), "check", "--output-format", "json", "--exit-zero"]
        except RuntimeError as exc:
            tool.problem = str(exc)
    return tools


def bench_corpus(
    tools: dict[str, Tool], args: argparse.Namespace, corpus: Path, notebooks: list[Path], cwd: Path
) -> list[Measurement]:
    rows: list[Measurement] = []
    for name in ("ruff", "nb2svc"):
        tool = tools.get(name)
        if tool is None:
            continue
        m = Measurement(name, "corpus", len(notebooks), [*tool.command, str(corpus)])
        rows.append(m)
        if tool.problem:
            m.status, m.note = "skipped", tool.problem
            continue
        print(f"  {name}: {args.runs} run(s) over {len(notebooks)} notebooks ...", flush=True)
        warmup = True
        if name == "nb2svc":  # this run warms up; retry without flags an older CLI rejects
            probe = run(m.command, args.timeout, cwd)
            before = m.command
            m.command = drop_rejected_flags(m.command, probe)
            rejected = [part for part in before if part not in m.command]
            if rejected:
                tool.note = "; ".join(
                    filter(None, [tool.note, f"retried without {' '.join(rejected)} (rejected)"])
                )
            warmup = m.command[:-1] != tool.command
            tool.command = m.command[:-1]
        time_command(m, args.runs, args.timeout, cwd, warmup=warmup)
        m.note = "; ".join(filter(None, [m.note, tool.note]))
        if name == "ruff" and m.status == "ok":
            seen = ruff_files_seen(tool.command, corpus, cwd, args.timeout)
            if seen is not None and seen != len(notebooks):
                m.note = f"ruff saw {seen} notebooks; " + m.note
    tool = tools.get("nborder")
    if tool is not None and args.nborder_sample > 0:
        rows.append(bench_nborder(tool, args, notebooks, cwd))
    return rows


def bench_nborder(
    tool: Tool, args: argparse.Namespace, notebooks: list[Path], cwd: Path
) -> Measurement:
    k = min(args.nborder_sample, len(notebooks))
    sample = sorted(random.Random(args.seed).sample(notebooks, k))
    m = Measurement("nborder", "sample", k, list(tool.command), extrapolated_to=len(notebooks))
    if tool.problem:
        m.status, m.note = "skipped", tool.problem
        return m
    print(f"  nborder: screening {k} sampled notebooks one by one ...", flush=True)
    ok, failed = screen_nborder(tool.command, sample, cwd, args.timeout)
    m.failures = len(failed)
    m.failed_files = failed
    m.files = len(ok)
    if not ok:
        m.status, m.note = "failed", f"all {k} sampled notebooks failed"
        return m
    print(
        f"  nborder: {args.runs} run(s) over {len(ok)} notebooks that it can parse ...", flush=True
    )
    m.command = [*tool.command, *map(str, ok)]
    time_command(m, args.runs, args.timeout, cwd, warmup=False)
    m.command = [*tool.command, f"<{len(ok)} sampled notebooks>"]
    return m


def bench_single(
    tools: dict[str, Tool], args: argparse.Namespace, corpus: Path, notebooks: list[Path], cwd: Path
) -> tuple[Path | None, list[Measurement]]:
    candidates = typical_notebooks(corpus, notebooks)[:20]
    chosen: Path | None = None
    for path in candidates:  # typical *and* accepted by every available tool
        if all(
            t.problem or ok_run(run([*t.command, str(path)], args.timeout, cwd))
            for t in tools.values()
        ):
            chosen = path
            break
    chosen = chosen or (candidates[0] if candidates else None)
    rows: list[Measurement] = []
    if chosen is None:
        return None, rows
    print(f"  single notebook x{args.single_runs}: {chosen.name}", flush=True)
    for name in ("ruff", "nb2svc", "nborder"):
        tool = tools.get(name)
        if tool is None:
            continue
        m = Measurement(name, "single", 1, [*tool.command, str(chosen)])
        rows.append(m)
        if tool.problem:
            m.status, m.note = "skipped", tool.problem
            continue
        time_command(m, args.single_runs, args.timeout, cwd, warmup=True)
    return chosen, rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = args.corpus.resolve()
    ensure_corpus(corpus, args.timeout)
    notebooks = corpus_notebooks(corpus)
    total_bytes = sum(p.stat().st_size for p in notebooks)
    with tempfile.TemporaryDirectory(prefix="nb2svc-bench-") as tmp:
        cwd = Path(tmp)  # neutral working folder: no project config, no caches in the repo
        tools = discover(args, cwd)
        print(f"corpus: {corpus} ({len(notebooks)} notebooks, {total_bytes / 1e6:.1f} MB)")
        print(
            f"machine: {platform.platform()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}"
        )
        for tool in tools.values():
            state = tool.problem or f"{tool.version} ({tool.exe})"
            print(f"  {tool.name:<8} {state}")
        print(f"\nWhole corpus, best of {args.runs} cold runs:")
        corpus_rows = bench_corpus(tools, args, corpus, notebooks, cwd)
        single_path: Path | None = None
        single_rows: list[Measurement] = []
        if args.single_runs > 0:
            print("\nOne typical notebook:")
            single_path, single_rows = bench_single(tools, args, corpus, notebooks, cwd)

    print(f"\n== Whole corpus ({len(notebooks)} notebooks), best of {args.runs} ==")
    print_corpus_table(corpus_rows, len(notebooks))
    nborder = next((m for m in corpus_rows if m.tool == "nborder" and m.status == "ok"), None)
    if nborder:
        print(
            f"(nborder: ms/nb measured in one batch over the notebooks it can parse out of a "
            f"random sample of {args.nborder_sample}, seed {args.seed};\n"
            f" wall s = ms/nb x {len(notebooks)}, an estimate"
            + (
                ": on the whole corpus nborder would stop at its first unparseable notebook)"
                if nborder.failures
                else ")"
            )
        )
        for path, why in list(nborder.failed_files.items())[:3]:
            why = why.replace(f"{path}: ", "")
            print(f"  nborder failed on {Path(path).name}: {why}")
        if len(nborder.failed_files) > 3:
            print(f"  ... and {len(nborder.failed_files) - 3} more (see the JSON results)")
    if single_rows:
        print(f"\n== One notebook, {args.single_runs} cold runs each ==")
        print_single_table(single_rows, single_path)

    results = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "corpus": {"path": str(corpus), "notebooks": len(notebooks), "bytes": total_bytes},
        "settings": {
            "runs": args.runs,
            "nborder_sample": args.nborder_sample,
            "single_runs": args.single_runs,
            "seed": args.seed,
        },
        "tools": {
            t.name: {
                "exe": str(t.exe) if t.exe else None,
                "version": t.version,
                "problem": t.problem or None,
                "note": t.note or None,
            }
            for t in tools.values()
        },
        "corpus_runs": [m.to_json() for m in corpus_rows],
        "single": {
            "notebook": str(single_path) if single_path else None,
            "runs": [m.to_json() for m in single_rows],
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
