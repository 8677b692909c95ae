"""Save and load the served model, in a secure format where one exists.

Part of nb2svc-runtime. `save_model()` runs in the training job and writes two files into
`model_dir` (SageMaker tars that folder into model.tar.gz and unpacks it as /opt/ml/model for
serving, so every path stored here is relative to it):

* the model file:
  - scikit-learn estimators and Pipelines: `model.skops` (skops.io, no pickle);
  - xgboost models: `model.ubj` (xgboost's own format);
  - lightgbm Booster / LGBM* models: `model.txt` (lightgbm's own text format);
  - anything else: `model.joblib`, with a warning recorded in the signature, because loading a
    joblib/pickle file runs arbitrary code;
* `signature.json`: what serving needs to know about the model's inputs and outputs:
  {"format", "file", "model_class", "features", "n_features", "dtypes", "classes", "task",
   "warnings", "trusted", "nb2svc": "1"} and, when training adds them, "raw_features" /
  "raw_dtypes" (the columns of the raw input frame that a feature function turns into
  `features`).

skops trust policy, applied by `load_model()`: skops lists the types in a file that it does not
trust by default (`skops.io.get_untrusted_types`). A type is trusted when its top-level module
is one of SAFE_MODULES (sklearn, numpy, scipy, builtins, collections), or when it is listed in
signature["trusted"]. `save_model()` fills that list with the other types the training code
itself put into the file (for example a custom transformer defined in the generated package),
so a file can only be loaded with the types its training run produced; a file that names any
other type is refused with an error naming the types. signature.json sits next to the model, so
this guards against a model file swapped or edited on its own, not against someone who can
rewrite the whole model folder: pass `trusted=[]` to `load_model()` to ignore the recorded list.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

#: signature.json as a dict (its keys are documented above)
Signature = dict[str, Any]
PathLike = str | os.PathLike[str]

SIGNATURE_FILE = "signature.json"
SIGNATURE_VERSION = "1"
SAFE_MODULES = ("sklearn", "numpy", "scipy", "builtins", "collections")
JOBLIB_WARNING = "joblib: loading runs arbitrary code; only load files you produced"
NUMERIC_KINDS = "biuf"


ALLOW_PICKLE_ENV = "NB2SVC_ALLOW_PICKLE"
#: model file suffix -> format; the format is decided from the file, never from signature.json
FORMATS = {".skops": "skops", ".ubj": "xgboost", ".txt": "lightgbm", ".joblib": "joblib",
           ".pkl": "joblib", ".pickle": "joblib"}
#: the model files save_model writes, in the order a model folder without signature.json is read
MODEL_FILES = ("model.skops", "model.ubj", "model.txt", "model.joblib")


def allow_pickle() -> bool:
    """The runtime's policy for pickle files: refused unless the operator opts in."""
    return os.environ.get(ALLOW_PICKLE_ENV, "") == "1"


def format_of(path: Path) -> str | None:
    """The format of a model file from its name and first bytes (a zip is skops)."""
    fmt = FORMATS.get(path.suffix.lower())
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80":  # a pickle protocol header, whatever the name says
        return "joblib"
    if fmt == "skops" and head != b"PK\x03\x04":
        return None
    return fmt


class ModelLoadError(RuntimeError):
    """The model folder cannot be loaded (missing files, untrusted types, bad signature)."""


# ---------------------------------------------------------------------------------------------
# saving


