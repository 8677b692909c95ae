#!/usr/bin/env python3
"""Fidelity: does the converted package print and display exactly what the notebook does?

``nb2svc verify`` runs a notebook top-down in a fresh kernel (papermill) and its converted
package in a fresh process, and compares, cell by cell, two things: their stdout, and their
displayed values (each cell's ``Out[n]``: the notebook's ``execute_result`` text/plain against
the package's ``show_result`` repr, with object addresses normalized). This script measures how
often each mode is equal over:

* **samples**: every ``sample_notebooks/*.ipynb`` except ``hidden_state.ipynb`` (broken on
  purpose), run in a temporary copy of the folder;
* **corpus**: every notebook below ``--corpus`` (default ``../shared/corpus`` next to the repo
  root; skipped with a message when absent) that runs offline top-down in a fresh kernel. They
  are found in two passes:

  1. a static filter skips notebooks that are not valid Python 3 notebooks, need a cloud
     account (azureml, google.cloud, vertexai, sagemaker, kfp, boto3 imports; gcloud /
     gsutil / bq / az / aws shell lines; a PROJECT_ID), import tensorflow / torch / keras /
     pyspark / theano when it is not installed here, or pip-install packages themselves;
  2. the rest are executed with papermill, ``--jobs`` at a time (default 2), ``--timeout``
     seconds each (default 60), each in a scratch folder (a notebook that reads a URL fails
     at once here and is counted as needing the network). The outcome is cached per
     environment in ``bench/results/fidelity_runnable-<hash>.json`` (keyed by path and
     content hash), so reruns only verify. ``--refresh`` ignores the cache; ``--limit N``
     takes the first N candidates.

  Notebooks that cannot run here are counted by reason (not Python 3, network, cloud, GPU
  frameworks, missing data files or modules, failing on today's libraries, timeouts).

Every runnable notebook is then verified (``verify()`` in a subprocess, in a scratch copy of
its folder, under its file name in its repository, since the package is named after it).
With ``--prefixes``, corpus notebooks that raise part-way are also verified cut before their
first failing cell (their "runnable prefix"); these are reported in a separate table.

The script prints a table per source (notebook, lines of stdout, stdout: equal or the first
differing cell and its cause, values displayed, displayed values: the same), the rates
``stdout equal: X / N (P%)`` and ``displayed values equal: X / N (P%)``, and each difference
with the explanation verify gives; ``bench/results/fidelity.json`` (git-ignored) holds all of it.

With ``--seed N`` every verify runs with ``seed=N`` (``nb2svc verify --seed N``): both sides
start with ``random`` and numpy's global generator seeded alike, so notebooks that draw
unseeded random numbers are compared too; reported separately (``fidelity-seedN.json``).

The bench may run in a venv of its own with packages the product never requires:
``pip install -r bench/fidelity-requirements.txt`` (seaborn, statsmodels, numexpr), or
``-r bench/fidelity-era.txt`` for the library versions the tutorial notebooks were written
for; ``--label NAME`` names the results file ``fidelity-NAME.json`` (bench/README.md).

    python bench/fidelity.py [--samples-only] [--corpus DIR] [--jobs 2] [--timeout 60]
                             [--limit N] [--refresh] [--prefixes] [--seed N] [--label NAME]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from notebook2service.verify import run_group as verify_run_group

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SAMPLES = REPO_ROOT / "sample_notebooks"
NOT_RUNNABLE_SAMPLES = {"hidden_state.ipynb"}
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus"
RESULTS = BENCH_DIR / "results"
CACHE_VERSION = 3
MODES = ("stdout", "display")
#: a non-runnable notebook's reason, by kind
_REASON_KINDS = (
    ("not Python 3", r"not Python 3|kernel language"),
    ("needs the network", r"^network"),
    ("needs a cloud account", r"^needs a cloud account"),
    (
        "needs a GPU / deep-learning framework",
        r"^imports |No module named '(tensorflow|torch"
        r"|keras|theano|pyspark)",
    ),
    ("installs packages", r"^installs packages"),
    ("raises an error its saved outputs show too", r"^raises as saved"),
    ("missing data file", r"FileNotFoundError|No such file"),
    ("missing module", r"ModuleNotFoundError|No module named"),
    ("timed out", r"timed out"),
    ("unreadable", r"unreadable|not a notebook"),
)

#: GPU / deep-learning frameworks: a notebook that imports one runs only where it is installed
_HEAVY = re.compile(
    r"^\s*(?:import|from)\s+(tensorflow|torch|keras|pyspark|theano)\b", re.MULTILINE
)
_CLOUD = re.compile(
    r"^\s*(?:import|from)\s+(azureml|azure|google\.cloud|vertexai|sagemaker|kfp|boto3)\b",
    re.MULTILINE,
)
#: a cloud CLI in a `!` line, or a Google Cloud project the notebook sets
_CLOUD_CLI = re.compile(
    r"^\s*!\s*(gcloud|gsutil|bq|az|aws)\b|^\s*(PROJECT_ID)\s*=|^\s*%%(bigquery)\b", re.MULTILINE
)
#: installs packages into the kernel (it would change the bench's own environment)
_INSTALLS = re.compile(r"^\s*[!%]\s*(?:pip3?|conda|mamba)\s+install\b", re.MULTILINE)
#: reads URLs or downloads data: such a notebook still runs (a URL may be in a comment or
#: have a local fallback); when it then fails on a missing file, the network is the reason
_NETWORK = re.compile(
    r"\burlopen\b|\brequests\b|\bwget\b|https?://|\bfetch_\w+|\bdownload\w*", re.IGNORECASE
)
#: errors that mean "no network here" (this machine reaches package registries only)
_NETWORK_ERROR = re.compile(
    r"URLError|ConnectionError|gaierror|Name or service not known|name resolution|"
    r"Max retries exceeded|HTTPError|Could not resolve host|Network is unreachable",
    re.IGNORECASE,
)
_PY2_PRINT = re.compile(r"^\s*print\s+[^\s(=.,)]", re.MULTILINE)


# ---------------------------------------------------------------------------------------------
# Subprocesses
# ---------------------------------------------------------------------------------------------


def run_group(cmd: list[str], cwd: Path, timeout: float) -> tuple[int | None, str, str, float]:
    """Run `cmd` in its own process group (verify's runner); kill the whole group (kernels
    too) on timeout and when it ends."""
    start = time.perf_counter()
    code, out, err = verify_run_group(cmd, cwd, None, timeout)
    return (
        code,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        time.perf_counter() - start,
    )


# ---------------------------------------------------------------------------------------------
# Corpus: static filter, then "does it run offline?"
# ---------------------------------------------------------------------------------------------


def static_reason(path: Path) -> str | None:
    """Why the notebook is skipped without running it, or None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"unreadable ({type(exc).__name__})"
    if not isinstance(data, dict):
        return "not a notebook"
    md = data.get("metadata") or {}
    ks = md.get("kernelspec") or {}
    li = md.get("language_info") or {}
    lang = str(ks.get("language") or li.get("name") or "python").lower()
    if lang not in ("python", "python3", "ipython3"):
        return f"kernel language {lang}"
    version = str(li.get("version") or "")
    if ks.get("name") == "python2" or version.startswith("2") or data.get("nbformat", 4) < 4:
        return "not Python 3"
    cells = data.get("cells")
    if not isinstance(cells, list):
        return "not a notebook"
    code = notebook_code(cells)
    if _PY2_PRINT.search(code):
        return "not Python 3 (print statement)"
    m = _CLOUD.search(code)
    if m:
        return f"needs a cloud account ({m.group(1)})"
    m = _CLOUD_CLI.search(code)
    if m:
        return f"needs a cloud account ({next(g for g in m.groups() if g)})"
    m = _HEAVY.search(code)
    if m and importlib.util.find_spec(m.group(1)) is None:
        return f"imports {m.group(1)} (not installed here)"
    if _INSTALLS.search(code):
        return "installs packages (pip install in the notebook)"
    return None


