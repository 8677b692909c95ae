#!/usr/bin/env python3
"""Convert every notebook of a corpus: tracebacks, and names the conversion leaves undefined.

For each ``*.ipynb`` below ``--corpus`` (default ``../shared/corpus``), in-process and without
writing files, ``convert()`` either returns a package, refuses with a one-line ``ConvertError``
(fine), or raises anything else (a traceback: a bug). Each generated package's ``.py`` files
must compile, and ``ruff check --select F821,F823`` over them must find no undefined or unbound
name the notebook itself did not have: ruff runs once more on the notebook's own code (its
cells' Python, IPython syntax translated, concatenated top-down), and a package finding counts as
*introduced* when the notebook's code has no F821 for the same name.

    python bench/convert_corpus.py [--corpus DIR] [--limit N] [--json OUT] [--show N]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = next(
    (p / "shared" / "corpus" for p in ROOT.parents if (p / "shared" / "corpus").is_dir()),
    ROOT.parent / "shared" / "corpus",
)
_NAME = re.compile(r"`([^`]+)`")
TIMEOUT_S = 120


def notebooks(corpus: Path, limit: int | None = None) -> list[Path]:
    files = sorted(corpus.rglob("*.ipynb"))
    return files[:limit] if limit else files


class _Timeout(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise _Timeout


def convert_one(path: Path) -> dict:
    """One notebook: status (ok | refused | traceback | timeout), files, the notebook's code."""
    from notebook2service.convert import ConvertError, convert
    from notebook2service.ipython import translate
    from notebook2service.notebook import NotebookError, load_python

    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        result = convert(str(path), write=False, format_output=False)
    except (ConvertError, NotebookError) as exc:
        return {"status": "refused", "error": str(exc).splitlines()[0][:200]}
    except _Timeout:
        return {"status": "timeout"}
    except Exception as exc:  # noqa: BLE001 - what this bench counts
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        return {"status": "traceback", "error": f"{type(exc).__name__}: {exc}"[:200], "at": where}
    finally:
        signal.alarm(0)
    nb = load_python(str(path))
    # cells that do not parse are kept as comments in the package: leave them out here too
    own = "\n\n".join(t.python for c in nb.code_cells if (t := translate(c.source)).tree)
    written = set(result.manifest.get("files", []))  # %%writefile: the notebook's own files
    py = {k: v for k, v in result.files.items() if k.endswith(".py") and k not in written}
    return {"status": "ok", "files": py, "own": own}


def _compiles(files: dict[str, str]) -> list[str]:
    bad = []
    for name, text in files.items():
        try:
            compile(text, name, "exec")
        except (SyntaxError, ValueError) as exc:
            bad.append(f"{name}: {exc}")
    return bad


def _ruff(tree: Path) -> list[dict]:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    proc = subprocess.run(
        [
            ruff,
            "check",
            "--isolated",
            "--select",
            "F821,F823",
            "--output-format",
            "json",
            "--no-cache",
            "--exit-zero",
            str(tree),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(proc.stdout or "[]")


def undefined_introduced(ok: dict[str, dict]) -> dict[str, list[str]]:
    """notebook → `code name` findings in its package that its own code does not have."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i, r in enumerate(ok.values()):
            for name, text in r["files"].items():
                dest = root / "pkg" / str(i) / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text, encoding="utf-8")
            (root / "own").mkdir(exist_ok=True)
            (root / "own" / f"{i}.py").write_text(r["own"], encoding="utf-8")
        index = list(ok)
        own: dict[int, set[str]] = {}
        for f in _ruff(root / "own"):
            m = _NAME.search(f["message"])
            own.setdefault(int(Path(f["filename"]).stem), set()).add(m.group(1) if m else "")
        out: dict[str, list[str]] = {}
        for f in _ruff(root / "pkg"):
            i = int(Path(f["filename"]).relative_to(root / "pkg").parts[0])
            m = _NAME.search(f["message"])
            name = m.group(1) if m else ""
            if f["code"] == "F821" and name in own.get(i, set()):
                continue
            out.setdefault(index[i], []).append(f"{f['code']} {name}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write every result here")
    ap.add_argument("--show", type=int, default=10, help="examples printed per kind")
    ap.add_argument(
        "--again", type=Path, default=None, help="only the notebooks with a problem in this --json"
    )
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}; nothing to measure")
        return 0
    files = notebooks(args.corpus, args.limit)
    if args.again:
        previous = json.loads(args.again.read_text(encoding="utf-8"))
        bad = {k for k, r in previous.items() if set(r) & {"introduced", "compile"}}
        bad |= {k for k, r in previous.items() if r["status"] in ("traceback", "timeout")}
        files = [f for f in files if str(f.relative_to(args.corpus)) in bad]
    results = {}
    for i, f in enumerate(files, 1):
        results[str(f.relative_to(args.corpus))] = convert_one(f)
        if i % 100 == 0:
            print(f"... {i}/{len(files)}", file=sys.stderr, flush=True)
    status = Counter(r["status"] for r in results.values())
    ok = {k: r for k, r in results.items() if r["status"] == "ok"}
    compile_errors = {k: e for k, r in ok.items() if (e := _compiles(r["files"]))}
    introduced = undefined_introduced(ok)
    codes = Counter(x.split()[0] for v in introduced.values() for x in v)
    print(f"notebooks: {len(files)}  " + "  ".join(f"{k}: {v}" for k, v in sorted(status.items())))
    print(f"packages that do not compile: {len(compile_errors)}")
    print(
        f"packages with an undefined/unbound name the notebook did not have: {len(introduced)} "
        f"({sum(codes.values())} findings: {dict(codes)})"
    )
    for kind in ("traceback", "timeout"):
        for k, r in [(k, r) for k, r in results.items() if r["status"] == kind][: args.show]:
            print(f"  {kind}: {k}: {r.get('error', '')} at {r.get('at', '')}")
    for k, e in list(compile_errors.items())[: args.show]:
        print(f"  compile: {k}: {e[0]}")
    for k, v in list(introduced.items())[: args.show]:
        print(f"  introduced: {k}: {', '.join(sorted(set(v))[:8])}")
    if args.json:
        slim = {
            k: {x: y for x, y in r.items() if x not in ("files", "own")} for k, r in results.items()
        }
        for k, v in introduced.items():
            slim[k]["introduced"] = v
        for k, e in compile_errors.items():
            slim[k]["compile"] = e
        args.json.write_text(json.dumps(slim, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
