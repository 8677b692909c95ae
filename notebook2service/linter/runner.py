"""Lint files and folders: discovery, settings per file, a content-hash cache, two cores."""

from __future__ import annotations

import gc
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import ConfigError, Options
from ..findings import Finding
from ..notebook import Notebook, NotebookError, load, loads, walk_files
from .checker import check_notebook

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".ipynb_checkpoints",
        "__pycache__",
        "node_modules",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".ruff_cache",
        ".nb2svc_cache",
        "site-packages",
        "build",
        "dist",
    }
)
CACHE_DIR = ".nb2svc_cache"


@dataclass
class FileResult:
    path: str
    diagnostics: list[Finding] = field(default_factory=list)
    error: str | None = None  # the file could not be read as a notebook (exit code 2)
    skipped: str | None = None  # not analysed on purpose (e.g. an R kernel)


def discover(paths: Iterable[str], options: Options) -> tuple[list[str], list[FileResult]]:
    """Notebooks named directly, and *.ipynb found recursively in folders (like ruff)."""
    files: dict[str, None] = {}  # ordered, without repeats
    errors: list[FileResult] = []
    for raw in paths:
        if Path(raw).is_dir():
            found = walk_files(Path(raw), lambda n: n.endswith(".ipynb"), SKIP_DIRS)
            files.update((f, None) for f in found if not _excluded(options, f))
        elif Path(raw).exists():
            files.setdefault(str(Path(raw)))
        else:
            errors.append(FileResult(str(Path(raw)), error="no such file or directory"))
    return list(files), errors


def _excluded(options: Options, path: str) -> bool:
    try:
        return options.resolve(path).excluded(path)
    except ConfigError:
        return False  # reported when the file itself is linted


def lint_notebook(nb: Notebook, options: Options | None = None) -> FileResult:
    options = options or Options()
    if not nb.is_python:
        return FileResult(nb.path, skipped=f"the kernel is {nb.kernel_name}, not Python")
    settings = options.resolve(nb.path)
    enabled = (
        (lambda code: settings.enabled(code, nb.path))
        if settings.per_file_ignores
        else settings.enabled
    )
    return FileResult(nb.path, check_notebook(nb, enabled))


def _blake2b(data: bytes):  # type: ignore[no-untyped-def]
    try:  # the C module alone; `hashlib` also loads OpenSSL (~4 ms of start-up)
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover
        from hashlib import blake2b
    return blake2b(data, digest_size=20)


def _cache_key(data: bytes, options: Options, path: str) -> str:
    h = _blake2b(data)
    h.update(f"\0{__version__}\0{options.resolve(path).key()}\0{path}".encode())
    if _STAR_IMPORT.search(data):  # a local module's exports are part of the result
        h.update(_local_modules_stamp(Path(path).parent).encode())
    return h.hexdigest()


_STAR_IMPORT = re.compile(rb"import\s+\*")


def _local_modules_stamp(folder: Path) -> str:
    """Names, sizes and mtimes of the Python files a star import may read (bounded)."""
    try:
        files = sorted([*folder.glob("*.py"), *folder.glob("*/*.py")])[:500]
        return "\0".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    except OSError:
        return ""


def _cache_read(cache: Path, key: str) -> list[Finding] | None:
    try:
        raw = (cache / key[:2] / f"{key}.json").read_text(encoding="utf-8")
        return [Finding.from_dict(d) for d in json.loads(raw)]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cache_write(cache: Path, key: str, diagnostics: list[Finding]) -> None:
    try:
        folder = cache / key[:2]
        if not cache.exists():
            cache.mkdir(parents=True, exist_ok=True)
            (cache / ".gitignore").write_text("# created by nb2svc\n*\n", encoding="utf-8")
        folder.mkdir(exist_ok=True)
        write_atomic(folder / f"{key}.json", json.dumps([d.to_dict() for d in diagnostics]))
    except OSError:
        pass  # a read-only tree still lints, just without a cache


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        finally:
            raise


def lint_file(path: str, options: Options | None = None, cache: Path | None = None) -> FileResult:
    options = options or Options()
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        return FileResult(path, error="is a directory")
    except OSError as exc:
        return FileResult(path, error=exc.strerror or str(exc))
    key = None
    try:
        if cache is not None:
            key = _cache_key(data, options, path)
            hit = _cache_read(cache, key)
            if hit is not None:
                return FileResult(path, hit)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return FileResult(path, error="not a notebook: the file is not UTF-8 text")
        result = lint_notebook(loads(text, path=path), options)
    except NotebookError as exc:
        return FileResult(path, error=str(exc))
    except ConfigError as exc:
        return FileResult(path, error=f"configuration error: {exc}")
    if key is not None and result.skipped is None:
        _cache_write(cache, key, result.diagnostics)
    return result


_linted = 0


def _worker(args: tuple[str, Options, Path | None]) -> FileResult:
    global _linted
    _linted += 1
    if _linted % 256 == 0 and not gc.isenabled():
        gc.collect()  # the CLI runs without the cyclic collector; bound what cycles hold
    path, options, cache = args
    try:
        return lint_file(path, options, cache)
    except Exception as exc:  # noqa: BLE001 - one bad file must not take the run down
        return FileResult(path, error=f"internal error while linting ({type(exc).__name__}: {exc})")


def lint_paths(
    paths: Sequence[str],
    options: Options | None = None,
    *,
    jobs: int | None = None,
    cache: bool | str | Path = False,
) -> list[FileResult]:
    """Lint files and folders; results in a stable order (errors for missing paths first)."""
    options = options or Options()
    files, results = discover(paths, options)
    cache_dir = (
        Path(cache) if isinstance(cache, (str, Path)) else (Path(CACHE_DIR) if cache else None)
    )
    jobs = jobs or os.cpu_count() or 1
    work = [(f, options, cache_dir) for f in files]
    if jobs > 1 and len(files) >= 8:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
        with ProcessPoolExecutor(max_workers=min(jobs, len(files)), mp_context=ctx) as pool:
            chunk = max(1, min(32, len(files) // (jobs * 4)))
            results.extend(pool.map(_worker, work, chunksize=chunk))
    else:
        results.extend(_worker(w) for w in work)
    return results


def _is_dir(path: str | os.PathLike[str]) -> bool:
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):
        return False


def lint(
    target: Any,
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    config: bool = True,
) -> list[Finding]:
    """Diagnostics for a notebook path, a folder, a list of paths, or an in-memory notebook
    (a dict, an nbformat NotebookNode, JSON text or a loaded Notebook).

    Raises ``NotebookError`` when an input cannot be read as a notebook. A notebook whose
    kernel is not Python gives no diagnostics.
    """
    options = Options(
        select=tuple(select) if select else None,
        ignore=tuple(ignore) if ignore else None,
        use_config=config,
    )
    is_text = isinstance(target, str) and (
        target.lstrip("\ufeff \t\r\n")[:1] in ("{", "[") or "\n" in target
    )
    if is_text or not isinstance(target, (str, os.PathLike, list, tuple)):
        results = [lint_notebook(load(target), options)]
    elif isinstance(target, (list, tuple)) or _is_dir(target):
        paths = [str(t) for t in target] if isinstance(target, (list, tuple)) else [str(target)]
        results = lint_paths(paths, options, jobs=1)
    else:
        results = [lint_file(str(target), options)]
    out: list[Finding] = []
    for r in results:
        if r.error:
            raise NotebookError(f"{r.path}: {r.error}")
        out.extend(r.diagnostics)
    return out
