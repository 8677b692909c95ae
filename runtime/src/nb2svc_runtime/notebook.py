"""What a notebook's code needs outside Jupyter: what it got from IPython, as plain Python.

A converted package's ``pipeline.py`` imports these (``from nb2svc_runtime.notebook import
...``) instead of carrying a copy: ``!cmd`` shell commands, ``display()``, data reads as
SageMaker channels, each cell's displayed value (``Out[n]``) and the inline backend's figure
lifecycle. No IPython is needed; matplotlib, pandas and numpy are used only when the
notebook's code already imported them.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import io
import logging
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, TypeVar

from nb2svc_runtime.training import channel_variable

T = TypeVar("T")

__all__ = [
    "display",
    "end_cell",
    "plain_text",
    "read_channel",
    "run_await",
    "save_figures_to",
    "shell",
    "shell_lines",
    "show_result",
]

_OFF = ("", "0", "false", "no")  # NB2SVC_SHOW values that mean "do not print"


def shell(command: str, executable: str | None = None) -> int:
    """`!cmd`: run it, print what it printed (stdout and stderr, as Jupyter shows them)."""
    sys.stdout.flush()
    proc = subprocess.run(
        command,
        shell=True,
        executable=executable,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    sys.stdout.write(proc.stdout)
    sys.stdout.flush()
    return proc.returncode


def shell_lines(command: str) -> list[str]:
    """`x = !cmd`: the lines the command printed."""
    proc = subprocess.run(
        command,
        shell=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return proc.stdout.splitlines()


def display(*objs: object, **kwargs: object) -> None:
    """IPython's `display()`: rich output has no place in a batch job; it is logged (DEBUG)."""
    for obj in objs:
        logging.getLogger(__name__).debug("display: %r", obj)


def read_channel(
    reader: Callable[..., T], channel: str, default: str, *args: Any, **kwargs: Any
) -> T | list[T] | Any:
    """A data-file read the notebook made, as a SageMaker channel.

    Locally (no `SM_CHANNEL_<NAME>` set) this is `reader(default, ...)`, the notebook's own
    read. Under SageMaker training it reads the file of the notebook's name in the channel
    folder (`data/train.csv` → `<channel>/data/train.csv`, else `<channel>/train.csv`), or
    the folder's only file. A folder without that name holds the data in parts (sharded
    S3 objects): the files of the notebook's file type are read and concatenated (pandas
    frames with `pd.concat`, arrays with `np.concatenate`).
    """
    folder = os.environ.get(channel_variable(channel))
    if not folder:
        return reader(default, *args, **kwargs)
    parts = [reader(str(p), *args, **kwargs) for p in _channel_files(channel, folder, default)]
    if len(parts) == 1:
        return parts[0]
    kind = type(parts[0]).__module__.split(".")[0]
    if kind == "pandas":
        import pandas

        return pandas.concat(parts, ignore_index=True)
    if kind == "numpy":
        import numpy

        arrays: list[Any] = list(parts)  # numpy arrays, as their module says
        return numpy.concatenate(arrays)
    return parts


def _channel_files(channel: str, folder: str, default: str) -> list[Path]:
    """The files of `folder` that hold the notebook's `default` file: the one of its name (or a
    shorter tail of its path), the only file, or the parts of its file type."""
    files = sorted(
        p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
    )
    if not files:
        raise FileNotFoundError(f"channel {channel!r} ({folder}) holds no files")
    wanted = [p for p in PurePosixPath(default).parts if p not in ("", ".", "..", "/")]
    for k in range(len(wanted), 0, -1):  # the notebook's path, then shorter tails of it
        candidate = Path(folder, *wanted[-k:])
        if candidate.is_file():
            return [candidate]
    suffix = PurePosixPath(default).suffix
    return files if len(files) == 1 else [p for p in files if p.suffix == suffix] or files


def plain_text(value: object) -> str | None:
    """The text/plain form Jupyter shows for a value (`Out[n]`): IPython's formatter when IPython
    is installed, as in the kernel; else `repr()`. None when IPython's formatter fails on it
    (it says why on stderr, and Jupyter shows no `Out` either)."""
    try:
        from IPython.core.formatters import PlainTextFormatter
    except ImportError:
        return repr(value)
    text = PlainTextFormatter()(value)
    return None if text is None else str(text)


