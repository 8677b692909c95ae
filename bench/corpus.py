#!/usr/bin/env python3
"""Assemble an offline benchmark corpus of Jupyter notebooks.

Sources, in order:

1. a real corpus folder (``--corpus``; default ``../shared/corpus`` next to the repo root):
   every ``*.ipynb`` in it, copied unchanged, invalid JSON included (they test robustness);
2. the repo's ``sample_notebooks/*.ipynb``;
3. when the two above give fewer than ``--min`` notebooks, deterministic synthetic notebooks
   built from real Python source of the installed stdlib and site-packages, split into cells
   at top-level statement boundaries, with markdown, IPython magics, shell commands, outputs
   and execution counts mixed in at rates seen in real notebooks.

The target folder (default ``bench/corpus``, git-ignored) gets ``real/``, ``samples/`` and
``synthetic/`` sub-folders and a ``MANIFEST.json``. Re-running with unchanged inputs only prints
the summary; ``--force`` rebuilds. Only the standard library is used.

    python bench/corpus.py [--out DIR] [--corpus DIR | --no-real] [--min N] [--synthetic N]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import shutil
import sys
import sysconfig
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench" / "corpus"
DEFAULT_REAL = REPO_ROOT.parent / "shared" / "corpus"
SAMPLES_DIR = REPO_ROOT / "sample_notebooks"

MANIFEST = "MANIFEST.json"
MARKER = ".nb2svc-bench-corpus"
GENERATOR_VERSION = 1
SOURCES = ("real", "samples", "synthetic")

# Synthetic notebook shape and rates (per code cell unless noted).
CODE_CELLS_MEAN = 25
CODE_CELLS_SD = 8
MARKDOWN_PER_CODE = (0.6, 1.1)  # markdown cells per code cell
P_LINE_MAGIC = 0.057
P_SHELL = 0.078
P_CELL_MAGIC = 0.035
P_EXECUTED_NOTEBOOK = 0.25  # per notebook
P_OUT_OF_ORDER = 0.45  # per executed notebook
P_GAPS = 0.6  # per executed notebook
P_PARTIAL_RUN = 0.2  # per executed notebook: trailing cells never ran
P_STREAM = 0.3  # per executed code cell
P_STDERR = 0.03
P_RESULT = 0.15
MAX_STATEMENT_LINES = 80
SOURCE_SIZE_RANGE = (1_000, 150_000)
SKIP_DIRS = frozenset(
    {"__pycache__", "site-packages", "test", "tests", "idle_test", "lib2to3", "testing"}
)

LINE_MAGICS = (
    "%matplotlib inline",
    "%load_ext autoreload",
    "%autoreload 2",
    "%config InlineBackend.figure_format = 'retina'",
    "%time total = sum(range(1000))",
    "%timeit -n 10 sorted(range(100))",
    "%env PYTHONHASHSEED=0",
    "%pip install -q requests",
    "%who",
    "%store -r data",
    "%cd /tmp",
    "%reload_ext autoreload",
)
SHELL_LINES = (
    "!pip install -q pandas scikit-learn",
    "!pip install --upgrade --quiet google-cloud-aiplatform",
    "!ls -la",
    "!nvidia-smi",
    "files = !ls *.csv",
    "!gcloud config set project $PROJECT_ID",
    "!wget -q https://example.com/data.csv -O data.csv",
    "!head -n 5 data.csv",
    "!mkdir -p outputs",
    "!cat requirements.txt",
    "!python --version",
)
PY_CELL_MAGICS = ("%%time", "%%capture", "%%timeit -n 3", "%%writefile helper.py")
OTHER_CELL_MAGICS = (
    ("%%bash", 'set -e\necho "start"\nls -la | head -n 5\ndu -sh .'),
    ("%%sh", "pip freeze | grep -i numpy"),
    ("%%html", '<div class="note">\n  <b>Note:</b> rendered in the browser.\n</div>'),
    ("%%javascript", "console.log('loaded');"),
    ("%%markdown", "Some *markdown* produced by a cell magic."),
)
WORDS = (
    "data model training input output result value feature table config parameter "
    "pipeline step function class method example request response file batch test "
    "metric score sample split cluster endpoint service deploy check run load save"
).split()


# ---------------------------------------------------------------------------------------------
# Corpus records
# ---------------------------------------------------------------------------------------------


@dataclass
class Entry:
    """One notebook of the built corpus."""

    rel: str
    source: str
    size: int
    error: str | None = None
    stats: dict[str, int] = field(default_factory=dict)


def notebook_stats(nb: object) -> dict[str, int]:
    """Count cells, magics and execution state of a parsed notebook."""
    stats = dict.fromkeys(
        (
            "cells",
            "code",
            "markdown",
            "line_magic",
            "shell",
            "cell_magic",
            "executed",
            "out_of_order",
        ),
        0,
    )
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return stats
    counts: list[int] = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        stats["cells"] += 1
        kind = cell.get("cell_type")
        if kind == "markdown":
            stats["markdown"] += 1
        if kind != "code":
            continue
        stats["code"] += 1
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else str(src)
        lines = [line.strip() for line in text.splitlines()]
        if lines and lines[0].startswith("%%"):
            stats["cell_magic"] += 1
        body = lines[1:] if lines and lines[0].startswith("%%") else lines
        if any(line.startswith("%") and not line.startswith("%%") for line in body):
            stats["line_magic"] += 1
        if any(line.startswith("!") or "= !" in line for line in body):
            stats["shell"] += 1
        count = cell.get("execution_count")
        if isinstance(count, int):
            counts.append(count)
    if counts:
        stats["executed"] = 1
        stats["out_of_order"] = int(counts != sorted(counts))
    return stats


def inspect_notebook(path: Path, rel: str, source: str) -> Entry:
    """Parse one notebook file; keep invalid ones but record why they are invalid."""
    data = path.read_bytes()
    try:
        nb = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return Entry(rel, source, len(data), error=f"{type(exc).__name__}: {exc}")
    return Entry(rel, source, len(data), stats=notebook_stats(nb))


# ---------------------------------------------------------------------------------------------
# Real and sample notebooks
# ---------------------------------------------------------------------------------------------


def list_notebooks(root: Path) -> list[Path]:
    """All ``*.ipynb`` below ``root``, sorted, skipping checkpoint folders."""
    found = [
        p for p in root.rglob("*.ipynb") if p.is_file() and ".ipynb_checkpoints" not in p.parts
    ]
    return sorted(found)


def place(src: Path, dst: Path, link: str) -> None:
    """Copy, hard-link or symlink ``src`` to ``dst``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if link == "symlink":
        dst.symlink_to(src.resolve())
        return
    if link == "hardlink":
        try:
            os.link(src, dst)
            return
        except OSError:
            pass  # other file system: fall back to a copy
    shutil.copyfile(src, dst)