def notebook_code(cells: list[Any]) -> str:
    return "\n".join(
        "".join(c["source"]) if isinstance(c.get("source"), list) else str(c.get("source", ""))
        for c in cells
        if isinstance(c, dict) and c.get("cell_type") == "code"
    )


def run_reason(path: Path, error: str, failed_at: int | None) -> str:
    """A failed run's reason: "network: ..." when the error says there is no network, or
    when a file is missing that the notebook downloads (its code holds a URL or a download
    call); "raises as saved" when the notebook's saved outputs show the same exception in
    that cell (a tutorial showing an error on purpose); else the error itself."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells") or []
    except (OSError, ValueError):
        cells = []
    if _NETWORK_ERROR.search(error):
        return f"network: {error}"
    m = _NETWORK.search(notebook_code(cells))
    if m and re.search(r"FileNotFoundError|No such file", error):
        return f"network (downloads its data: {m.group(0)}): {error}"
    if failed_at is not None and failed_at < len(cells):
        outputs = (cells[failed_at] if isinstance(cells[failed_at], dict) else {}).get("outputs")
        ename = error.split(":")[0].strip()
        if any(isinstance(o, dict) and o.get("ename") == ename for o in outputs or []):
            return f"raises as saved: {error}"
    return error


@functools.cache
def environment() -> str:
    """This interpreter and every distribution installed in it, as one hash: whether a
    notebook runs depends on them (install seaborn, and the cached outcomes are redone)."""
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    return hashlib.sha256("\n".join([sys.prefix, *dists]).encode()).hexdigest()[:16]


def runnable_cache() -> Path:
    """Which notebooks run, cached per environment (a bench venv has its own file)."""
    return RESULTS / f"fidelity_runnable-{environment()}.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def try_run(path: Path, timeout: float) -> dict[str, Any]:
    """Execute the notebook with papermill in a scratch folder; report whether it ran and,
    when a cell raised, how many leading cells ran before it (`failed_at`)."""
    with tempfile.TemporaryDirectory(prefix="nb2svc-fidelity-") as tmp:
        work = Path(tmp)
        shutil.copy2(path, work / "notebook.ipynb")
        cmd = [
            sys.executable,
            "-m",
            "papermill",
            "notebook.ipynb",
            "executed.ipynb",
            "--kernel",
            "python3",
            "--cwd",
            str(work),
            "--no-progress-bar",
            "--execution-timeout",
            str(int(timeout)),
        ]
        code, _, err, seconds = run_group(cmd, work, timeout)
        failed_at = _failed_at(work / "executed.ipynb") if code not in (0, None) else None
    if code == 0:
        return {"runnable": True, "reason": "", "seconds": round(seconds, 1)}
    if code is None:
        reason = f"timed out after {timeout:g} s"
    else:
        lines = [ln.strip() for ln in err.strip().splitlines() if ln.strip()]
        errs = [ln for ln in lines if re.match(r"^\w+(Error|Exception)\b", ln)]
        reason = run_reason(path, (errs or lines or ["papermill failed"])[-1][:200], failed_at)
    return {
        "runnable": False,
        "reason": reason,
        "seconds": round(seconds, 1),
        "failed_at": failed_at,
    }


def _failed_at(executed: Path) -> int | None:
    """Index (0-based, over the original cells) of the first cell with an error output."""
    try:
        data = json.loads(executed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cells = [
        c
        for c in data.get("cells", [])
        if not {"papermill-error-cell-tag", "injected-parameters"}
        & set((c.get("metadata") or {}).get("tags") or [])
    ]
    for i, c in enumerate(cells):
        if any(o.get("output_type") == "error" for o in c.get("outputs") or []):
            return i
    return None


def corpus_candidates(corpus: Path) -> list[Path]:
    """Every notebook of every repository folder of the corpus, in a stable order."""
    out: list[Path] = []
    for folder in sorted(p for p in corpus.iterdir() if p.is_dir()):
        out += sorted(folder.rglob("*.ipynb"))
    return out


def find_runnable(
    corpus: Path, jobs: int, timeout: float, refresh: bool, limit: int | None
) -> tuple[list[Path], dict[str, Any]]:
    candidates = corpus_candidates(corpus)
    if limit is not None:
        candidates = candidates[:limit]
    cache: dict[str, Any] = {}
    cache_file = runnable_cache()
    if cache_file.is_file() and not refresh:
        try:
            data = json.loads(cache_file.read_text(encoding="utf-8"))
            if (data.get("version"), data.get("timeout"), data.get("environment")) == (
                CACHE_VERSION,
                timeout,
                environment(),
            ):
                cache = data.get("notebooks", {})
        except (OSError, ValueError):
            cache = {}
    entries: dict[str, Any] = {}
    to_run: list[tuple[str, Path, str]] = []
    for path in candidates:
        rel = path.relative_to(corpus).as_posix()
        digest = sha256(path)
        cached = cache.get(rel)
        if cached and cached.get("sha256") == digest:
            entries[rel] = cached
            continue
        reason = static_reason(path)
        if reason is not None:
            entries[rel] = {
                "sha256": digest,
                "runnable": False,
                "stage": "static",
                "reason": reason,
            }
        else:
            to_run.append((rel, path, digest))
    if to_run:
        print(
            f"fidelity: executing {len(to_run)} notebooks with papermill "
            f"({jobs} at a time, {timeout:g} s each) to find those that run offline…",
            flush=True,
        )

        def one(item: tuple[str, Path, str]) -> tuple[str, dict[str, Any]]:
            rel, path, digest = item
            res = try_run(path, timeout)
            mark = "ok " if res["runnable"] else "-- "
            print(f"  {mark}{rel} ({res['seconds']} s) {res['reason']}", flush=True)
            return rel, {"sha256": digest, "stage": "run", **res}

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for rel, res in pool.map(one, to_run):
                entries[rel] = res
                _save_cache(entries, timeout, cache)
    _save_cache(entries, timeout, cache)
    runnable = sorted(corpus / rel for rel, e in entries.items() if e.get("runnable"))
    return runnable, entries


def _save_cache(entries: dict[str, Any], timeout: float, old: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    merged = {**old, **entries}
    data = {
        "version": CACHE_VERSION,
        "timeout": timeout,
        "environment": environment(),
        "runnable": sorted(k for k, v in merged.items() if v.get("runnable")),
        "notebooks": dict(sorted(merged.items())),
    }
    tmp = runnable_cache().with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, runnable_cache())


# ---------------------------------------------------------------------------------------------
# Verify
# ---------------------------------------------------------------------------------------------

_ONE = r"""
import json, sys
from notebook2service.verify import VerifyError, report_text, verify
try:
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else None
    r = verify(sys.argv[1], timeout=float(sys.argv[2]), seed=seed)
