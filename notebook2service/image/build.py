"""`nb2svc build OUT`: build the image of a converted package with docker or podman.

Docker (with a running engine) is used as is: ``docker build -t TAG OUT``. Podman builds with
``--isolation chroot`` (works without cgroups/rlimit privileges). Options:

- ``base``: the ``BASE`` build argument (default in the Dockerfile: ``python:X.Y-slim``);
  ``local_base=True`` builds one from Debian packages first (:mod:`.base_image`);
- ``host_pip=True``: mount the host's pip configuration (config files, CA bundle, local
  wheel folders and ``file://`` indexes it names) read-only into the build, for machines whose
  pip only works through that configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..manifest import FILENAME, Manifest, ManifestError
from .base_image import BaseImageError, ensure_base_image

__all__ = ["BuildError", "BuildResult", "build_image", "find_engine", "host_pip_mounts"]

PIP_CONFIG_FILES = ("/etc/pip.conf", "/etc/xdg/pip", str(Path.home() / ".config/pip/pip.conf"))


class BuildError(Exception):
    """The image cannot be built (one-line message)."""


@dataclass
class BuildResult:
    tag: str
    engine: str
    seconds: float
    size_bytes: int | None


def _engine_works(path: str) -> bool:
    try:
        return subprocess.run([path, "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def find_engine(preferred: str | None = None) -> str:
    """Path of docker (with a running engine) or podman; BuildError when neither works."""
    names = [preferred] if preferred else ["docker", "podman"]
    for name in names:
        path = shutil.which(name)
        if path and (Path(path).name != "docker" or _engine_works(path)):
            return path
    wanted = preferred or "docker or podman"
    raise BuildError(
        f"no container engine: {wanted} not found or not running "
        "(install Docker, or `apt-get install podman buildah`)"
    )


def _pip_config_values() -> list[str]:
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    values = []
    for line in out.splitlines():
        _, _, value = line.partition("=")
        values.extend(value.strip().strip("'\"").split())
    return values


def host_pip_mounts() -> list[str]:
    """``-v SRC:DST:ro`` arguments that give the build the host's pip configuration."""
    paths: list[str] = [p for p in PIP_CONFIG_FILES if Path(p).exists()]
    for value in _pip_config_values():
        path = value[len("file://") :] if value.startswith("file://") else value
        if path.rstrip("/").endswith("/simple"):  # a local index links to files beside it
            path = str(Path(path).parent)
        if path.startswith("/") and Path(path).exists():
            paths.append(path)
    args: list[str] = []
    kept: list[Path] = []
    for path in dict.fromkeys(paths):
        if any(Path(path).is_relative_to(k) for k in kept):
            continue  # inside a folder mounted already
        kept.append(Path(path))
        target = path
        if path == PIP_CONFIG_FILES[2]:
            target = "/root/.config/pip/pip.conf"  # RUN steps run as root
        args += ["-v", f"{path}:{target}:ro"]
    return args


def _manifest(out: Path) -> Manifest | None:
    try:
        return Manifest.read(out / FILENAME)
    except ManifestError:
        return None


def _python_of(out: Path) -> str:
    manifest = _manifest(out)
    env = manifest.environment if manifest is not None else None
    python = env.get("python") if isinstance(env, dict) else None
    return str(python) if python else f"{sys.version_info.major}.{sys.version_info.minor}"


def _tag_of(out: Path) -> str:
    manifest = _manifest(out)
    package = manifest.package if manifest is not None else out.resolve().name
    return f"localhost/{str(package).replace('_', '-').lower()}:latest"


def _image_size(engine: str, tag: str) -> int | None:
    try:
        proc = subprocess.run(
            [engine, "image", "inspect", tag, "--format", "{{.Size}}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return int(proc.stdout.strip()) if proc.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def build_image(
    out: str | Path,
    *,
    tag: str | None = None,
    engine: str | None = None,
    base: str | None = None,
    local_base: bool = False,
    host_pip: bool = False,
    timeout: int = 3600,
    log=None,
) -> BuildResult:
    """Build the image of the package in ``out``; BuildError with a one-line reason on failure."""
    out = Path(out)
    if not (out / "Dockerfile").is_file():
        raise BuildError(f"{out}: no Dockerfile (is it a folder `nb2svc convert` wrote?)")
    path = find_engine(engine)
    podman = Path(path).name == "podman"
    if local_base and not base:
        if not podman:
            raise BuildError("--local-base needs podman (docker can pull python:X.Y-slim)")
        try:
            base = ensure_base_image(_python_of(out), path)
        except BaseImageError as exc:
            raise BuildError(f"base image: {exc}") from None
    tag = tag or _tag_of(out)
    cmd = [path, "build", "-t", tag]
    if podman:
        cmd[2:2] = ["--isolation", "chroot"]
    if base:
        cmd += ["--build-arg", f"BASE={base}"]
    if host_pip:
        cmd += host_pip_mounts()
    cmd.append(str(out))
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            stdout=log or subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            env=dict(os.environ),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"{Path(path).name} build: {exc}") from None
    seconds = time.monotonic() - start
    if proc.returncode:
        lines = [ln for ln in (proc.stdout or "").splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith(("ERROR:", "error:"))]
        last = (errors or lines or ["see the build log"])[-1]
        raise BuildError(f"{Path(path).name} build failed ({proc.returncode}): {last[:300]}")
    return BuildResult(tag, path, seconds, _image_size(path, tag))