def file_fingerprint(paths: list[Path], root: Path) -> list[list[object]]:
    out: list[list[object]] = []
    for p in paths:
        st = p.stat()
        out.append([p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    return out


# ---------------------------------------------------------------------------------------------
# Synthetic notebooks
# ---------------------------------------------------------------------------------------------


@dataclass
class Chunk:
    """One top-level statement (with its leading comments) of a source file."""

    code: str
    title: str | None
    doc: str | None


@dataclass
class SourceFile:
    rel: str
    doc: str | None
    imports: str
    chunks: list[Chunk]


def candidate_sources() -> list[tuple[str, Path]]:
    """Installed ``.py`` files (stdlib + site-packages) as sorted ``(label, path)`` pairs."""
    paths = sysconfig.get_paths()
    roots: dict[str, Path] = {}
    for key in ("stdlib", "purelib", "platlib"):
        root = Path(paths[key]).resolve()
        if root.is_dir() and root not in roots.values():
            roots[key] = root
    found: list[tuple[str, Path]] = []
    lo, hi = SOURCE_SIZE_RANGE
    for label, root in roots.items():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and d[0] != ".")
            for name in sorted(filenames):
                if not name.endswith(".py"):
                    continue
                path = Path(dirpath) / name
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                if lo <= size <= hi:
                    found.append((f"{label}/{path.relative_to(root).as_posix()}", path))
    found.sort(key=lambda item: item[0])
    return found


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno] + [d.lineno for d in decorators])