except VerifyError as exc:
    print(json.dumps({"verify_error": str(exc)}))
else:
    d = r.to_dict()
    d["text"] = report_text(r)
    print(json.dumps(d))
"""


def repo_name(rel: str) -> str:
    """The notebook's file name in its repository (the corpus flattens paths with `__`)."""
    return Path(rel).name.split("__")[-1]


def verify_one(
    notebook: Path,
    folder: Path | None,
    timeout: float,
    *,
    name: str | None = None,
    data: dict[str, Any] | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """verify() in a subprocess, on a scratch copy (of `folder` when given, else the file,
    saved as `name`; `data` replaces the notebook's content, e.g. a runnable prefix)."""
    with tempfile.TemporaryDirectory(prefix="nb2svc-fidelity-") as tmp:
        work = Path(tmp) / "nb"
        if folder is not None:
            shutil.copytree(
                folder,
                work,
                ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "nb_helpers.py"),
            )
            target = work / notebook.relative_to(folder)
        else:
            work.mkdir()
            target = work / (name or notebook.name)
            if data is not None:
                target.write_text(json.dumps(data, indent=1), encoding="utf-8")
            else:
                shutil.copy2(notebook, target)
        # several cells may run up to `timeout` s each; bound the whole run generously
        code, out, err, seconds = run_group(
            [sys.executable, "-c", _ONE, str(target), str(timeout)]
            + ([] if seed is None else [str(seed)]),
            work,
            timeout * 6 + 60,
        )
    line = out.strip().splitlines()[-1] if out.strip() else ""
    try:
        result = json.loads(line)
    except ValueError:
        result = {
            "verify_error": ("timed out" if code is None else _last(err) or f"exit status {code}")
        }
    result["seconds"] = round(seconds, 1)
    return result


