"""nb2svc_runtime is typed: `mypy --strict` (configured in runtime/pyproject.toml) finds nothing
in runtime/src. A cold run takes about 10 s, so it is a slow test."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "runtime" / "pyproject.toml"


def test_the_runtime_is_checked_strictly():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    config = tomllib.loads(CONFIG.read_text())["tool"]["mypy"]
    assert config["strict"] is True
    for override in config.get("overrides", []):  # only missing stubs may be relaxed
        assert set(override) <= {"module", "ignore_missing_imports"}


@pytest.mark.slow
def test_runtime_passes_mypy_strict(tmp_path):
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run(
        ["--config-file", str(CONFIG), "--cache-dir", str(tmp_path), str(ROOT / "runtime" / "src")]
    )
    assert status == 0, out + err
    assert "Success: no issues found" in out