def _is_future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def split_source(rel: str, text: str) -> SourceFile | None:
    """Split module source into top-level statements, each with its leading comment block."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    lines = text.splitlines()
    body = list(tree.body)
    doc = ast.get_docstring(tree)
    if body and _is_docstring(body[0]):
        body = body[1:]
    chunks: list[Chunk] = []
    imports: list[str] = []
    prev_end = 0
    for node in body:
        start = _first_line(node) - 1
        end = node.end_lineno or node.lineno
        if start < prev_end:  # `a = 1; b = 2` on one line: part of the previous chunk
            prev_end = max(prev_end, end)
            continue
        while start > prev_end and lines[start - 1].lstrip().startswith("#"):
            start -= 1  # attach the comment block right above the statement
        prev_end = end
        if _is_future(node) or end - start > MAX_STATEMENT_LINES:
            continue
        code = "\n".join(lines[start:end]).rstrip()
        if not code.strip():
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if not getattr(node, "level", 0):  # relative imports make no sense in a notebook
                imports.append(code)
            continue
        title = getattr(node, "name", None)
        node_doc = None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node_doc = ast.get_docstring(node)
        chunks.append(Chunk(code, title, node_doc))
    return SourceFile(rel, doc, "\n".join(imports), chunks) if chunks else None


class SyntheticGenerator:
    """Deterministic notebook generator; notebook ``i`` depends only on the seed and ``i``."""

    def __init__(self, seed: int, sources: list[tuple[str, Path]]) -> None:
        if not sources:
            raise RuntimeError("no Python source files found for the synthetic generator")
        self.seed = seed
        self.sources = sources
        self._cache: dict[str, SourceFile | None] = {}

    def _load(self, rel: str, path: Path) -> SourceFile | None:
        if rel not in self._cache:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
            self._cache[rel] = split_source(rel, text) if "\t" not in text else None
        return self._cache[rel]

    def _pick_cells(self, rng: random.Random, n_code: int) -> tuple[list[Chunk], list[str]]:
        """Group contiguous top-level statements of random source files into cells.

        Each source file used contributes a cell with its imports, then a window of its
        other statements, one to four statements per cell.
        """
        cells: list[Chunk] = []
        used: list[str] = []
        attempts = 0
        n_taken = 0
        while n_taken < n_code and attempts < 200:
            attempts += 1
            rel, path = rng.choice(self.sources)
            src = self._load(rel, path)
            if src is None or len(src.chunks) < 3:
                continue
            used.append(rel)
            if src.doc and cells:
                cells.append(Chunk("", rel, src.doc))  # marker: markdown intro
            if src.imports:
                cells.append(Chunk(src.imports, None, None))
                n_taken += 1
            i = rng.randrange(max(1, len(src.chunks) - 3))
            want = min(n_code - n_taken, rng.randint(4, 15))
            taken = 0
            while taken < want and i < len(src.chunks):
                group = src.chunks[i : i + 1 + rng.choice((0, 0, 0, 1, 1, 2, 3))]
                i += len(group)
                lead = next((c for c in group if c.title), group[0])
                code = "\n\n".join(c.code for c in group)
                cells.append(Chunk(code, lead.title, lead.doc))
                taken += 1
                n_taken += 1
        return cells, used

    @staticmethod
    def _sentence(rng: random.Random) -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
        return " ".join(words).capitalize() + "."

    def _markdown(self, rng: random.Random, chunk: Chunk) -> str:
        parts: list[str] = []
        level = rng.choice(("#", "##", "##", "###"))
        if chunk.title:
            parts.append(f"{level} `{chunk.title}`" if chunk.code else f"# {chunk.title}")
        else:
            parts.append(f"{level} {self._sentence(rng)[:-1].title()}")
        if chunk.doc:
            parts.append(chunk.doc.strip().split("\n\n")[0])
        else:
            parts.append(" ".join(self._sentence(rng) for _ in range(rng.randint(1, 3))))
        extra = rng.random()
        if extra < 0.15:
            parts.append("\n".join(f"- {self._sentence(rng)}" for _ in range(rng.randint(2, 4))))
        elif extra < 0.2:
            parts.append("$$\\hat{y} = \\sigma(W x + b)$$")
        elif extra < 0.25:
            parts.append("See the [documentation](https://docs.python.org/3/) for details.")
        return "\n\n".join(parts)

    @staticmethod
    def _decorate(rng: random.Random, code: str) -> str:
        """Add cell magics, line magics and shell commands at the configured rates."""
        if rng.random() < P_CELL_MAGIC:
            if rng.random() < 0.6:
                return f"{rng.choice(PY_CELL_MAGICS)}\n{code}"
            magic, body = rng.choice(OTHER_CELL_MAGICS)
            return f"{magic}\n{body}"
        lines = code.split("\n")
        if rng.random() < P_LINE_MAGIC:
            magic = rng.choice(LINE_MAGICS)
            lines = [magic, *lines] if rng.random() < 0.75 else [*lines, magic]
        if rng.random() < P_SHELL:
            shell = [rng.choice(SHELL_LINES) for _ in range(rng.choice((1, 1, 2)))]
            lines = [*shell, *lines] if rng.random() < 0.8 else [*lines, *shell]
        return "\n".join(lines)

    @staticmethod
    def _execution_counts(rng: random.Random, n: int) -> list[int | None]:
        """Simulate a kernel session: in order, or with re-runs, swaps, gaps, unrun tails."""
        if rng.random() >= P_EXECUTED_NOTEBOOK:
            return [None] * n
        ran = n
        if rng.random() < P_PARTIAL_RUN:
            ran = rng.randint(max(1, n // 2), n)
        order = list(range(ran))
        if rng.random() < P_OUT_OF_ORDER:
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.5 and ran > 1:
                    j = rng.randrange(ran - 1)
                    order[j], order[j + 1] = order[j + 1], order[j]
                else:
                    order.append(rng.randrange(ran))  # re-run an earlier cell at the end
        gappy = rng.random() < P_GAPS
        counts: list[int | None] = [None] * n
        counter = 0
        for idx in order:
            counter += 1
            if gappy and rng.random() < 0.15:
                counter += rng.randint(1, 4)
            counts[idx] = counter
        return counts

    def _outputs(self, rng: random.Random, count: int | None) -> list[dict[str, object]]:
        if count is None:
            return []
        outputs: list[dict[str, object]] = []
        if rng.random() < P_STREAM:
            text = [f"{rng.choice(WORDS)}: {rng.random():.4f}\n" for _ in range(rng.randint(1, 6))]
            outputs.append({"name": "stdout", "output_type": "stream", "text": text})
        if rng.random() < P_STDERR:
            outputs.append(
                {
                    "name": "stderr",
                    "output_type": "stream",
                    "text": [
                        "/opt/conda/lib/python3.10/site-packages/x.py:12: "
                        "FutureWarning: deprecated\n",
                        "  warnings.warn(\n",
                    ],
                }
            )
        if rng.random() < P_RESULT:
            outputs.append(
                {
                    "data": {"text/plain": [repr(rng.randint(0, 10_000))]},
                    "execution_count": count,
                    "metadata": {},
                    "output_type": "execute_result",
                }
            )
        return outputs

    def notebook(self, index: int) -> dict[str, object]:
        rng = random.Random(f"nb2svc-bench:{self.seed}:{index}")
        n_code = max(5, min(60, round(rng.gauss(CODE_CELLS_MEAN, CODE_CELLS_SD))))
        chunks, used = self._pick_cells(rng, n_code)
        code_chunks = [c for c in chunks if c.code]
        counts = self._execution_counts(rng, len(code_chunks))
        p_markdown = min(0.95, rng.uniform(*MARKDOWN_PER_CODE))
        ids: set[str] = set()

        def new_id() -> str:
            while True:
                cell_id = f"{rng.getrandbits(32):08x}"
                if cell_id not in ids:
                    ids.add(cell_id)
                    return cell_id

        cells: list[dict[str, object]] = []
        title = used[0].rsplit("/", 1)[-1][:-3] if used else f"notebook {index}"
        cells.append(markdown_cell(new_id(), f"# {title}\n\n{self._sentence(rng)}"))
        k = 0
        for chunk in chunks:
            if not chunk.code or (rng.random() < p_markdown and k > 0):
                cells.append(markdown_cell(new_id(), self._markdown(rng, chunk)))
                if not chunk.code:
                    continue
            count = counts[k]
            cells.append(
                {
                    "cell_type": "code",
                    "execution_count": count,
                    "id": new_id(),
                    "metadata": {},
                    "outputs": self._outputs(rng, count),
                    "source": split_lines(self._decorate(rng, chunk.code)),
                }
            )
            k += 1
        return {
            "cells": cells,
            "metadata": {
                "kernelspec": {
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                    "name": "python3",
                },
                "language_info": {
                    "codemirror_mode": {"name": "ipython", "version": 3},
                    "file_extension": ".py",
                    "mimetype": "text/x-python",
                    "name": "python",
                    "nbconvert_exporter": "python",
                    "pygments_lexer": "ipython3",
                    "version": "3.11.7",
                },
                "nb2svc_bench": {"synthetic": index, "seed": self.seed, "sources": used},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }


def split_lines(text: str) -> list[str]:
    """nbformat's multi-line string form: a list of lines keeping their newlines."""
    return text.splitlines(keepends=True)