def prefix_of(path: Path, failed_at: int) -> dict[str, Any] | None:
    """The notebook cut before its first failing cell, or None when no code cell is left."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cells = data.get("cells") or []
    kept = cells[:failed_at]
    if not any(isinstance(c, dict) and c.get("cell_type") == "code" for c in kept):
        return None
    return {**data, "cells": kept}


def _last(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def summarize(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """One row: equal in each mode (stdout, displayed values), and each mode's first difference
    with the cause verify names."""
    if "verify_error" in data:
        return {
            "notebook": name,
            "equal": False,
            "stdout_equal": False,
            "displays_equal": False,
            "displays": None,
            "first_cell": None,
            "lines": None,
            "cause": "verify error",
            "explanation": data["verify_error"],
            "differences": {},
            "report": "",
            "seconds": data.get("seconds"),
        }
    failed = data.get("cause") in ("package error", "notebook error")
    differences = {d["mode"]: d for d in data.get("differences") or []}
    if failed:  # nothing to compare in either mode: the failure is each mode's difference
        differences = {
            m: {
                "mode": m,
                "cell": data.get("first_cell"),
                "cause": data.get("cause"),
                "explanation": data.get("explanation"),
            }
            for m in MODES
        }
    return {
        "notebook": name,
        "equal": bool(data.get("equal")),
        "stdout_equal": not failed and data.get("stdout_equal") is not False,
        "displays_equal": not failed and data.get("displays_equal") is not False,
        "displays": data.get("displays"),
        "first_cell": data.get("first_cell"),
        "execution_count": data.get("execution_count"),
        "first_step": data.get("first_step"),
        "lines": data.get("lines"),
        "cause": data.get("cause"),
        "explanation": data.get("explanation"),
        "differences": {
            m: {k: d.get(k) for k in ("cell", "cause", "explanation")}
            for m, d in differences.items()
        },
        "report": data.get("text", ""),
        "normalized": data.get("normalized", []),
        "timings": data.get("timings", {}),
        "seconds": data.get("seconds"),
    }


def _mode_cell(r: dict[str, Any], mode: str) -> str:
    key = "stdout_equal" if mode == "stdout" else "displays_equal"
    if r[key]:
        return "equal"
    d = r["differences"].get(mode) or {}
    where = f"cell {d['cell']}: " if d.get("cell") is not None else ""
    return f"{where}{d.get('cause') or r['cause'] or '?'}"


def table(rows: list[dict[str, Any]]) -> str:
    header = ("notebook", "lines", "stdout", "displayed", "displayed values")
    body = [
        (
            r["notebook"],
            "" if r.get("lines") is None else str(r["lines"]),
            _mode_cell(r, "stdout"),
            "" if r.get("displays") is None else str(r["displays"]),
            _mode_cell(r, "display"),
        )
        for r in rows
    ]
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(header)]
    widths[0] = min(widths[0], 64)
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        cells = [b[0] if len(b[0]) <= widths[0] else "…" + b[0][-(widths[0] - 1) :], *b[1:]]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _one_rate(subset: list[dict[str, Any]], key: str) -> str:
    n = len(subset)
    x = sum(1 for r in subset if r[key])
    return f"{x} / {n} ({100 * x / n:.0f}%)" if n else "0 / 0"


def rate(rows: list[dict[str, Any]]) -> str:
    """% equal in each mode, also over the notebooks that print / display something."""
    printing = [r for r in rows if r.get("lines") != 0]
    showing = [r for r in rows if r.get("displays") != 0]
    return (
        f"stdout equal: {_one_rate(rows, 'stdout_equal')} "
        f"(among notebooks that print: {_one_rate(printing, 'stdout_equal')}); "
        f"displayed values equal: {_one_rate(rows, 'displays_equal')} "
        f"(among notebooks that display: {_one_rate(showing, 'displays_equal')})"
    )


def causes(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per mode: cause → number of notebooks whose first difference it explains."""
    out: dict[str, dict[str, int]] = {m: {} for m in MODES}
    for r in rows:
        for mode, d in r["differences"].items():
            key = d.get("cause") or "?"
            out[mode][key] = out[mode].get(key, 0) + 1
    return out


