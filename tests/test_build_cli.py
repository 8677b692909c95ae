"""`nb2svc build`: engine choice and one-line errors (the real build is in test_image.py)."""

import os
import stat

import pytest

from notebook2service.cli import main
from notebook2service.image import build


def _fake(bin_dir, name, rc):
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\nexit {rc}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_no_engine_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(build.BuildError, match="no container engine"):
        build.find_engine()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "Dockerfile").write_text("FROM scratch\n")
    assert main(["build", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nb2svc build: no container engine") and "\n" not in err


def test_docker_without_a_running_engine_falls_back_to_podman(tmp_path, monkeypatch):
    _fake(tmp_path, "docker", 1)  # the CLI is there, `docker info` fails: no daemon
    podman = _fake(tmp_path, "podman", 0)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert build.find_engine() == podman
    docker = _fake(tmp_path, "docker", 0)
    assert build.find_engine() == docker


def test_missing_dockerfile(tmp_path, capsys):
    assert main(["build", str(tmp_path)]) == 2
    assert "no Dockerfile" in capsys.readouterr().err


def test_host_pip_mounts_are_read_only_existing_paths():
    args = build.host_pip_mounts()
    pairs = args[1::2]
    assert args[::2] == ["-v"] * len(pairs)
    for pair in pairs:
        src, _, rest = pair.partition(":")
        assert os.path.exists(src) and rest.endswith(":ro")
