#!/usr/bin/env python3
"""False alarms before and after, on a corpus of real notebooks (issue 12, "False alarms").

For every notebook: `nb2svc lint` (all rules) and `convert` (in memory, nothing written); the
findings of five alarm classes are counted, as notebooks and findings:

- undefined names in a notebook with a star import (lint NB103/NB104, convert
  `undefined-in-package`): `from preamble import *` not followed;
- ruff findings in the author's own code made conversion *errors* (generated-code findings
  of severity error other than the undefined names the conversion itself can introduce);
- the "`knn` is not a Pipeline …" warning (`features-not-pipeline`), with two subsets: with no
  preparation that learns from data, and for a model the notebook builds as a Pipeline;
- NB107 "a later cell mutates `SVC`" for a name the notebook imports or defines with def/class;
- NB203 "absolute path".

"Before" runs another checkout of the code (``--base DIR``, e.g. made with
``git worktree add /tmp/alarms-base <commit>``) with the same interpreter, PYTHONPATH first;
"after" runs this checkout. Each side's findings are saved as JSON (``--out DIR``), the table is
printed, and ``--sample N`` prints N seeded random "after" findings of each class with their cell's
line, to check by hand.

    python bench/alarms.py ../shared/corpus --base /tmp/alarms-base [--jobs 2] [--sample 5]
    python bench/alarms.py ../shared/corpus --collect OUT.json   # one side only

When the corpus folder is absent, it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CLASSES = {
    "star-undefined": "undefined name where a star import is in the notebook",
    "author-ruff-error": "author's own ruff finding made a conversion error",
    "features-not-pipeline": '"`m` is not a Pipeline ... learns from the training data"',
    "features-no-learned-prep": "  of which: no preparation that learns from data",
    "features-pipeline": "  of which: the model is built as a Pipeline",
    "nb107-callable": "NB107 mutates an imported or def/class name (`SVC(...).fit()`)",
    "nb203": "NB203 absolute path (all)",
    "nb203-continuation": "  of which: the literal continues a non-literal (`p + '/x'`)",
}
#: undefined names a conversion can itself introduce (what stays an error)
CONVERSION_CODES = frozenset({"F821", "F822", "F823", "E999"})
_STAR = re.compile(r"^\s*from\s+[\w.]+\s+import\s+\*", re.M)
_PIPELINE = re.compile(r"^\s*(\w+)\s*=\s*(?:[\w.]+\.)?(?:Pipeline|make_pipeline)\s*\(", re.M)


def _code_of(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.is_code)


def _lines(nb) -> dict[int, list[str]]:
    return {c.index: c.source.splitlines() for c in nb.cells if c.is_code}


def classes_of(d: dict, code: str, cell_line: str) -> list[str]:
    """The alarm classes a finding (as a dict) belongs to."""
    out = []
    kind, name, severity = d.get("kind", ""), d.get("name", ""), d.get("severity", "")
    if _STAR.search(code) and (d["code"] in ("NB103", "NB104") or name == "undefined-in-package"):
        out.append("star-undefined")
    if kind == "generated-code" and severity == "error" and d["code"] not in CONVERSION_CODES:
        out.append("author-ruff-error")
    if name == "features-not-pipeline":
        out.append("features-not-pipeline")
        if "does not yet extract" in d["message"]:
            out.append("features-no-learned-prep")
        model = (d.get("args") or {}).get("model")
        if model and model in _PIPELINE.findall(code):
            out.append("features-pipeline")
    if d["code"] == "NB107":
        m = re.search(r"mutates `([\w.]+)`", d["message"])
        n = re.escape(m.group(1)) if m else None
        if n and re.search(rf"\bimport\b[^\n]*\b{n}\b|^\s*(?:class|def)\s+{n}\b", code, re.M):
            out.append("nb107-callable")
    if d["code"] == "NB203":
        out.append("nb203")
        col = (d.get("column") or 1) - 1
        before = cell_line[:col].rstrip()
        if before.endswith("+") or re.search(r"\{[^}]*\}$", cell_line[:col]):
            out.append("nb203-continuation")
    return out


def _findings(path: Path) -> tuple[list[dict], str | None, str]:
    from notebook2service.convert import ConvertError, convert
    from notebook2service.linter.checker import check_notebook
    from notebook2service.notebook import load

    try:
        nb = load(str(path))
    except Exception as exc:  # noqa: BLE001 - an unreadable notebook is skipped, not counted
        return [], f"unreadable: {exc.__class__.__name__}", ""
    found = [d.to_dict() for d in check_notebook(nb, lambda c: True)]
    for d in found:
        d["source"] = "lint"
    error = None
    try:
        result = convert(str(path), write=False)
        for d in result.findings:
            d = d.to_dict() if hasattr(d, "to_dict") else d  # a Finding, or a dict before
            if d["code"].startswith("NB"):
                continue  # the lint findings convert repeats are counted once, from lint
            found.append({**d, "source": "convert"})
    except ConvertError as exc:
        error = f"ConvertError: {str(exc)[:100]}"
    except Exception as exc:  # noqa: BLE001 - a crash is recorded, the run goes on
        error = f"crash: {exc.__class__.__name__}: {str(exc)[:100]}"
    return found, error, _code_of(nb)


def collect_one(path_str: str) -> dict:
    path = Path(path_str)
    found, error, code = _findings(path)
    try:
        from notebook2service.notebook import load

        lines = _lines(load(str(path))) if code else {}
    except Exception:  # noqa: BLE001
        lines = {}
    rows = []
    for d in found:
        cell = (d.get("cell") or {}).get("index")
        text = lines.get(cell, [])
        line_no = d.get("line") or 0
        cell_line = text[line_no - 1] if 0 < line_no <= len(text) else ""
        cls = classes_of(d, code, cell_line)
        errs = d.get("source") == "convert" and d.get("severity") == "error"
        if cls or errs:
            rows.append(
                {
                    "classes": cls,
                    "code": d["code"],
                    "name": d.get("name", ""),
                    "severity": d.get("severity"),
                    "cell": cell,
                    "line": line_no,
                    "message": d["message"][:300],
                    "cell_line": cell_line[:200],
                    "source": d["source"],
                }
            )
    return {"notebook": path.name, "error": error, "findings": rows}


def collect(corpus: Path, out: Path, jobs: int) -> None:
    files = sorted(str(p) for p in corpus.rglob("*.ipynb"))
    start = time.perf_counter()
    results = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for i, r in enumerate(pool.map(collect_one, files, chunksize=4), 1):
            results.append(r)
            if i % 100 == 0:
                print(f"{out.name}: {i}/{len(files)} notebooks", file=sys.stderr, flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seconds": time.perf_counter() - start, "notebooks": results}))


def _run_side(corpus: Path, out: Path, jobs: int, code_root: Path | None) -> None:
    env = dict(os.environ)
    if code_root is not None:
        env["PYTHONPATH"] = str(code_root) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, str(Path(__file__).resolve()), str(corpus), "--collect", str(out)]
    subprocess.run([*cmd, "--jobs", str(jobs)], env=env, check=True)


def counts(data: dict) -> dict[str, tuple[int, int]]:
    table = {}
    for cls in [*CLASSES, "convert-error"]:
        nbs = finds = 0
        for r in data["notebooks"]:
            if cls == "convert-error":
                n = sum(
                    1
                    for f in r["findings"]
                    if f["source"] == "convert" and f["severity"] == "error"
                )
            else:
                n = sum(1 for f in r["findings"] if cls in f["classes"])
            nbs += n > 0
            finds += n
        table[cls] = (nbs, finds)
    return table


def print_table(before: dict, after: dict) -> None:
    b, a = counts(before), counts(after)
    labels = {**CLASSES, "convert-error": "every conversion error (exit 1), for reference"}
    width = max(len(v) for v in labels.values())
    print(f"{'alarm':<{width}}  {'before nb/findings':>18}  {'after nb/findings':>18}")
    for cls, label in labels.items():
        print(f"{label:<{width}}  {b[cls][0]:>8}/{b[cls][1]:<9}  {a[cls][0]:>8}/{a[cls][1]:<9}")
    crashes = [
        sum(1 for r in d["notebooks"] if (r["error"] or "").startswith("crash"))
        for d in (before, after)
    ]
    print(
        f"notebooks: {len(after['notebooks'])}; convert crashes before/after: {crashes[0]}/{crashes[1]}"
    )
    print(f"seconds: before {before['seconds']:.0f}, after {after['seconds']:.0f} (loaded machine)")


def print_sample(after: dict, n: int, seed: int = 12) -> None:
    rng = random.Random(seed)
    for cls in CLASSES:
        rows = [
            (r["notebook"], f)
            for r in after["notebooks"]
            for f in r["findings"]
            if cls in f["classes"]
        ]
        if not rows:
            continue
        print(f"\n== sample of {min(n, len(rows))} of {len(rows)} after: {cls}")
        for nb, f in rng.sample(rows, min(n, len(rows))):
            print(f"- {nb} cell {f['cell']} line {f['line']}: {f['message'][:160]}")
            print(f"    | {f['cell_line'][:150]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--base", type=Path, help="checkout of the code before the fixes")
    ap.add_argument("--collect", type=Path, help="collect this checkout's findings into a file")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--reuse", action="store_true", help="reuse the saved 'before' findings")
    ap.add_argument("--table", action="store_true", help="only print the saved sides' table")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus {args.corpus} not found; nothing measured")
        return 0
    if args.collect:
        collect(args.corpus, args.collect, args.jobs)
        return 0
    before_file, after_file = args.out / "alarms-before.json", args.out / "alarms-after.json"
    if args.base and not ((args.reuse or args.table) and before_file.exists()):
        _run_side(args.corpus, before_file, args.jobs, args.base.resolve())
    if not before_file.exists():
        print("no 'before' findings: pass --base DIR (a checkout of the code before the fixes)")
        return 2
    if not (args.table and after_file.exists()):
        _run_side(args.corpus, after_file, args.jobs, ROOT)
    before, after = (json.loads(p.read_text()) for p in (before_file, after_file))
    print_table(before, after)
    if args.sample:
        print_sample(after, args.sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