def verify_many(
    items: list[dict[str, Any]], jobs: int, timeout: float, seed: int | None = None
) -> list[dict[str, Any]]:
    """items: {"name", "path", "folder"?, "scratch"?, "data"?}."""

    def one(item: dict[str, Any]) -> dict[str, Any]:
        result = verify_one(
            item["path"],
            item.get("folder"),
            timeout,
            name=item.get("scratch"),
            data=item.get("data"),
            seed=seed,
        )
        row = summarize(item["name"], result)
        flag = "equal" if row["equal"] else f"different ({row['cause']})"
        print(f"  {item['name']}: {flag} [{row['seconds']} s]", flush=True)
        return row

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, items))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="real notebook corpus")
    p.add_argument("--samples-only", action="store_true", help="only the sample notebooks")
    p.add_argument("--jobs", type=int, default=2, help="notebooks run at a time (default 2)")
    p.add_argument(
        "--timeout", type=float, default=60, help="seconds per notebook run (default 60)"
    )
    p.add_argument("--limit", type=int, help="only the first N corpus candidates")
    p.add_argument("--refresh", action="store_true", help="ignore the runnable cache")
    p.add_argument(
        "--seed",
        type=int,
        help="verify --seed N: both runs start with random and numpy seeded alike "
        "(results go to fidelity-seedN.json)",
    )
    p.add_argument(
        "--label",
        help="name the results file fidelity-LABEL.json (e.g. one per bench venv)",
    )
    p.add_argument(
        "--prefixes",
        action="store_true",
        help="also verify the cells before the first failing cell of corpus notebooks that "
        "raise part-way (reported separately)",
    )
    return p.parse_args(argv)