def displayed_logger(module: str) -> logging.Logger:
    """The logger of displayed values for code in `module`: `<package>.displayed` (the package
    that holds `module`; a top-level module is its own package)."""
    package = module.rpartition(".")[0] or module
    return logging.getLogger(package + ".displayed")


def show_result(value: object, cell: int | str) -> None:
    """A cell's displayed value (its last expression, which Jupyter shows as `Out[n]`).

    None is not shown, as in Jupyter. Otherwise it is logged at INFO (logger
    `<package>.displayed`, the package of the calling module, with the cell number) and,
    with `python -m <package> --show` (or NB2SVC_SHOW=1), printed as `Out[cell N]: ...`.
    """
    if value is None:
        return
    logger = displayed_logger(sys._getframe(1).f_globals.get("__name__", "__main__"))
    show = os.environ.get("NB2SVC_SHOW", "").lower() not in _OFF
    if not (show or logger.isEnabledFor(logging.INFO)):
        return
    text = plain_text(value)
    if text is None:  # IPython's formatter failed on it (and said why on stderr)
        return
    logger.info("cell %s: Out: %s", cell, text)
    if show:
        sys.stdout.write(f"Out[cell {cell}]:{chr(10) if chr(10) in text else ' '}{text}\n")


class _Figures:
    """The process's figure state: the --figures folder, and figures shown mid-cell."""

    folder: str | None = None
    shown: list[bytes] = []


def save_figures_to(folder: str) -> None:
    """`python -m <package> --figures DIR`: each cell's figures become DIR/<step>-cell<N>-<k>.png."""
    os.makedirs(folder, exist_ok=True)
    _Figures.folder = folder


def _rendered(pyplot: ModuleType) -> list[bytes]:
    """The open figures as PNG bytes (only when they are saved), then closed."""
    images = []
    if _Figures.folder is not None:
        for number in pyplot.get_fignums():
            buffer = io.BytesIO()
            pyplot.figure(number).savefig(buffer, format="png", bbox_inches="tight")
            images.append(buffer.getvalue())
    pyplot.close("all")
    return images


def _inline_show(*args: object, **kwargs: object) -> None:
    """`plt.show()` under the inline backend: the figures are shown (here: kept for
    --figures) and closed, so later plotting in the cell starts a new figure."""
    _Figures.shown = _Figures.shown + _rendered(sys.modules["matplotlib.pyplot"])


class _InlineShowLoader(importlib.abc.Loader):
    """matplotlib.pyplot's own loader, then `show` made the inline backend's."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        _use_inline_show(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ...
        return getattr(self.loader, name)


class _PyplotFinder(importlib.abc.MetaPathFinder):
    """Finds `matplotlib.pyplot` as the path finder does, with `_InlineShowLoader`."""

    def find_spec(
        self, name: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "matplotlib.pyplot":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _InlineShowLoader(spec.loader)
        return spec


def _use_inline_show(pyplot: ModuleType) -> None:
    if getattr(pyplot, "show", None) is not _inline_show:
        setattr(pyplot, "show", _inline_show)  # noqa: B010 - a module's attribute, typed as such


def _inline_figures() -> None:
    """`plt.show()` is the inline backend's from the first cell on: now when pyplot is
    already imported (a leading import cell), else as soon as a cell imports it (this never
    imports matplotlib itself)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        _use_inline_show(pyplot)
    elif not any(isinstance(f, _PyplotFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PyplotFinder())


def end_cell(step: str, cell: int | str) -> None:
    """The end of a notebook cell under the inline backend: its figures are shown (saved
    under --figures) and closed, so the next cell's `plt.*` calls never reach them. Nothing
    happens while matplotlib is not imported (this never imports it)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    _use_inline_show(pyplot)
    images, _Figures.shown = _Figures.shown + _rendered(pyplot), []
    for k, data in enumerate(images, 1):
        with open(f"{_Figures.folder}/{step}-cell{cell}-{k}.png", "wb") as fh:
            fh.write(data)


class _Loop:
    """The one event loop of a run's top-level `await`s."""

    loop: asyncio.AbstractEventLoop | None = None


def run_await(awaitable: Awaitable[T]) -> T:
    """A cell's top-level `await` (IPython's autoawait): run to completion on one event loop
    kept for the whole run, so objects bound to the loop outlive the cell."""
    loop = _Loop.loop
    if loop is None or loop.is_closed():
        loop = _Loop.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop.run_until_complete(awaitable)


_inline_figures()  # a package that imports these helpers runs its figures as Jupyter does