def save_model(
    model: Any,
    model_dir: PathLike,
    *,
    feature_names: Iterable[object] | None = None,
    X_sample: Any = None,
) -> Signature:
    """Write `model` and signature.json into `model_dir`; return the signature."""
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    kind = _model_kind(model)
    notes: list[str] = []
    trusted: list[str] = []
    fmt: str | None = None
    file: str | None = None
    if kind == "xgboost":
        fmt, file = "xgboost", "model.ubj"
        model.save_model(str(out / file))
    elif kind == "lightgbm":
        fmt, file = "lightgbm", "model.txt"
        booster = getattr(model, "booster_", model)
        booster.save_model(str(out / file))
    else:
        if kind == "sklearn":
            try:
                trusted = _dump_skops(model, out / "model.skops")
                fmt, file = "skops", "model.skops"
            except Exception as exc:  # skops cannot represent every object: fall back below
                (out / "model.skops").unlink(missing_ok=True)
                notes.append(f"skops could not save this model ({type(exc).__name__}: {exc})")
        if fmt is None:
            import joblib

            fmt, file = "joblib", "model.joblib"
            joblib.dump(model, out / file)
            notes.append(JOBLIB_WARNING)
            warnings.warn(f"model saved with joblib; {JOBLIB_WARNING}", stacklevel=2)
    for name in trusted:
        if name.startswith("__main__."):
            notes.append(
                f"{name} is defined in __main__ and cannot be imported when serving; "
                "define it in a module of the package"
            )
    for stale in MODEL_FILES:
        if stale != file:
            (out / stale).unlink(missing_ok=True)

    features, n_features, dtypes = _describe_inputs(model, feature_names, X_sample)
    classes = _classes(model)
    signature = {
        "format": fmt,
        "file": file,
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "features": features,
        "n_features": n_features,
        "dtypes": dtypes,
        "classes": classes,
        "task": _task(model, classes),
        "warnings": notes,
        "trusted": sorted(trusted),
        "nb2svc": SIGNATURE_VERSION,
    }
    write_signature(out, signature)
    return signature