def markdown_cell(cell_id: str, text: str) -> dict[str, object]:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": split_lines(text)}


def dump_notebook(nb: dict[str, object], path: Path) -> None:
    """Write like ``nbformat.write``: sorted keys, indent=1, trailing newline."""
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Build, manifest, summary
# ---------------------------------------------------------------------------------------------


def safe_reset(out: Path) -> None:
    """Empty ``out``, refusing to delete a non-empty folder this script did not create."""
    if out.exists():
        if not out.is_dir():
            raise SystemExit(f"error: {out} exists and is not a folder")
        ours = (out / MARKER).exists() or (out / MANIFEST).exists()
        if any(out.iterdir()) and not ours:
            raise SystemExit(
                f"error: {out} is not empty and was not built by corpus.py; pick another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("built by bench/corpus.py; safe to delete\n", encoding="utf-8")


def plan(args: argparse.Namespace) -> tuple[Path | None, list[Path], list[Path], dict[str, object]]:
    """Resolve the inputs and a fingerprint that says whether a rebuild is needed."""
    real_root: Path | None = None
    if not args.no_real and args.corpus is not None and args.corpus.is_dir():
        real_root = args.corpus.resolve()
    real = list_notebooks(real_root) if real_root else []
    samples = sorted(SAMPLES_DIR.glob("*.ipynb")) if SAMPLES_DIR.is_dir() else []
    if args.synthetic is not None:
        n_synth = args.synthetic
    else:
        n_synth = max(0, args.min - len(real) - len(samples))
    fingerprint = {
        "generator": GENERATOR_VERSION,
        "script": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "python": sys.version,
        "link": args.link,
        "seed": args.seed,
        "synthetic": n_synth,
        "real_root": str(real_root) if real_root else None,
        "real": file_fingerprint(real, real_root) if real_root else [],
        "samples": file_fingerprint(samples, SAMPLES_DIR),
    }
    return real_root, real, samples, fingerprint


def digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def load_manifest(out: Path) -> dict[str, object] | None:
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list) or not all((out / f["rel"]).exists() for f in files):
        return None
    return manifest


