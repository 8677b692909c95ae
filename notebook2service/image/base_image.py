"""A local base image for machines that reach no image registry (python:X.Y-slim cannot be
pulled), built from Debian packages and cached:

1. ``debootstrap --variant=minbase --include=python3,python3-venv,...`` the Debian release
   whose Python is the notebook's (3.11 → bookworm, 3.13 → trixie, 3.9 → bullseye);
2. ``tar -C ROOTFS -c . | podman import - localhost/nb2svc-debian:RELEASE``;
3. a thin layer with a venv first on PATH (Debian's Python refuses system-wide ``pip install``,
   and the generated Dockerfile expects ``python``/``pip`` as in ``python:X.Y-slim``), tagged
   ``localhost/nb2svc-base:pythonX.Y``; pass it to the build as ``--build-arg BASE=...``.

    python -m notebook2service.image.base_image 3.11     # prints the tag; cached next time
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["BaseImageError", "DEBIAN_PYTHON", "base_tag", "ensure_base_image"]

#: Debian release → its python3 version
DEBIAN_PYTHON = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
MIRROR = os.environ.get("NB2SVC_DEBIAN_MIRROR", "http://deb.debian.org/debian")

_THIN_LAYER = """FROM {parent}
RUN python3 -m venv /opt/py && /opt/py/bin/python -m pip --version
ENV PATH=/opt/py/bin:$PATH
"""


class BaseImageError(Exception):
    """The base image cannot be built here (message: one line, what to do)."""


def base_tag(python: str) -> str:
    return f"localhost/nb2svc-base:python{python}"


def _run(cmd: list[str], timeout: int = 1800, **kwargs) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BaseImageError(f"{cmd[0]}: {exc}") from None
    if proc.returncode:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        raise BaseImageError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {tail[0]}")
    return proc


def _exists(engine: str, tag: str) -> bool:
    return subprocess.run([engine, "image", "exists", tag], capture_output=True).returncode == 0


def _rootfs_image(engine: str, release: str, cache: Path) -> str:
    tag = f"localhost/nb2svc-debian:{release}"
    if _exists(engine, tag):
        return tag
    if not shutil.which("debootstrap"):
        raise BaseImageError("debootstrap is not installed (apt-get install -y debootstrap)")
    tarball = cache / f"{release}-minbase.tar"
    if not tarball.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            rootfs = Path(tmp) / "rootfs"
            include = "python3,python3-venv,python3-pip,ca-certificates"
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={include}",
                    release,
                    str(rootfs),
                    MIRROR,
                ]
            )
            partial = tarball.with_suffix(".partial")
            _run(["tar", "-C", str(rootfs), "-cf", str(partial), "."])
            os.replace(partial, tarball)
    _run([engine, "import", str(tarball), tag])
    return tag


def ensure_base_image(python: str, engine: str = "podman", cache: Path | None = None) -> str:
    """The tag of a local base image with ``python``/``pip`` of version ``python`` on PATH."""
    tag = base_tag(python)
    if _exists(engine, tag):
        return tag
    release = DEBIAN_PYTHON.get(python)
    if release is None:
        known = ", ".join(f"{v} ({r})" for v, r in DEBIAN_PYTHON.items())
        raise BaseImageError(
            f"no Debian release ships Python {python} (known: {known}); "
            f"pass a base image with --base"
        )
    cache = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nb2svc"
    parent = _rootfs_image(engine, release, cache)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Dockerfile").write_text(_THIN_LAYER.format(parent=parent))
        _run([engine, "build", "--isolation", "chroot", "-t", tag, tmp])
    return tag


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    python = args[0] if args else f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        print(ensure_base_image(python))
    except BaseImageError as exc:
        print(f"nb2svc base image: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
