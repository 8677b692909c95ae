"""`verify()`: run a notebook and its converted package, and compare what they print.

This is the one part of nb2svc that EXECUTES code. Everything else reads notebooks only.

1. The notebook runs top-down in a fresh kernel with papermill (cwd = the notebook's folder).
   Each code cell's stdout is the concatenation of its ``stream`` outputs named ``stdout``.
   Cells papermill adds (tags ``injected-parameters`` and ``papermill-error-cell-tag``) are
   ignored; executed cells are matched to the notebook's cells by id (by position when ids
   are missing or repeated). The outputs saved in the .ipynb are never used: the comparison
   is between a fresh run of the notebook and a fresh run of the package.
2. The notebook is converted with ``convert()`` into a temporary folder.
3. The package runs in a fresh ``python`` process, as ``python -m <package>`` would run it
   (cwd = the notebook's folder, ``PYTHONPATH`` = the package folder first,
   ``MPLBACKEND=Agg``, ``PYTHONUNBUFFERED=1``, ``PYTHONIOENCODING=utf-8``, no stdin). A small
   harness runs ``<package>.__main__`` with ``runpy`` exactly as ``python -m`` does and records
   structured data in a JSON file (never parsed from stdout): the steps called, each write to
   stdout with the ``pipeline.py`` line that made it (the running step's statement, or
   module-level code), and each displayed value (``show_result``, as text/plain). Lines map to
   cells through the manifest's line map, so each cell's output is known on both sides. A
   traceback's ``pipeline.py`` line is mapped back to its cell the same way.
4. Both sides are normalized, and only like this:

   - line ends: ``\\r\\n`` and a lone ``\\r`` become ``\\n`` (both sides);
   - chatter that IPython magics print and the package must not print is removed from the
     notebook side, only in cells where the manifest's ``ipython`` actions show that magic,
     and only whole lines that match exactly:

     ===========================  ==================================================
     magic in the cell            lines removed
     ===========================  ==================================================
     ``%time`` / ``%%time``       ``CPU times: …``, ``Wall time: …``,
                                  ``Compiler : …``, ``Parser   : …``
     ``%timeit`` / ``%%timeit``   ``… per loop (mean ± std. dev. of N runs, M loops
                                  each)``, ``N loops, best of K: … per loop``,
                                  ``The slowest run took … times longer …``
     ``%%writefile``              ``Writing X``, ``Overwriting X``, ``Appending to X``
     ``%env`` / ``%set_env``      ``env: NAME=value``
     ``%pip`` / ``!pip install``  ``Note: you may need to restart the kernel to use
     (kept as a requirement)      updated packages.``, ``Requirement already
                                  satisfied: …``
     ===========================  ==================================================

5. Two modes are compared cell by cell, in notebook order: stdout, and displayed values (the
   notebook's ``execute_result`` text/plain against the package's ``show_result`` text; in both
   modes object addresses ``0x7f…``, which differ in every process, are normalized); then
   stdout in total. The first cell whose output diverges is named (``first_mode`` says
   which), and each mode's first difference is in ``differences``. Its likely cause: output
   that differs only in the clock times or dates it shows (``ls -l``'s modification times)
   → "timing"; else the findings about that cell (the manifest's, plus
   NB101/103/104/106/204, which ``verify`` checks itself when the manifest has none), in
   this order: NB204 → "randomness without a seed" (also when an earlier cell draws
   unseeded random numbers), a ``convert`` or generated-code finding or an IPython action
   kept as a comment / run as a shell command / fetching data / turned into a requirement →
   "conversion limit", NB101/NB106 → "execution order", NB103/NB104 → "deleted cell", a
   cell that reads a clock (``time.time()``, ``datetime.now()``, ``%timeit``, ``tqdm``) →
   "timing", otherwise "unknown". A cell that raises in the notebook is "notebook error"; a
   package that exits with an error or times out is "package error".

``timeout`` bounds each notebook cell and the whole package run. Temporary folders are always
removed; with ``workdir`` the executed notebook
(``<stem>.executed.ipynb``), the package (``package/``) and the package's stdout and
stderr are kept there for inspection.
"""

from __future__ import annotations

import ast
import difflib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .findings import Finding
from .manifest import Manifest
from .requirements import installs_packages

__all__ = [
    "CAUSES",
    "StepResult",
    "VerifyError",
    "VerifyReport",
    "display_text",
    "normalize",
    "report_text",
    "verify",
]

CAUSES = (
    "execution order",
    "deleted cell",
    "randomness without a seed",
    "timing",
    "conversion limit",
    "notebook error",
    "package error",
    "unknown",
)

MODULE_LEVEL = "(module level)"
SEED_TAG = "nb2svc-seed"
_IGNORED_TAGS = {"injected-parameters", "papermill-error-cell-tag", SEED_TAG}
_SEED_CELL = """import random as _nb2svc_random
_nb2svc_random.seed({seed})
try:
    import numpy as _nb2svc_numpy
    _nb2svc_numpy.random.seed({seed})
except ImportError:
    pass
del _nb2svc_random"""


class VerifyError(Exception):
    """The notebook cannot be verified at all (unreadable, not Python, no such kernel)."""


@dataclass
class StepResult:
    function: str  # the step function, or "(module level)" for import-time output
    cells: list[int]
    equal: bool
    expected: str  # the notebook's normalized stdout of the step's cells
    actual: str  # what the package printed while the step ran
    ran: bool = True  # the package called the step