def build(
    args: argparse.Namespace,
    real_root: Path | None,
    real: list[Path],
    samples: list[Path],
    n_synth: int,
) -> list[Entry]:
    out: Path = args.out
    safe_reset(out)
    entries: list[Entry] = []
    if real_root is not None:
        for src in real:
            rel = f"real/{src.relative_to(real_root).as_posix()}"
            place(src, out / rel, args.link)
            entries.append(inspect_notebook(src, rel, "real"))
    for src in samples:
        rel = f"samples/{src.name}"
        place(src, out / rel, args.link)
        entries.append(inspect_notebook(src, rel, "samples"))
    if n_synth:
        gen = SyntheticGenerator(args.seed, candidate_sources())
        (out / "synthetic").mkdir(parents=True, exist_ok=True)
        width = max(4, len(str(n_synth - 1)))
        for i in range(n_synth):
            rel = f"synthetic/synth_{i:0{width}d}.ipynb"
            nb = gen.notebook(i)
            dump_notebook(nb, out / rel)
            entry = Entry(rel, "synthetic", (out / rel).stat().st_size, stats=notebook_stats(nb))
            entries.append(entry)
    return entries


def summarize(entries: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per-source and total rows: counts, bytes, invalid files and notebook shape."""
    rows = []
    for name in (*SOURCES, "total"):
        group = [e for e in entries if name == "total" or e["source"] == name]
        valid = [e for e in group if not e.get("error")]
        tot: dict[str, int] = {}
        for e in valid:
            for key, value in e["stats"].items():
                tot[key] = tot.get(key, 0) + value
        n_valid = max(1, len(valid))
        code = max(1, tot.get("code", 0))
        executed = tot.get("executed", 0)
        rows.append(
            {
                "source": name,
                "notebooks": len(group),
                "bytes": sum(int(e["size"]) for e in group),
                "invalid": len(group) - len(valid),
                "cells_per_nb": tot.get("cells", 0) / n_valid,
                "code_per_nb": tot.get("code", 0) / n_valid,
                "line_magic_pct": 100 * tot.get("line_magic", 0) / code,
                "shell_pct": 100 * tot.get("shell", 0) / code,
                "cell_magic_pct": 100 * tot.get("cell_magic", 0) / code,
                "executed_pct": 100 * executed / n_valid,
                "out_of_order_pct": 100 * tot.get("out_of_order", 0) / max(1, executed),
            }
        )
    return rows


def print_summary(manifest: dict[str, object], out: Path, note: str) -> None:
    rows = manifest["summary"]
    print(f"corpus: {out}  ({note})")
    header = (
        f"{'source':<10} {'notebooks':>9} {'MB':>7} {'invalid':>7} {'cells/nb':>8} "
        f"{'code/nb':>7} {'%line':>6} {'%shell':>6} {'%cell':>6} {'%exec':>6} {'%ooo':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['source']:<10} {r['notebooks']:>9} {r['bytes'] / 1e6:>7.1f} {r['invalid']:>7} "
            f"{r['cells_per_nb']:>8.1f} {r['code_per_nb']:>7.1f} {r['line_magic_pct']:>6.1f} "
            f"{r['shell_pct']:>6.1f} {r['cell_magic_pct']:>6.1f} {r['executed_pct']:>6.1f} "
            f"{r['out_of_order_pct']:>5.1f}"
        )
    print(
        "(%line/%shell/%cell: share of code cells with a line magic / shell command / cell "
        "magic;\n %exec: notebooks with execution counts; %ooo: of those, counts out of order)"
    )
    invalid = [f for f in manifest["files"] if f.get("error")]
    if invalid:
        print(f"{len(invalid)} notebook(s) are not valid JSON (kept on purpose: robustness):")
        for f in invalid:
            print(f"  {f['rel']}: {f['error']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Assemble an offline benchmark corpus of Jupyter notebooks."
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="target folder (default: %(default)s)"
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_REAL,
        help="folder of real notebooks, searched recursively "
        "(default: %(default)s, used if it exists)",
    )
    parser.add_argument("--no-real", action="store_true", help="ignore the real corpus")
    parser.add_argument(
        "--min",
        type=int,
        default=300,
        help="top up with synthetic notebooks to at least this many (default: %(default)s)",
    )
    parser.add_argument(
        "--synthetic",
        type=int,
        default=None,
        metavar="N",
        help="generate exactly N synthetic notebooks (overrides --min top-up)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=20240601,
        help="seed of the synthetic generator (default: %(default)s)",
    )
    parser.add_argument(
        "--link",
        choices=("copy", "hardlink", "symlink"),
        default="copy",
        help="how real/sample notebooks are placed (default: %(default)s)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--quiet", action="store_true", help="do not print the summary")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.min < 0 or (args.synthetic is not None and args.synthetic < 0):
        raise SystemExit("error: --min and --synthetic must be >= 0")
    args.out = args.out.resolve()
    t0 = time.perf_counter()
    real_root, real, samples, fingerprint = plan(args)
    key = digest(fingerprint)
    manifest = None if args.force else load_manifest(args.out)
    if manifest is not None and manifest.get("fingerprint") == key:
        if not args.quiet:
            print_summary(manifest, args.out, "up to date; --force to rebuild")
        return 0
    entries = build(args, real_root, real, samples, int(fingerprint["synthetic"]))
    files = [e.__dict__ for e in entries]
    manifest = {
        "fingerprint": key,
        "generator": GENERATOR_VERSION,
        "seed": args.seed,
        "real_root": fingerprint["real_root"],
        "link": args.link,
        "summary": summarize(files),
        "files": files,
    }
    (args.out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    if not args.quiet:
        print_summary(manifest, args.out, f"built in {time.perf_counter() - t0:.1f} s")
    if args.synthetic is None and len(entries) < args.min:
        print(f"warning: only {len(entries)} notebooks (< --min {args.min})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
