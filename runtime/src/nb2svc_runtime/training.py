"""The SageMaker training contract, for the `train.py` of a package converted by nb2svc.

Part of nb2svc-runtime. A generated `train.py` is thin glue: it names its package's pipeline
module, the notebook steps that produce the model (the model's backward slice), the notebook's
parameters with their defaults, its channels and its model, builds a `Training` and calls
`Training.main`. Everything else is here:

* hyperparameters, lowest to highest precedence: the notebook's defaults,
  `input/config/hyperparameters.json`, `SM_HPS`, script-mode arguments (`--name value`,
  `--name=value`, `-C value`, `--flag` alone as true). SageMaker passes every value as a string,
  so a value is JSON-decoded where it can be (`"0.5"` -> 0.5, `"[1,2]"` -> [1, 2]) and kept as the
  string otherwise; names the notebook does not have are reported and ignored;
* channels: each of the notebook's channels must be a folder `input/data/<channel>/` (or
  `$SM_CHANNEL_<NAME>`) holding at least one file;
* the `SM_*` variables of SageMaker's training toolkit (`SM_MODEL_DIR`, `SM_CHANNEL_<NAME>`,
  `SM_HP_<NAME>`, `SM_HPS`, `SM_TRAINING_ENV`, ...), set where they are not set already, so a
  notebook written for script mode reads them as it would in a framework container;
* the model saved into `SM_MODEL_DIR` by `model_io.save_model` (skops or the model's native
  format, with `signature.json`), plus the raw columns the feature function received and the
  notebook's decision threshold; the numeric results of the steps in `output/data/metrics.json`;
* any failure writes `output/failure` (the reason first, then the traceback; SageMaker shows the
  first 1 KiB as the job's FailureReason) and exits 1; SIGTERM (SageMaker's StopTrainingJob)
  stops the steps, writes the failure file and exits 143.

The root is `$SAGEMAKER_BASE_DIR` (default /opt/ml), so a local run can relocate it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import traceback
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

BASE_ENV = "SAGEMAKER_BASE_DIR"
DEFAULT_BASE = "/opt/ml"
#: SageMaker keeps the first 1024 bytes as FailureReason; the file itself is bounded too
FAILURE_LIMIT = 20000
EXIT_FAILED = 1
EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a job stopped by SIGTERM


class Terminated(Exception):
    """SIGTERM arrived (SageMaker's StopTrainingJob): training stops at once."""


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise Terminated("training stopped by SIGTERM")


@dataclass(frozen=True)
class Step:
    """One function of the package's pipeline module: its parameters and what it returns.
    With `module` (the package's `training_steps`), that module's version of the step runs
    instead (only the statements the model needs), in the pipeline module's namespace."""

    name: str
    params: Sequence[str] = ()
    returns: Sequence[str] = ()
    module: ModuleType | None = None


def decode(value: object) -> object:
    """A hyperparameter value as SageMaker sends it (a string): JSON-decoded, or the string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def script_mode_args(argv: Sequence[str]) -> dict[str, str]:
    """Script-mode arguments: `--name value`, `--name=value`, `-C value`, `--flag` as "true"."""
    out: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and len(arg) > 1 and arg != "--":
            name = arg.lstrip("-").replace("-", "_")
            if "=" in name:
                name, value = name.split("=", 1)
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value = argv[i + 1]
                i += 1
            else:
                value = "true"
            out[name] = value
        i += 1
    return out


def read_json(path: Path) -> dict[str, Any]:
    """A SageMaker config file as a dict ({} when it is absent or empty)."""
    try:
        data = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def channel_variable(name: str) -> str:
    """`SM_CHANNEL_<NAME>`, as SageMaker's training toolkit spells a channel's variable."""
    return "SM_CHANNEL_" + name.upper().replace("-", "_")


@dataclass(frozen=True)
class Layout:
    """The folders of a training job under its root (`$SAGEMAKER_BASE_DIR`, default /opt/ml)."""

    base: Path

    @classmethod
    def from_environment(cls) -> Layout:
        return cls(Path(os.environ.get(BASE_ENV, DEFAULT_BASE)))

    @property
    def config(self) -> Path:
        return self.base / "input" / "config"

    @property
    def output(self) -> Path:
        return self.base / "output"

    @property
    def model_dir(self) -> Path:
        return Path(os.environ.get("SM_MODEL_DIR", self.base / "model"))

    def channel(self, name: str) -> Path:
        return self.base / "input" / "data" / name


def read_hyperparameters(layout: Layout, argv: Sequence[str]) -> dict[str, Any]:
    """The job's hyperparameters as given (strings, undecoded): config file < SM_HPS < argv."""
    raw = read_json(layout.config / "hyperparameters.json")
    raw.update(json.loads(os.environ.get("SM_HPS", "{}") or "{}"))
    raw.update(script_mode_args(argv))
    return raw


def environment(
    layout: Layout, hyperparameters: Mapping[str, Any], channels: Sequence[str] = ()
) -> dict[str, str]:
    """The `SM_*` variables of SageMaker's training toolkit (script-mode parity)."""
    resources = read_json(layout.config / "resourceconfig.json")
    data_config = read_json(layout.config / "inputdataconfig.json")
    names = sorted(set(data_config) | {c for c in channels if layout.channel(c).is_dir()})
    host = resources.get("current_host", socket.gethostname())
    env = {
        "SM_MODEL_DIR": str(layout.base / "model"),
        "SM_OUTPUT_DATA_DIR": str(layout.output / "data"),
        "SM_CHANNELS": json.dumps(names),
        "SM_HPS": json.dumps(dict(hyperparameters)),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": "0",
        "SM_CURRENT_HOST": str(host),
        "SM_HOSTS": json.dumps(resources.get("hosts", [host])),
        "SM_INPUT_DATA_CONFIG": json.dumps(data_config),
        "SM_RESOURCE_CONFIG": json.dumps(resources),
    }
    for name in names:
        env[channel_variable(name)] = str(layout.channel(name))
    for name, value in hyperparameters.items():
        env["SM_HP_" + name.upper()] = value if isinstance(value, str) else json.dumps(value)
    env["SM_TRAINING_ENV"] = json.dumps({k[3:].lower(): v for k, v in env.items()})
    return env


def check_channels(layout: Layout, channels: Sequence[str]) -> None:
    """Every channel the notebook reads is a folder holding files (FileNotFoundError if not)."""
    for name in channels:
        variable = os.environ.get(channel_variable(name))
        folder = Path(variable) if variable else None
        if folder is None or not folder.is_dir():
            raise FileNotFoundError(f"channel {name!r}: no folder {layout.channel(name)}")
        if not any(p.is_file() for p in folder.rglob("*")):
            raise FileNotFoundError(f"channel {name!r} ({folder}) holds no files")


def write_failure(layout: Layout, exc: BaseException) -> int:
    """`output/failure` (reason, then traceback) and the exit status for `exc`."""
    reason = f"{type(exc).__name__}: {exc}"
    try:
        layout.output.mkdir(parents=True, exist_ok=True)
        (layout.output / "failure").write_text(f"{reason}\n\n{traceback.format_exc()}"[:FAILURE_LIMIT])
    finally:
        print(f"training failed: {reason}", file=sys.stderr)
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_FAILED


def numeric_results(values: Mapping[str, Any], exclude: Sequence[str] = ()) -> dict[str, Any]:
    """The steps' int and float results (not bools, not hyperparameters): the job's metrics."""
    return {
        k: v
        for k, v in values.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in exclude
    }


@contextmanager
def recording_columns(pipeline: ModuleType, function: str | None) -> Iterator[dict[str, list[str]]]:
    """While active, `pipeline.<function>(frame)` records the first frame's columns and dtypes
    (the raw input serving will receive); the module's function is restored afterwards."""
    seen: dict[str, list[str]] = {}
    if not function:
        yield seen
        return
    prepare = getattr(pipeline, function)

    def recording(frame: Any, *args: Any, **kwargs: Any) -> Any:
        seen.setdefault("columns", [str(c) for c in frame.columns])
        seen.setdefault("dtypes", [str(t) for t in frame.dtypes])
        return prepare(frame, *args, **kwargs)

    setattr(pipeline, function, recording)
    try:
        yield seen
    finally:
        setattr(pipeline, function, prepare)


@dataclass
class Training:
    """A converted notebook's training job: its steps, hyperparameters, channels and model.

    `channels` maps a channel name to the data file the notebook read (used where no channel
    is given locally); `model` and `fit_x` name the fitted estimator and the frame it was fit
    on (a sample of it describes the inputs in signature.json); `feature_function` names the
    pipeline function serving runs on raw rows, `target` the raw column requests do not carry,
    `threshold` the notebook's literal `predict_proba(...)[:, 1] > threshold`, if any.
    """

    package: str
    notebook: str
    pipeline: ModuleType
    steps: Sequence[Step] = ()
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None
    fit_x: str | None = None
    feature_function: str | None = None
    target: str | None = None
    threshold: float | None = None

    def main(self, argv: Sequence[str] | None = None) -> int:
        """The entrypoint (`train` in the image, `python train.py ...` in script mode)."""
        args = list(sys.argv[1:] if argv is None else argv)
        if args[:1] == ["train"]:  # `docker run IMAGE train`
            args = args[1:]
        layout = Layout.from_environment()
        signal.signal(signal.SIGTERM, _on_sigterm)
        print(f"train: {self.package} from {self.notebook}, base {layout.base}", flush=True)
        try:
            self.run(layout, args)
        except BaseException as exc:  # noqa: BLE001 - every failure must be reported to SageMaker
            return write_failure(layout, exc)
        return 0

    def run(self, layout: Layout, argv: Sequence[str]) -> None:
        """Train: hyperparameters, environment, channels, steps, model, metrics."""
        raw = read_hyperparameters(layout, argv)
        params = self.parameters(raw)
        for key, value in environment(layout, raw, list(self.channels)).items():
            os.environ.setdefault(key, value)
        check_channels(layout, list(self.channels))
        (layout.output / "data").mkdir(parents=True, exist_ok=True)
        layout.model_dir.mkdir(parents=True, exist_ok=True)
        with recording_columns(self.pipeline, self.feature_function) as raw_columns:
            values = self.run_steps(params)
        if self.model:
            self.save(values, layout.model_dir, raw_columns)
        metrics = numeric_results(values, exclude=list(self.hyperparameters))
        (layout.output / "data" / "metrics.json").write_text(
            json.dumps(metrics, indent=2, default=float)
        )

    def parameters(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The notebook's parameters: defaults overridden by the (decoded) hyperparameters."""
        unknown = sorted(set(raw) - set(self.hyperparameters))
        if unknown:
            print(f"ignoring unknown hyperparameters: {', '.join(unknown)}", file=sys.stderr)
        given = {k: decode(v) for k, v in raw.items() if k in self.hyperparameters}
        return {**self.hyperparameters, **given}

    def value(self, values: Mapping[str, Any], name: str) -> Any:
        """A name's value: a step's result or parameter, else the pipeline module's global."""
        return values[name] if name in values else getattr(self.pipeline, name)

    def function(self, step: Step) -> Callable[..., Any]:
        """The step's function; a `training_steps` version runs with the pipeline's globals
        (its helpers, the globals other steps set, its own `global` assignments)."""
        if step.module is None:
            own: Callable[..., Any] = getattr(self.pipeline, step.name)
            return own
        fn = getattr(step.module, step.name)
        return types.FunctionType(
            fn.__code__, vars(self.pipeline), fn.__name__, fn.__defaults__, fn.__closure__
        )

    def run_steps(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Call the steps in order, each with its parameters; return every value they made."""
        values = dict(params)
        for step in self.steps:
            result = self.function(step)(*[self.value(values, p) for p in step.params])
            if len(step.returns) == 1:
                values[step.returns[0]] = result
            elif step.returns:
                values.update(zip(step.returns, result, strict=True))
        return values

    def save(
        self, values: Mapping[str, Any], model_dir: Path, raw_columns: Mapping[str, list[str]]
    ) -> dict[str, Any]:
        """Save the model and its signature (with raw features and threshold); return it."""
        from .model_io import save_model, write_signature

        assert self.model is not None
        model = self.value(values, self.model)
        sample = None
        if self.fit_x:
            sample = values.get(self.fit_x)
            if sample is None:
                sample = getattr(self.pipeline, self.fit_x, None)
        signature: dict[str, Any] = save_model(model, model_dir, X_sample=sample)
        extra = self.signature_extra(raw_columns)
        if extra:
            signature.update(extra)
            write_signature(model_dir, signature)
        print(f"model saved: {model_dir / signature['file']} ({signature['format']})")
        return signature

    def signature_extra(self, raw_columns: Mapping[str, list[str]]) -> dict[str, Any]:
        """What training adds to signature.json: raw features (not the target), threshold."""
        extra: dict[str, Any] = {}
        if self.feature_function and raw_columns:
            keep = [i for i, c in enumerate(raw_columns["columns"]) if c != self.target]
            extra["raw_features"] = [raw_columns["columns"][i] for i in keep]
            extra["raw_dtypes"] = [raw_columns["dtypes"][i] for i in keep]
            extra["feature_function"] = self.feature_function
        if self.threshold is not None:
            extra["threshold"] = self.threshold
        return extra