@dataclass
class VerifyReport:
    equal: bool
    notebook: str
    package: str | None
    first_cell: int | None
    expected: str
    actual: str
    cause: str | None  # one of CAUSES, None when equal
    explanation: str
    steps: list[StepResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    module_level: StepResult | None = None
    first_step: str | None = None  # the step (function) where the first difference is
    execution_count: int | None = None  # the saved In[..] of first_cell
    normalized: list[dict[str, Any]] = field(default_factory=list)
    total_equal: bool | None = None
    lines: int = 0  # lines of (normalized) notebook stdout
    stderr_tail: str = ""  # package error: the last lines of its stderr
    workdir: str | None = None
    stdout_equal: bool | None = None  # every cell printed the same (None: not compared)
    displays_equal: bool | None = None  # every cell displayed the same value
    displays: int = 0  # values the notebook displayed (execute_result)
    first_mode: str | None = None  # "stdout" or "display": what differs at first_cell
    differences: list[dict[str, Any]] = field(default_factory=list)  # first one per mode
    seed: int | None = None  # both sides seeded alike (verify --seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- normalization ---------------------------------------------------------------------

_CHATTER: dict[str, list[re.Pattern[str]]] = {
    "time": [
        re.compile(r"CPU times: .*"),
        re.compile(r"Wall time: .*"),
        re.compile(r"Compiler : .*"),
        re.compile(r"Parser   : .*"),
    ],
    "timeit": [
        re.compile(r".+ per loop \(mean ± std\. dev\. of [\d,]+ runs?, [\d,]+ loops? each\)"),
        re.compile(r"[\d,]+ loops?, best of \d+: .+ per loop"),
        re.compile(r"The slowest run took .+ times longer than the fastest\..*"),
    ],
    "writefile": [re.compile(r"(?:Writing|Overwriting|Appending to) .+")],
    "env": [re.compile(r"env: [A-Za-z_]\w*=.*")],
    "pip": [
        re.compile(r"Note: you may need to restart the kernel to use updated packages\."),
        re.compile(r"Requirement already satisfied: .*"),
    ],
}
_MAGIC_OF = {
    "time": "time",
    "timeit": "timeit",
    "writefile": "writefile",
    "env": "env",
    "set_env": "env",
    "pip": "pip",
}
_MAGIC_NAME = re.compile(r"%{1,2}([A-Za-z_]\w*)")


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _chatter_kinds(actions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(kind, magic as written) for the magics of one cell whose chatter is removed."""
    kinds: list[tuple[str, str]] = []
    for a in actions:
        syntax = str(a.get("syntax") or "")
        m = _MAGIC_NAME.search(syntax)
        kind = _MAGIC_OF.get(m.group(1)) if m else None
        if (
            kind is None
            and a.get("action") == "requirement"
            and installs_packages(syntax.lstrip("!%"))
        ):
            kind = "pip"
        if kind is not None and kind not in (k for k, _ in kinds):
            shown = m.group(0) if m and m.group(1) in _MAGIC_OF else "!pip install"
            kinds.append((kind, shown))
    return kinds


_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def display_text(text: str) -> str:
    """Output text (a displayed value's text/plain, or stdout), normalized: line ends, and
    object addresses (`<... at 0x7f3a...>`), which differ in every process, become `0x…`."""
    return _ADDRESS.sub("0x…", _newlines(text))


def normalize(text: str, magics: list[str] = ()) -> tuple[str, list[str]]:
    """Normalize one cell's stdout (`display_text`); `magics` are chatter kinds (time,
    timeit, writefile, env, pip). Returns the text and the lines removed."""
    text = display_text(text)
    patterns = [p for kind in magics for p in _CHATTER.get(kind, [])]
    if not patterns:
        return text, []
    kept: list[str] = []
    removed: list[str] = []
    for line in text.splitlines(keepends=True):
        if any(p.fullmatch(line.rstrip("\n")) for p in patterns):
            removed.append(line.rstrip("\n"))
        else:
            kept.append(line)
    return "".join(kept), removed


# -- the notebook side -----------------------------------------------------------------


def _stdout_of(cell: Any) -> str:
    parts: list[str] = []
    for out in cell.get("outputs") or []:
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            text = out.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else str(text))
    return "".join(parts)


def _match_cells(nb: Any, executed: Any) -> dict[int, Any]:
    """Original code cell index (1-based over all cells) → executed cell."""
    ex_cells = [
        c
        for c in executed.get("cells", [])
        if c.get("cell_type") == "code"
        and not _IGNORED_TAGS & set((c.get("metadata") or {}).get("tags") or [])
    ]
    originals = nb.code_cells
    ids = [c.id for c in originals]
    ex_ids = [c.get("id") for c in ex_cells]
    usable = (
        all(ids)
        and len(set(ids)) == len(ids)
        and all(ex_ids)
        and len(set(ex_ids)) == len(ex_ids)
        and set(ids) <= set(ex_ids)
    )
    if usable:
        by_id = {c.get("id"): c for c in ex_cells}
        return {c.index: by_id[c.id] for c in originals}
    return {c.index: e for c, e in zip(originals, ex_cells, strict=False)}


def _failed_cell(nb: Any, executed: Any, running: bool) -> int | None:
    """The original index of the cell that raised (or was running, for timeouts)."""
    matched = _match_cells(nb, executed)
    if running:  # the last cell that papermill started
        started = [
            index
            for index, cell in sorted(matched.items())
            if ((cell.get("metadata") or {}).get("papermill") or {}).get("start_time")
        ]
        return started[-1] if started else None
    for index, cell in sorted(matched.items()):
        pm_md = (cell.get("metadata") or {}).get("papermill") or {}
        for out in cell.get("outputs") or []:
            if out.get("output_type") == "error" and not (
                out.get("ename") == "SystemExit" and out.get("evalue") in ("", "0")
            ):
                return index
        if pm_md.get("exception") is True:
            return index
    return None


def _seeded_copy(nb: Any, path: Path, work: Path, seed: int) -> Path:
    """A scratch copy of the loaded notebook `nb` (read from `path`, not read again) whose
    first cell (tagged, ignored when matching cells) seeds `random` and numpy's global
    generator, as the package harness does."""
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [SEED_TAG]},
        "outputs": [],
        "source": _SEED_CELL.format(seed=int(seed)),
    }
    if (nb.nbformat, nb.nbformat_minor) >= (4, 5):
        cell["id"] = SEED_TAG
    data = {**nb.raw, "nbformat": nb.nbformat, "cells": [cell, *nb.raw["cells"]]}
    copy = work / f"{path.stem}.seeded.ipynb"
    copy.write_text(json.dumps(data), encoding="utf-8")
    return copy


def _run_notebook(
    path: Path, output: Path, kernel_name: str, timeout: float, cwd: Path | None = None
) -> tuple[Any, dict[str, Any] | None]:
    """Execute with papermill. Returns (executed notebook or None, error details or None)."""
    try:
        import nbformat
        import papermill as pm
        from jupyter_client.kernelspec import NoSuchKernel
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise VerifyError(
            f"verify needs papermill and ipykernel ({exc.name} is not installed): "
            "pip install papermill ipykernel"
        ) from None
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    logger = logging.getLogger("papermill")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        executed = pm.execute_notebook(
            str(path),
            str(output),
            kernel_name=kernel_name,
            cwd=str(cwd or path.parent),
            execution_timeout=timeout,
            progress_bar=False,
            log_output=False,
            # the kernel's own start-up warnings (e.g. "running over TCP") are not ours
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        return executed, None
    except pm.PapermillExecutionError as exc:
        return _read(output, nbformat), {
            "kind": "error",
            "ename": exc.ename,
            "evalue": exc.evalue,
            "exec_count": exc.exec_count,
        }
    except CellTimeoutError:
        return _read(output, nbformat), {"kind": "timeout", "ename": "timeout", "evalue": ""}
    except DeadKernelError as exc:
        return _read(output, nbformat), {
            "kind": "dead",
            "ename": "DeadKernelError",
            "evalue": str(exc).strip().splitlines()[-1:],
        }
    except NoSuchKernel:
        raise VerifyError(f"no Jupyter kernel named {kernel_name!r} is installed") from None
    except RuntimeError as exc:
        if "kernel" in str(exc).lower():
            raise VerifyError(f"the kernel did not start: {str(exc).strip()[:200]}") from None
        raise
    finally:
        logger.setLevel(level)


def _read(output: Path, nbformat: Any) -> Any:
    try:
        return nbformat.read(str(output), as_version=4)
    except Exception:  # noqa: BLE001 - the notebook may not have been written at all
        return {"cells": []}


# -- the package side ------------------------------------------------------------------

_HARNESS = r"""
import atexit, functools, importlib, importlib.util, json, os, runpy, sys
PKG, RECORD, STEPS = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.argv = [sys.argv[0]]
record = {"order": [], "chunks": [], "displays": []}

def _save():
    with open(RECORD, "w", encoding="utf-8") as f:
        json.dump(record, f)

atexit.register(_save)
_spec = importlib.util.find_spec(PKG + ".pipeline")
PIPELINE = os.path.realpath(_spec.origin)

def _line():
    # the outermost pipeline.py frame below run(): the step statement (or module-level code)
    frames, f = [], sys._getframe(2)
    while f is not None:
        if os.path.realpath(f.f_code.co_filename) == PIPELINE:
            frames.append((f.f_code.co_name, f.f_lineno))
        f = f.f_back
    frames.reverse()
    below = [n for name, n in frames if name != "run"]
    return below[0] if below else None

class _Tee:
    def __init__(self, stream):
        self._stream = stream
    def write(self, text):
        chunks, line = record["chunks"], _line()
        if chunks and chunks[-1][0] == line:
            chunks[-1][1] += text
        else:
            chunks.append([line, text])
        return self._stream.write(text)
    def __getattr__(self, name):
        return getattr(self._stream, name)

sys.stdout = _Tee(sys.stdout)
_seed = os.environ.pop("NB2SVC_VERIFY_SEED", None)
if _seed is not None:  # as the notebook's seeding first cell does
    import random
    random.seed(int(_seed))
    try:
        import numpy
        numpy.random.seed(int(_seed))
    except ImportError:
        pass
if importlib.util.find_spec("nb2svc_runtime.notebook") is not None:
    # before pipeline.py imports it: `from nb2svc_runtime.notebook import show_result` binds this
    _rt = importlib.import_module("nb2svc_runtime.notebook")
    def show_result(value, cell):
        text = None if value is None else _rt.plain_text(value)
        if text is not None:  # None: the formatter failed (IPython shows no Out either)
            record["displays"].append([cell, text])
    _rt.show_result = show_result
_p = importlib.import_module(PKG + ".pipeline")

def _wrap(name, f):
    @functools.wraps(f)
    def step(*args, **kwargs):
        record["order"].append(name)
        return f(*args, **kwargs)
    return step

for _name in STEPS:
    _f = getattr(_p, _name, None)
    if callable(_f):
        setattr(_p, _name, _wrap(_name, _f))
runpy.run_module(PKG, run_name="__main__", alter_sys=True)
"""


@dataclass
class _PackageRun:
    returncode: int | None  # None: timed out
    stdout: str
    stderr: str
    order: list[str]  # steps in the order they were called
    seconds: float
    chunks: list[tuple[int | None, str]] = field(default_factory=list)  # (pipeline.py line, text)
    displays: list[tuple[int, str]] = field(default_factory=list)  # (cell, text/plain)


def _run_package(
    out: Path, package: str, steps: list[str], cwd: Path, timeout: float, seed: int | None = None
) -> _PackageRun:
    """`python -m package` under the harness: stdout by pipeline.py line, displayed values."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(out)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.update(MPLBACKEND="Agg", PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    env.pop("NB2SVC_SHOW", None)
    env.pop("NB2SVC_VERIFY_SEED", None)
    if seed is not None:
        env["NB2SVC_VERIFY_SEED"] = str(int(seed))
    record = out / ".nb2svc-verify-record.json"
    start = time.perf_counter()
    code, raw_out, raw_err = run_group(
        [sys.executable, "-c", _HARNESS, package, str(record), *steps], cwd, env, timeout
    )
    data = _read_record(record)
    return _PackageRun(
        code,
        raw_out.decode("utf-8", errors="replace"),
        raw_err.decode("utf-8", errors="replace"),
        [str(n) for n in data.get("order", [])],
        time.perf_counter() - start,
        [(c[0], str(c[1])) for c in data.get("chunks", [])],
        [(int(d[0]), str(d[1])) for d in data.get("displays", [])],
    )


def run_group(
    cmd: list[str], cwd: Path, env: dict[str, str] | None, timeout: float
) -> tuple[int | None, bytes, bytes]:
    """Run `cmd` in its own process group, bounded by `timeout` (exit code None when killed);
    the whole group (kernels and other children too) is ended when it returns."""
    proc = subprocess.Popen(
        cmd,
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        raw_out, raw_err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raw_out, raw_err = proc.communicate()
        code = None
    finally:
        _kill_group(proc)  # a child may outlive its parent (a kernel papermill left behind)
    return code, raw_out, raw_err


def _read_record(path: Path) -> dict[str, Any]:
    """What the harness recorded ({} when the package was killed before it could write it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    finally:
        path.unlink(missing_ok=True)
    return data if isinstance(data, dict) else {}


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if proc.poll() is None:
            proc.kill()


_TRACE_LINE = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def _cell_of_traceback(stderr: str, out: Path, package: str, manifest: Manifest) -> int | None:
    """The notebook cell whose statement was running when the package failed."""
    pipeline = (out / package / "pipeline.py").resolve()
    frames: list[tuple[int, str]] = []
    for m in _TRACE_LINE.finditer(stderr):
        try:
            if Path(m.group(1)).resolve() == pipeline:
                frames.append((int(m.group(2)), m.group(3)))
        except (OSError, ValueError):
            continue
    if not frames:
        return None
    # the outermost frame below run(): a step's statement, or module-level code at import
    line = next((n for n, name in frames if name != "run"), frames[-1][0])
    return _cell_of_line(manifest, line)


def _cell_of_line(manifest: Manifest, line: int) -> int | None:
    """pipeline.py line → cell, from the manifest's line map (built from the syntax tree)."""
    for r in manifest.line_map.get("pipeline.py", []):
        if r.get("start", 0) <= line <= r.get("end", -1):
            return r.get("cell")
    return None


# -- causes ----------------------------------------------------------------------------

#: code that prints clock readings or durations, which differ on every run
_CLOCK = re.compile(
    r"\btime\.(?:time|perf_counter|process_time|monotonic)(?:_ns)?\s*\(|\bdatetime\.(?:now|today)\s*\("
    r"|\bdate\.today\s*\(|%%?timeit?\b|\btimeit\.|\btqdm\b"
)


def _findings_by_cell(manifest: Manifest) -> dict[int, list[Finding]]:
    """Convert's findings (hidden state, unseeded randomness, conversion limits) by cell: the
    finding's `cell`, else its generated-file line through the line map."""
    by_cell: dict[int, list[Finding]] = {}
    for f in manifest.findings:
        index = f.cell_index
        if index is None and f.file == "pipeline.py" and isinstance(f.file_line, int):
            index = _cell_of_line(manifest, f.file_line)
        if index is not None:
            by_cell.setdefault(index, []).append(f)
    return by_cell


def _cause(
    cell: int,
    manifest: Manifest,
    by_cell: dict[int, list[Finding]],
    label: str,
    source: str = "",
) -> tuple[str, str]:
    findings = by_cell.get(cell, [])
    codes = {f.code: f for f in findings}
    if "NB204" in codes:
        return (
            "randomness without a seed",
            f"{label} uses random numbers that are never seeded ({codes['NB204'].message}), "
            "so every run prints different values",
        )
    convert_findings = [f for f in findings if _is_conversion(f)]
    if convert_findings:
        return "conversion limit", f"{label}: {convert_findings[0].message}"
    for a in manifest.ipython:
        if a.get("cell") == cell and a.get("action") in ("comment", "shell", "data", "requirement"):
            what = {
                "comment": "is kept as a comment",
                "shell": "runs as a shell command",
                "data": "fetches data with a shell command",
                "requirement": "becomes a requirement and is not run",
            }[a["action"]]
            return (
                "conversion limit",
                f"{label} uses `{a.get('syntax')}`, which in the package {what}, "
                "so its output can differ",
            )
    for code in ("NB101", "NB106"):
        if code in codes:
            return "execution order", f"{label}: {codes[code].message}"
    for code in ("NB104", "NB103"):
        if code in codes:
            return "deleted cell", f"{label}: {codes[code].message}"
    clock = _CLOCK.search(source)
    if clock:
        return (
            "timing",
            f"{label} measures time (`{clock.group(0).strip()}`), which differs on every run",
        )
    earlier = [(i, f) for i in sorted(by_cell) if i < cell for f in by_cell[i] if f.code == "NB204"]
    if earlier:
        i, f = earlier[-1]
        return (
            "randomness without a seed",
            f"{label} prints results that depend on unseeded random numbers drawn in cell {i} "
            f"({f.message})",
        )
    return (
        "unknown",
        f"{label} printed something else in the package, and nb2svc has no finding that "
        "explains it (likely a conversion bug; keep both with --keep DIR, or workdir=, "
        "to inspect them)",
    )


# -- comparison ------------------------------------------------------------------------


def _label(cell: int | None, counts: dict[int, int | None]) -> str:
    if cell is None:
        return "the package"
    count = counts.get(cell)
    return f"cell {cell} (In[{count}])" if count is not None else f"cell {cell}"


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def verify(
    notebook_path: str | os.PathLike[str],
    *,
    timeout: float = 600,
    workdir: str | os.PathLike[str] | None = None,
    kernel_name: str = "python3",
    seed: int | None = None,
) -> VerifyReport:
    """Run the notebook (papermill) and its converted package; compare what they print and
    display.

    `timeout` bounds each notebook cell and the whole package run, in seconds. With
    `workdir`, the executed notebook and the package are kept there. With `seed`, both start
    with `random` and numpy's global generator seeded alike (a scratch copy of the notebook
    gets a first, ignored cell that seeds; the user's notebook is never changed), so unseeded
    draws are compared too. Raises VerifyError
    when the notebook cannot be read, is not Python, or the kernel does not exist.
    """
    from .notebook import NotebookError, load_python

    path = Path(notebook_path)
    try:
        nb = load_python(path, "; verify runs Python only")
    except NotebookError as exc:
        raise VerifyError(str(exc)) from None
    path = path.resolve()
    if workdir is not None:
        work = Path(workdir)
        work.mkdir(parents=True, exist_ok=True)
        return _verify(nb, path, work, timeout, kernel_name, keep=True, seed=seed)
    with tempfile.TemporaryDirectory(prefix="nb2svc-verify-") as tmp:
        return _verify(nb, path, Path(tmp), timeout, kernel_name, keep=False, seed=seed)


def _verify(
    nb: Any,
    path: Path,
    work: Path,
    timeout: float,
    kernel_name: str,
    keep: bool,
    seed: int | None = None,
) -> VerifyReport:
    """The passes: run the notebook → convert → run the package → normalise → compare →
    explain the first difference (or the failure)."""
    v = _Run(nb, path, work, timeout, keep, _new_report(path, work, keep), seed=seed)
    v.report.seed = seed
    executed = _notebook_pass(v, kernel_name)
    if executed is None:
        return v.report
    _convert_pass(v)
    _package_pass(v)
    matched = _match_cells(v.nb, executed)  # once, for printed and displayed output
    expected = _expected_output(v, matched)
    module_cells = _compare(v, expected, _expected_displays(v, matched))
    if v.run.returncode != 0:
        return _package_failed(v)
    if v.report.differences:
        return _cell_differs(v)
    if not v.report.total_equal:
        return _output_moved(v, expected, module_cells)
    v.report.equal = True
    shown = f" and displayed the same {_plural(v.report.displays, 'value')}"
    v.report.explanation = "the package printed exactly what the notebook printed" + (
        shown if v.report.displays else ""
    )
    return v.report


@dataclass
class _Run:
    """What the verify passes share."""

    nb: Any
    path: Path
    work: Path
    timeout: float
    keep: bool
    report: VerifyReport
    result: Any = None  # convert.ConvertResult
    manifest: Manifest | None = None  # its manifest, read through the one type
    run: Any = None  # the package run
    by_cell: dict[int, list[Finding]] = field(default_factory=dict)
    actual: dict[int | None, str] = field(default_factory=dict)  # the package's stdout by cell
    seed: int | None = None  # both sides start with random / numpy seeded alike

    @property
    def counts(self) -> dict[int, int | None]:
        return {c.index: c.execution_count for c in self.nb.code_cells}

    @property
    def out(self) -> Path:
        return self.work / "package"

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.manifest.steps if self.manifest is not None else []

    def at(self, cell: int | None) -> None:
        self.report.first_cell = cell
        self.report.execution_count = self.counts.get(cell) if cell else None


def _new_report(path: Path, work: Path, keep: bool) -> VerifyReport:
    return VerifyReport(
        equal=False,
        notebook=str(path),
        package=None,
        first_cell=None,
        expected="",
        actual="",
        cause=None,
        explanation="",
        timings={"notebook_s": 0.0, "convert_s": 0.0, "package_s": 0.0},
        workdir=str(work) if keep else None,
    )


def _notebook_pass(v: _Run, kernel_name: str) -> Any:
    """a. the notebook, in a fresh kernel; None (and the report says why) when it fails."""
    start = time.perf_counter()
    target = v.work / f"{v.path.stem}.executed.ipynb"
    source = _seeded_copy(v.nb, v.path, v.work, v.seed) if v.seed is not None else v.path
    executed, error = _run_notebook(source, target, kernel_name, v.timeout, cwd=v.path.parent)
    v.report.timings["notebook_s"] = round(time.perf_counter() - start, 3)
    if error is None:
        if not v.keep:
            target.unlink(missing_ok=True)
        return executed
    cell = _failed_cell(v.nb, executed, running=error["kind"] == "timeout")
    v.at(cell)
    v.report.cause = "notebook error"
    where = _label(cell, v.counts) if cell else "a cell"
    if error["kind"] == "timeout":
        what = f"did not finish within {v.timeout:g} s"
    elif error["kind"] == "dead":
        what = "killed the kernel"
    else:
        evalue = str(error.get("evalue") or "").strip().splitlines()
        what = f"raised {error['ename']}" + (f": {evalue[0][:200]}" if evalue else "")
    v.report.explanation = (
        f"{where} {what} when the notebook ran top-down in a fresh kernel; "
        "fix the notebook first (there is nothing to compare)"
    )
    return None


def _convert_pass(v: _Run) -> None:
    """b. convert; its manifest's findings, by cell, explain differences later."""
    from .convert import ConvertError, convert

    start = time.perf_counter()
    try:
        v.result = convert(str(v.path), v.out, force=True)
    except ConvertError as exc:
        raise VerifyError(f"cannot convert: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a converter bug: one line, not a traceback
        raise VerifyError(
            f"convert failed ({type(exc).__name__}: {exc}); this is a bug in nb2svc convert"
        ) from exc
    v.report.timings["convert_s"] = round(time.perf_counter() - start, 3)
    v.report.package = v.result.package
    v.manifest = v.result.manifest
    v.by_cell = _findings_by_cell(v.manifest)


def _package_pass(v: _Run) -> None:
    """c. the package, in a fresh process."""
    functions = [s["function"] for s in v.steps]
    v.run = _run_package(v.out, v.result.package, functions, v.path.parent, v.timeout, v.seed)
    v.report.timings["package_s"] = round(v.run.seconds, 3)
    if v.keep:
        (v.work / "package.stdout.txt").write_text(v.run.stdout, encoding="utf-8")
        (v.work / "package.stderr.txt").write_text(v.run.stderr, encoding="utf-8")


def _expected_output(v: _Run, matched: dict[int, Any]) -> dict[int, str]:
    """d. the notebook's stdout per cell (`matched`: original cell → executed cell), without
    the chatter of the magics convert removed."""
    actions_by_cell: dict[int, list[dict[str, Any]]] = {}
    for a in v.manifest.ipython:
        actions_by_cell.setdefault(a.get("cell"), []).append(a)
    expected: dict[int, str] = {}
    for c in v.nb.code_cells:
        raw = _stdout_of(matched[c.index]) if c.index in matched else ""
        kinds = _chatter_kinds(actions_by_cell.get(c.index, []))
        text, removed = normalize(raw, [k for k, _ in kinds])
        expected[c.index] = text
        if removed:
            v.report.normalized.append(
                {"cell": c.index, "magics": [shown for _, shown in kinds], "removed": removed}
            )
    return expected


def _expected_displays(v: _Run, matched: dict[int, Any]) -> dict[int, str]:
    """d'. the notebook's displayed value per cell: its `execute_result` text/plain."""
    out: dict[int, str] = {}
    for c in v.nb.code_cells:
        for o in (matched.get(c.index) or {}).get("outputs") or []:
            if o.get("output_type") == "execute_result":
                text = (o.get("data") or {}).get("text/plain", "")
                out[c.index] = display_text("".join(text) if isinstance(text, list) else text)
    return out


def _compare(v: _Run, expected_by_cell: dict[int, str], displays: dict[int, str]) -> list[int]:
    """e. compare cell by cell (stdout and displayed values), per step and in total; returns
    the module-level cells."""
    in_steps = {i for s in v.steps for i in s.get("cells", [])}
    module_cells = [c.index for c in v.nb.code_cells if c.index not in in_steps]
    v.actual = actual = _actual_by_cell(v)

    def segment(function: str, cells: list[int], ran: bool, extra: str = "") -> StepResult:
        expected = "".join(expected_by_cell.get(i, "") for i in cells)
        text = extra + "".join(actual.get(i, "") for i in cells)
        return StepResult(function, cells, expected == text, expected, text, ran)

    v.report.module_level = segment(MODULE_LEVEL, module_cells, True, actual.get(None, ""))
    v.report.steps = [
        segment(s["function"], list(s.get("cells", [])), s["function"] in v.run.order)
        for s in v.steps
    ]
    total_expected = "".join(expected_by_cell[c.index] for c in v.nb.code_cells)
    v.report.total_equal = total_expected == display_text(v.run.stdout)
    v.report.lines = len(total_expected.splitlines())
    shown = {cell: display_text(text) for cell, text in v.run.displays}
    v.report.displays = len(displays)
    v.report.differences = _differences(v, expected_by_cell, displays, shown)
    v.report.stdout_equal = not any(d["mode"] == "stdout" for d in v.report.differences)
    v.report.displays_equal = not any(d["mode"] == "display" for d in v.report.differences)
    return module_cells


def _actual_by_cell(v: _Run) -> dict[int | None, str]:
    """The package's stdout by notebook cell: each write's pipeline.py line (the statement of
    the running step, or module-level code) through the manifest's line map. None: output no
    cell's code wrote (an import's chatter)."""
    out: dict[int | None, str] = {}
    for line, text in v.run.chunks:
        cell = _cell_of_line(v.manifest, line) if line is not None else None
        out[cell] = out.get(cell, "") + text
    return {cell: display_text(text) for cell, text in out.items()}


def _differences(
    v: _Run, expected: dict[int, str], displays: dict[int, str], shown: dict[int, str]
) -> list[dict[str, Any]]:
    """The first differing cell of each mode (stdout, display), in notebook order."""
    found: dict[str, dict[str, Any]] = {}
    stray = v.actual.get(None, "")
    if stray:  # printed while importing, by no cell's code
        found["stdout"] = {"mode": "stdout", "cell": None, "expected": "", "actual": stray}
    for c in v.nb.code_cells:
        i = c.index
        if "stdout" not in found and expected.get(i, "") != v.actual.get(i, ""):
            found["stdout"] = {
                "mode": "stdout",
                "cell": i,
                "expected": expected.get(i, ""),
                "actual": v.actual.get(i, ""),
            }
        if "display" not in found and displays.get(i) != shown.get(i):
            found["display"] = {
                "mode": "display",
                "cell": i,
                "expected": displays.get(i, ""),
                "actual": shown.get(i, ""),
            }
    return [found[m] for m in ("stdout", "display") if m in found]


def _package_failed(v: _Run) -> VerifyReport:
    """The package exited with an error or timed out: where, and what convert had warned."""
    run, report = v.run, v.report
    running = run.order[-1] if run.order else None
    cell = _cell_of_traceback(run.stderr, v.out, v.result.package, v.manifest)
    step = next((s for s in v.steps if s["function"] == running), None)
    if cell is None and step and step.get("cells"):
        cell = step["cells"][0]
    v.at(cell)
    report.first_step, report.cause = running, "package error"
    report.stderr_tail = _tail(run.stderr)
    failing = next((ln for ln in reversed(run.stderr.strip().splitlines()) if ln.strip()), "")
    where = (
        f"in step `{running}()`"
        if running
        else "while it was imported (module-level code: hoisted imports, functions, classes)"
    )
    at = f" at {_label(cell, v.counts)}" if cell else ""
    if run.returncode is None:
        report.explanation = f"the package did not finish within {v.timeout:g} s ({where}{at})"
    else:
        report.explanation = (
            f"the package exited with status {run.returncode} {where}{at}: "
            f"{failing.strip()[:300] or 'no error message'} (the notebook ran fine top-down)"
        )
    warned = [f for f in (v.by_cell.get(cell, []) if cell else []) if _is_conversion(f)]
    if warned:
        report.explanation += f"; convert had warned: {warned[0].message}"
    seg = next((s for s in report.steps if s.function == running), report.module_level)
    report.expected, report.actual = seg.expected, seg.actual
    return report


def _is_conversion(f: Finding) -> bool:
    return f.code == "convert" or f.kind == "generated-code"


def _cell_differs(v: _Run) -> VerifyReport:
    """The first cell whose output (stdout or displayed value) differs, and why; each mode's
    first difference gets its own cause in `differences`."""
    for d in v.report.differences:
        d["cause"], d["explanation"] = _explain(v, d)
    first = min(v.report.differences, key=lambda d: (d["cell"] or 0, d["mode"] != "stdout"))
    report = v.report
    v.at(first["cell"])
    step = next((s for s in v.steps if first["cell"] in s.get("cells", [])), None)
    report.first_step = step["function"] if step else None
    report.expected, report.actual = first["expected"], first["actual"]
    report.cause, report.explanation = first["cause"], first["explanation"]
    report.first_mode = first["mode"]
    return report


def _explain(v: _Run, d: dict[str, Any]) -> tuple[str, str]:
    cell = d["cell"]
    if cell is None:
        return "unknown", "the package printed output at module level that no notebook cell printed"
    label = _label(cell, v.counts)
    step = next((s for s in v.steps if cell in s.get("cells", [])), None)
    if step is not None and step["function"] not in v.run.order:
        return "unknown", f"the package never called `{step['function']}()` ({label})"
    source = next((c.source for c in v.nb.code_cells if c.index == cell), "")
    clock = _clock_only(d["expected"], d["actual"])
    if clock:
        cause, why = (
            "timing",
            f"{label} prints a clock time ({clock}: the time of day, or a file's modification "
            "time), which differs between runs",
        )
    else:
        cause, why = _cause(cell, v.manifest, v.by_cell, label, source)
    dynamic = _dynamic_lookup(v, source) if cause == "unknown" else None
    if dynamic:
        cause, why = (
            "conversion limit",
            f"{label} looks names up at run time ({dynamic}); in the package the notebook's "
            "names are local variables of step functions, which such lookups do not see",
        )
    if d["mode"] == "display":
        if not d["actual"]:
            why = "displayed value: the package displays nothing; " + why
        elif not d["expected"]:
            why = "displayed value: the notebook displays nothing; " + why
        else:
            why = "displayed value: the package displays another one; " + why
    return cause, why


#: a time of day or a date in output text (`ls -l`, a log line, `datetime.now()` printed)
_CLOCK_TEXT = re.compile(
    r"(?<!\d)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?!\d)|(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)"
)


def _clock_only(expected: str, actual: str) -> str | None:
    """`"04:32 vs 04:33"` when two texts differ only in the clock times or dates they show."""
    if expected == actual or not expected or not actual:
        return None
    if _CLOCK_TEXT.sub("…", expected) != _CLOCK_TEXT.sub("…", actual):
        return None
    pairs = zip(_CLOCK_TEXT.findall(expected), _CLOCK_TEXT.findall(actual), strict=False)
    return next((f"{a} vs {b}" for a, b in pairs if a != b), None)


_DYNAMIC = frozenset({"eval", "exec", "globals", "locals", "vars"})


def _dynamic_calls(tree: ast.AST) -> str | None:
    """The first `eval(`/`exec(`/`globals()`... call in a syntax tree, by name."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _DYNAMIC
        ):
            return node.func.id
    return None


def _dynamic_lookup(v: _Run, source: str) -> str | None:
    """How the cell looks names up at run time, directly or through a function or class the
    notebook defines (`eval` in `display.__repr__`), else None."""
    try:
        own = _dynamic_calls(ast.parse(source))
    except SyntaxError:
        return None
    if own:
        return f"`{own}()`"
    for c in v.nb.code_cells:
        try:
            tree = ast.parse(c.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and re.search(
                rf"\b{re.escape(node.name)}\s*\(", source
            ):
                call = _dynamic_calls(node)
                if call:
                    return f"`{call}()` in `{node.name}` (cell {c.index})"
    return None


def _output_moved(
    v: _Run, expected_by_cell: dict[int, str], module_cells: list[int]
) -> VerifyReport:
    """Every segment matches, but output printed at import time moved to the front."""
    cell = next((i for i in module_cells if expected_by_cell.get(i)), None)
    v.at(cell)
    v.report.cause = "conversion limit"
    v.report.explanation = (
        f"{_label(cell, v.counts)} prints while the package is imported (its code runs at "
        "module level), so its output comes before the steps' output"
    )
    total = "".join(expected_by_cell[c.index] for c in v.nb.code_cells)
    v.report.expected, v.report.actual = total, _newlines(v.run.stdout)
    return v.report


# -- text report -----------------------------------------------------------------------


def _diff(expected: str, actual: str, name: str, limit: int = 20) -> list[str]:
    lines = list(
        difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            fromfile=f"notebook ({name})",
            tofile=f"package ({name})",
            n=2,
            lineterm="",
        )
    )
    if len(lines) > limit:
        lines = lines[:limit] + [f"… ({len(lines) - limit} more diff lines)"]
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def report_text(report: VerifyReport) -> str:
    """A short human report: equal / different, the cause, a small diff, timings."""
    out: list[str] = []
    if report.equal:
        shown = f", {_plural(report.displays, 'displayed value')}" if report.displays else ""
        out.append(
            "equal: the package printed exactly what the notebook printed "
            f"({_plural(len(report.steps), 'step')}, {_plural(report.lines, 'line')}{shown})"
        )
    else:
        if report.first_cell is not None:
            where = _label(report.first_cell, {report.first_cell: report.execution_count})
            out.append(f"different: {where} — {report.cause}: {report.explanation}")
        else:
            out.append(f"different: {report.cause}: {report.explanation}")
        if report.cause == "package error" and report.stderr_tail:
            out.append("package stderr (last lines):")
            out += ["  " + ln for ln in report.stderr_tail.splitlines()]
        elif report.cause != "notebook error" and (report.expected or report.actual):
            name = f"{report.first_step}()" if report.first_step else MODULE_LEVEL
            if report.first_mode == "display":
                name = f"cell {report.first_cell} Out"
            out += _diff(report.expected, report.actual, name)
        out += [
            f"also: the first {'displayed value' if d['mode'] == 'display' else 'stdout'} "
            f"difference is at cell {d['cell']} — {d.get('cause')}: {d.get('explanation')}"
            for d in report.differences
            if d["mode"] != report.first_mode and "cause" in d
        ]
    if report.normalized:
        parts = [
            f"cell {n['cell']} ({', '.join(n['magics'])}: {_plural(len(n['removed']), 'line')})"
            for n in report.normalized
        ]
        out.append("normalized: magic chatter removed from the notebook side: " + "; ".join(parts))
    t = report.timings
    out.append(
        f"timings: notebook {t.get('notebook_s', 0):.1f} s, convert {t.get('convert_s', 0):.1f} s, "
        f"package {t.get('package_s', 0):.1f} s"
    )
    if report.workdir:
        out.append(f"kept: {report.workdir}")
    return "\n".join(out)