def report_section(title: str, rows: list[dict[str, Any]], result: dict[str, Any]) -> None:
    print()
    print(title)
    print(table(rows))
    print(rate(rows))
    found = causes(rows)
    for mode in MODES:
        if found[mode]:
            listed = ", ".join(f"{k} {v}" for k, v in sorted(found[mode].items()))
            print(f"{mode} differences by cause: {listed}")
    for r in rows:
        for mode, d in sorted(r["differences"].items()):
            print(f"  {r['notebook']} [{mode}]: {d.get('explanation')}")
    result.setdefault("causes", {})[title] = found
    result.setdefault("rates", {})[title] = rate(rows)


def skipped_reasons(entries: dict[str, Any]) -> dict[str, int]:
    """Why corpus notebooks cannot run here, by kind (from the static filter or their run)."""
    out: dict[str, int] = {}
    for e in entries.values():
        if e.get("runnable"):
            continue
        reason = str(e.get("reason") or "")
        kind = next((k for k, pattern in _REASON_KINDS if re.search(pattern, reason)), None)
        module = re.search(r"No module named '([\w.]+)'", reason)
        if kind == "missing module" and module:
            kind += f" ({module.group(1)})"
        key = kind or "fails on today's libraries or raises (" + reason.split(":")[0][:40] + ")"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "timeout": args.timeout,
        "seed": args.seed,
        "samples": [],
        "corpus": [],
    }

    samples = sorted(p for p in SAMPLES.glob("*.ipynb") if p.name not in NOT_RUNNABLE_SAMPLES)
    print(f"fidelity: verifying {len(samples)} sample notebooks…", flush=True)
    rows = verify_many(
        [{"name": p.name, "path": p, "folder": SAMPLES} for p in samples],
        args.jobs,
        max(args.timeout, 120),
        args.seed,
    )
    result["samples"] = rows

    corpus_rows: list[dict[str, Any]] = []
    prefix_rows: list[dict[str, Any]] = []
    if not args.samples_only:
        if not args.corpus.is_dir():
            print(f"fidelity: no corpus at {args.corpus}; only the samples are measured")
        else:
            runnable, entries = find_runnable(
                args.corpus, args.jobs, args.timeout, args.refresh, args.limit
            )
            stages: dict[str, int] = {}
            for e in entries.values():
                key = "runnable" if e.get("runnable") else f"skipped ({e.get('stage')})"
                stages[key] = stages.get(key, 0) + 1
            result["funnel"] = {"candidates": len(entries), **stages}
            result["cannot_run"] = skipped_reasons(entries)
            print(f"fidelity: {len(entries) - len(runnable)} corpus notebooks cannot run here:")
            for reason, n in result["cannot_run"].items():
                print(f"  {n:4d}  {reason}")
            print(
                f"fidelity: {len(entries)} corpus candidates, {len(runnable)} run offline; "
                "verifying them…",
                flush=True,
            )
            items = []
            for p in runnable:
                rel = p.relative_to(args.corpus).as_posix()
                items.append({"name": rel, "path": p, "scratch": repo_name(rel)})
            corpus_rows = verify_many(items, args.jobs, args.timeout, args.seed)
            result["corpus"] = corpus_rows
            if args.prefixes:
                items = []
                for rel, e in sorted(entries.items()):
                    if e.get("runnable") or e.get("failed_at") is None:
                        continue
                    data = prefix_of(args.corpus / rel, e["failed_at"])
                    if data is not None:
                        items.append(
                            {
                                "name": f"{rel} [cells 1-{e['failed_at']}]",
                                "path": args.corpus / rel,
                                "scratch": repo_name(rel),
                                "data": data,
                            }
                        )
                print(f"fidelity: verifying {len(items)} runnable prefixes…", flush=True)
                prefix_rows = verify_many(items, args.jobs, args.timeout, args.seed)
                result["prefixes"] = prefix_rows

    report_section("samples", rows, result)
    if corpus_rows:
        report_section("corpus", corpus_rows, result)
    if prefix_rows:
        report_section("corpus prefixes (cells before the first failing cell)", prefix_rows, result)
    result["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "fidelity" + (f"-{args.label}" if args.label else "")
    name += "" if args.seed is None else f"-seed{args.seed}"
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {out.relative_to(REPO_ROOT)} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