def write_signature(model_dir: PathLike, signature: Signature) -> None:
    """(Re)write signature.json, e.g. after adding "raw_features"."""
    path = Path(model_dir) / SIGNATURE_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(signature, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def _model_kind(model: Any) -> str:
    root = type(model).__module__.split(".", 1)[0]
    if root == "xgboost":
        return "xgboost"
    if root == "lightgbm":
        return "lightgbm"
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return "other"
    return "sklearn" if isinstance(model, BaseEstimator) else "other"


def _dump_skops(model: Any, path: Path) -> list[str]:
    """Dump with skops and check that the file loads back; return the types to trust."""
    import skops.io as sio

    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    extra = [t for t in untrusted if not _safe_type(t)]
    sio.load(path, trusted=untrusted)  # fails -> joblib fallback
    return extra


def _safe_type(name: str) -> bool:
    return name.split(".", 1)[0] in SAFE_MODULES


def _describe_inputs(
    model: Any, feature_names: Iterable[object] | None, X_sample: Any
) -> tuple[list[str] | None, int | None, list[str] | None]:
    names: list[str] | None = None
    dtypes: list[str] | None = None
    n: int | None = None
    if X_sample is not None:
        if hasattr(X_sample, "columns") and hasattr(X_sample, "dtypes"):  # a DataFrame
            names = [str(c) for c in X_sample.columns]
            dtypes = [str(d) for d in X_sample.dtypes]
            n = len(names)
        else:
            import numpy as np

            arr = np.asarray(X_sample)
            if arr.ndim == 1:
                arr = arr.reshape(1, -1)
            if arr.ndim != 2:
                raise ValueError(f"X_sample must be 2-D, got shape {arr.shape}")
            n = int(arr.shape[1])
            dtypes = [str(arr.dtype)] * n
    if feature_names is not None:
        names = [str(f) for f in feature_names]
    if names is None:
        fitted = getattr(model, "feature_names_in_", None)
        if fitted is not None:
            names = [str(f) for f in fitted]
    if n is None:
        fitted_n = _int_or_none(getattr(model, "n_features_in_", None))
        n = len(names) if names is not None else fitted_n
    if names is not None and n is not None and len(names) != n:
        raise ValueError(f"{len(names)} feature names for {n} features")
    if dtypes is not None and n is not None and len(dtypes) != n:
        dtypes = None
    return names, n, dtypes


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _classes(model: Any) -> list[Any] | None:
    classes = getattr(model, "classes_", None)
    if classes is None:
        return None
    try:
        import numpy as np

        values: list[Any] = np.asarray(classes).tolist()
        json.dumps(values)
        return values
    except (TypeError, ValueError):
        return [str(c) for c in classes]


def _task(model: Any, classes: Sequence[Any] | None) -> str:
    try:
        from sklearn.base import is_classifier, is_regressor

        if is_classifier(model):
            return "classification"
        if is_regressor(model):
            return "regression"
    except Exception:
        pass
    return "classification" if classes is not None else "other"


# ---------------------------------------------------------------------------------------------
# loading


def read_signature(model_dir: PathLike) -> Signature:
    """signature.json of `model_dir`, or one guessed from the model file name if it is absent."""
    root = Path(model_dir)
    path = root / SIGNATURE_FILE
    if path.is_file():
        try:
            signature = json.loads(path.read_text())
        except ValueError as exc:
            raise ModelLoadError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(signature, dict) or "file" not in signature:
            raise ModelLoadError(f"{path} has no 'file' entry")
        return signature
    for file in MODEL_FILES:
        if (root / file).is_file():
            return {"format": FORMATS[Path(file).suffix], "file": file, "features": None, "n_features": None,
                    "dtypes": None, "classes": None, "task": "other", "warnings": [],
                    "trusted": [], "nb2svc": SIGNATURE_VERSION}
    raise ModelLoadError(f"no {SIGNATURE_FILE} and no model file in {root}")


def load_model(
    model_dir: PathLike, *, trusted: Iterable[str] | None = None
) -> tuple[Any, Signature]:
    """Load what `save_model()` wrote: return (model, signature).

    `trusted`: the skops types to trust besides SAFE_MODULES; None means signature["trusted"].
    """
    root = Path(model_dir)
    signature = read_signature(root)
    file = str(signature["file"])
    if os.path.isabs(file) or ".." in Path(file).parts or "/" in file or "\\" in file:
        raise ModelLoadError(f"signature.json 'file' must be a bare file name, got {file!r}")
    path = root / file
    if not path.is_file():
        raise ModelLoadError(f"model file {path} is missing")
    fmt = format_of(path)
    if fmt == "skops":
        extra = (signature.get("trusted") or []) if trusted is None else trusted
        model = _load_skops(path, extra)
    elif fmt == "joblib":
        if not allow_pickle():
            raise ModelLoadError(
                f"{path.name} is a pickle (joblib) file: loading it runs arbitrary code, so the "
                f"runtime refuses it; set {ALLOW_PICKLE_ENV}=1 to load files you produced"
            )
        import joblib

        model = joblib.load(path)
    elif fmt == "xgboost":
        model = _load_xgboost(path, signature)
    elif fmt == "lightgbm":
        model = _LightGBMModel(path, signature)
    else:
        raise ModelLoadError(f"{path.name}: not a model file format the runtime loads")
    return model, signature


def _load_skops(path: Path, extra_trusted: Iterable[str]) -> Any:
    import skops.io as sio

    allowed: list[str] = []
    refused: list[str] = []
    extra = set(extra_trusted)
    for name in sio.get_untrusted_types(file=path):
        (allowed if _safe_type(name) or name in extra else refused).append(name)
    if refused:
        raise ModelLoadError(
            f"{path.name} contains types that are not trusted: {', '.join(sorted(refused))}. "
            "Trusted are types from " + ", ".join(SAFE_MODULES) + " and those recorded in "
            "signature.json 'trusted' by the training run that wrote the file."
        )
    return sio.load(path, trusted=allowed)


def _load_xgboost(path: Path, signature: Signature) -> Any:
    import xgboost

    cls_name = str(signature.get("model_class", "")).rsplit(".", 1)[-1]
    cls = getattr(xgboost, cls_name, None)
    if isinstance(cls, type) and issubclass(cls, xgboost.XGBModel):
        model = cls()
        model.load_model(str(path))
        return model
    return _XGBoostBoosterModel(xgboost.Booster(model_file=str(path)), signature)


class _XGBoostBoosterModel:
    """A raw xgboost.Booster with a scikit-learn-like predict()."""

    def __init__(self, booster: Any, signature: Signature) -> None:
        self.booster = booster
        self.feature_names = signature.get("features")

    def predict(self, X: Any) -> Any:
        import xgboost

        names = self.feature_names if not hasattr(X, "columns") else None
        return self.booster.predict(xgboost.DMatrix(X, feature_names=names))


class _LightGBMModel:
    """A lightgbm Booster with predict() returning class labels for classifiers."""

    def __init__(self, path: Path, signature: Signature) -> None:
        import lightgbm
        import numpy as np

        self.booster = lightgbm.Booster(model_file=str(path))
        classes = signature.get("classes")
        self.classes_ = np.asarray(classes) if classes is not None else None

    def predict_proba(self, X: Any) -> Any:
        import numpy as np

        raw = np.asarray(self.booster.predict(X))
        return np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw

    def predict(self, X: Any) -> Any:
        if self.classes_ is None:
            return self.booster.predict(X)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
