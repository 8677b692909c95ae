"""Run a converted package's `train` and `serve` programs locally, /opt/ml relocated.

`nb2svc train OUT --data train=data/ --hp max_depth=5` lays out `OUT/.sagemaker/` like
SageMaker's /opt/ml (channels, hyperparameters.json with string values) and runs `bin/train`;
`nb2svc serve OUT` serves the model that training wrote there. These run the package's code,
and say so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from ..manifest import FILENAME, Manifest


class LocalRunError(Exception):
    pass


def default_base(out_dir: Path) -> Path:
    return out_dir / ".sagemaker"


def _program(out_dir: Path, name: str) -> Path:
    program = out_dir / "bin" / name
    if not program.is_file():
        what = "no model to serve was found at conversion" if name == "serve" else "not converted"
        raise LocalRunError(f"{program} does not exist ({what}); run `nb2svc convert` first")
    return program


def layout(base: Path, channels: dict[str, str], hyperparameters: dict[str, str]) -> None:
    """Create `base` as SageMaker would: input/data/<channel>/ (every file), config JSON."""
    data = base / "input" / "data"
    if data.exists():
        shutil.rmtree(data)
    for name, source in channels.items():
        src = Path(source)
        if not src.exists():
            raise LocalRunError(f"--data {name}={source}: no such file or folder")
        dest = data / name
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            dest.mkdir(parents=True)
            shutil.copy2(src, dest / src.name)
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(
        json.dumps({k: str(v) for k, v in hyperparameters.items()})
    )
    (config / "inputdataconfig.json").write_text(
        json.dumps(
            {
                n: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}
                for n in channels
            }
        )
    )
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    for sub in ("model", "output"):
        (base / sub).mkdir(parents=True, exist_ok=True)


def _env(out_dir: Path, base: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, SAGEMAKER_BASE_DIR=str(base), MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(out_dir), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def train(
    out_dir: str | Path,
    data: dict[str, str],
    hyperparameters: dict[str, str] | None = None,
    base: str | Path | None = None,
) -> int:
    out = Path(out_dir).resolve()
    program = _program(out, "train")
    root = Path(base).resolve() if base else default_base(out)
    manifest = Manifest.read(out / FILENAME)
    channels = dict(data)
    for ch in manifest.sagemaker.get("channels", []):
        if ch["name"] not in channels:
            raise LocalRunError(
                f"channel {ch['name']!r} is needed (the notebook read {ch['default']!r}); "
                f"pass --data {ch['name']}=PATH"
            )
    layout(root, channels, hyperparameters or {})
    failure = root / "output" / "failure"
    failure.unlink(missing_ok=True)
    code = run_forwarding_signals([sys.executable, str(program), "train"], _env(out, root))
    if code != 0 and failure.exists():
        print(f"nb2svc: training failed: {failure.read_text().splitlines()[0]}", file=sys.stderr)
    return code


def serve(
    out_dir: str | Path,
    port: int = 8080,
    base: str | Path | None = None,
    host: str = "127.0.0.1",
    workers: int | None = None,
) -> int:
    out = Path(out_dir).resolve()
    program = _program(out, "serve")
    root = Path(base).resolve() if base else default_base(out)
    if not (root / "model").is_dir() or not any((root / "model").iterdir()):
        raise LocalRunError(f"no model in {root / 'model'}; run `nb2svc train {out_dir}` first")
    extra = {"SAGEMAKER_BIND_TO_PORT": str(port), "NB2SVC_HOST": host}
    if workers:
        extra["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(workers)
    return run_forwarding_signals([sys.executable, str(program), "serve"], _env(out, root, **extra))


_FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT")


def run_forwarding_signals(cmd: list[str], env: dict[str, str], grace: float = 30.0) -> int:
    """Run `cmd` in its own process group and pass SIGTERM/SIGINT/SIGHUP on to the whole group,
    so `kill -TERM` of `nb2svc serve` stops the server (and its workers) too, not only the
    wrapper; when the wrapper leaves for any other reason, the group is stopped as well."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=os.name == "posix")

    def forward(signum: int, _frame: object) -> None:
        _signal_group(proc, signum)

    previous = {}
    for name in _FORWARDED:
        if hasattr(signal, name):
            previous[name] = signal.signal(getattr(signal, name), forward)
    try:
        return proc.wait()
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
                proc.wait()


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
    except (ProcessLookupError, PermissionError):
        pass
