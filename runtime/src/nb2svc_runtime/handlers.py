"""SageMaker inference handlers (nb2svc-runtime).

The four functions follow the SageMaker inference toolkit's handler convention, so this module
works both in the runtime's own server (`nb2svc_runtime.server`) and behind the `inference.py` of the
scikit-learn framework container (script mode):

* `model_fn(model_dir)` loads the model once per worker and returns a `ServingModel`.
* `input_fn(request_body, request_content_type)` decodes a request body (bytes or str):
  - `text/csv`: headerless, one record per line, trailing newline optional, blank lines skipped,
    quoted fields allowed, empty fields read as missing (NaN);
  - `application/json`: `[[...], ...]` rows, `[...]` one row, `[{...}, ...]` records,
    `{"instances": ...}`, `{"inputs": ...}` (rows, records or a dict of columns), MLflow's
    `{"dataframe_split": {"columns": [...], "data": [[...]]}}` and
    `{"dataframe_records": [{...}]}`;
  - `application/jsonlines` (or `application/x-jsonlines`): one row `[...]`, record `{...}` or
    `{"features": [...]}` per line;
  - `application/x-npy`: a 1-D or 2-D array, loaded with allow_pickle=False;
  - no Content-Type: JSON if the body starts with `[` or `{`, CSV otherwise.
  Parameters such as `; charset=utf-8` are ignored. Any other type raises UnsupportedMediaType
  (415); a body that cannot be decoded raises BadRequest (400).
* `predict_fn(input_data, model)` checks the records against signature.json (feature count and
  names: a mismatch is a BadRequest naming the expected features), applies the feature function
  when there is one, and returns one prediction per record (class labels for classifiers).
* `output_fn(prediction, accept)` returns `(body: bytes, content_type: str)`. Accept may be a
  comma list (the first supported entry wins, q=0 entries are skipped); `text/csv` gives one
  line per record; `application/json` gives a JSON list with one element per record (as the
  scikit-learn container does); `application/jsonlines` gives one JSON value per line;
  `application/x-npy` gives an NPY array. Missing or `*/*` means
  $SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, else application/json. Anything else raises
  NotAcceptable (406; the AWS inference toolkit answers 415 here).

Plain numeric CSV/JSON input for a model without a feature function never touches pandas.
"""

from __future__ import annotations

import csv
import functools
import importlib
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nb2svc_runtime import model_io

#: the converted package and its feature function (set by the package's inference.py)
PACKAGE: str | None = os.environ.get("NB2SVC_PACKAGE") or None
FEATURE_FUNCTION: str | None = os.environ.get("NB2SVC_FEATURE_FUNCTION") or None
FEATURE_MODULE: str = os.environ.get("NB2SVC_FEATURE_MODULE") or "pipeline"


def configure(
    package: str | None, feature_function: str | None = None, module: str = "pipeline"
) -> None:
    """Name the package whose `<module>.<feature_function>` turns raw rows into model input.

    `module` is `model_code` when convert moved the notebook's definitions there, so serving
    imports them without the rest of the notebook."""
    global PACKAGE, FEATURE_FUNCTION, FEATURE_MODULE
    PACKAGE, FEATURE_FUNCTION, FEATURE_MODULE = package, feature_function, module

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
NPY = "application/x-npy"
#: JSON body field asking for class probabilities instead of labels ({"instances": ..., "probabilities": true})
PROBABILITIES_FIELD = "probabilities"
CONTENT_TYPES = {
    CSV: CSV,
    JSON: JSON,
    JSONLINES: JSONLINES,
    "application/x-jsonlines": JSONLINES,
    NPY: NPY,
}
ACCEPT_TYPES = {**CONTENT_TYPES, "text/*": CSV, "application/*": JSON}


class InferenceError(Exception):
    """An error with the HTTP status the server answers with."""

    status = 500


class BadRequest(InferenceError):
    status = 400


class UnsupportedMediaType(InferenceError):
    status = 415


Unsupported = UnsupportedMediaType


class NotAcceptable(InferenceError):
    status = 406


def default_accept() -> str:
    value = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "")
    return ACCEPT_TYPES.get(media_type(value), JSON) if value else JSON


def media_type(value: str | bytes) -> str:
    """'Text/CSV; charset=utf-8' -> 'text/csv'."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.split(";", 1)[0].strip().lower()


# ---------------------------------------------------------------------------------------------
# model_fn


class ServingModel:
    """The loaded model plus what serving needs from signature.json."""

    def __init__(
        self,
        model: Any,
        signature: dict[str, Any] | None = None,
        feature_function: Callable[[Any], Any] | None = None,
    ) -> None:
        signature = signature or {}
        self.model = model
        self.signature = signature
        self.feature_function = feature_function
        self.classes: list[Any] | None = signature.get("classes")
        self.columns: list[str] | None
        self.dtypes: list[str] | None
        self.n_features: int | None
        if feature_function is not None:
            self.columns = signature.get("raw_features")
            self.dtypes = signature.get("raw_dtypes")
            self.frame = True
        else:
            self.columns = signature.get("features")
            self.dtypes = signature.get("dtypes")
            self.frame = bool(self.dtypes and not all(map(_numeric_dtype, self.dtypes)))
            self.frame = self.frame or _uses_column_names(model)
        if self.columns is not None:
            self.n_features = len(self.columns)
        elif feature_function is None:
            self.n_features = signature.get("n_features")
        else:
            self.n_features = None
        self._predict = model.predict
        #: column name -> the cast from request values to its training dtype, resolved once here
        self._casts: dict[Any, Cast] = {}
        if self.columns is not None and self.dtypes is not None and len(self.dtypes) == len(
            self.columns
        ):
            self._casts = {c: _column_cast(d) for c, d in zip(self.columns, self.dtypes, strict=True)}

    def prepare(self, data: Table | Any) -> Any:
        """Records from input_fn -> what the model's predict() takes."""
        if isinstance(data, Table):
            if data.text is not None and self.frame:
                if self.n_features is not None and data.ncols != self.n_features:
                    raise BadRequest(self._count_message(data.ncols))
                return self._read_csv(data.text)
            if data.records is not None or data.columns is not None:
                rows = data.select(self.columns)
            else:
                rows = data.rows
            self._check_rows(rows)
            if self.frame:
                return self._frame(rows)
            try:
                return np.asarray(rows, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise BadRequest(f"non-numeric value in the input: {exc}") from None
        arr = np.asarray(data)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2:
            raise BadRequest(f"expected rows of features (a 2-D array), got shape {arr.shape}")
        if arr.shape[0] == 0:
            raise BadRequest("the request has no records")
        if self.n_features is not None and arr.shape[1] != self.n_features:
            raise BadRequest(self._count_message(arr.shape[1]))
        if self.frame:
            return self._frame(arr)
        if arr.dtype.kind not in "biuf":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise BadRequest(f"non-numeric value in the input: {exc}") from None
        return arr

    def features(self, X: Any) -> Any:
        if self.feature_function is not None:
            X = self.feature_function(X)
            features = self.signature.get("features")
            if features is not None and hasattr(X, "columns"):
                X = X[features]  # the columns the model was fitted on, in that order
        return X

    def predict(self, X: Any) -> Any:
        threshold = self.signature.get("threshold")
        if threshold is not None and self.classes is not None and len(self.classes) == 2:
            # the notebook's own decision: predict_proba(X)[:, 1] > threshold
            scores = np.asarray(self.predict_proba(X))[:, 1]
            return np.where(scores > float(threshold), self.classes[1], self.classes[0])
        return self._predict(self.features(X))

    def predict_proba(self, X: Any) -> Any:
        proba = getattr(self.model, "predict_proba", None)
        if proba is None:
            raise BadRequest("this model does not give probabilities (it has no predict_proba)")
        return proba(self.features(X))

    def _check_rows(self, rows: Sequence[Sequence[Any]] | None) -> None:
        if not rows:
            raise BadRequest("the request has no records")
        expected = self.n_features if self.n_features is not None else len(rows[0])
        for i, row in enumerate(rows):
            if len(row) != expected:
                if self.n_features is None:
                    raise BadRequest(
                        f"record {i + 1} has {len(row)} values, record 1 has {expected}"
                    )
                raise BadRequest(f"record {i + 1}: " + self._count_message(len(row)))

    def _count_message(self, got: int) -> str:
        names = f" ({', '.join(map(str, self.columns))})" if self.columns else ""
        return f"expected {self.n_features} features per record{names}, got {got}"

    def _read_csv(self, text: str) -> Any:
        import pandas as pd

        try:
            df = pd.read_csv(io.StringIO(text), header=None, names=self.columns,
                             skip_blank_lines=True)
        except (ValueError, pd.errors.ParserError) as exc:
            raise BadRequest(f"malformed CSV: {exc}") from None
        return self._cast(df)

    def _frame(self, rows: Any) -> Any:
        import pandas as pd

        return self._cast(pd.DataFrame(rows, columns=self.columns))

    def _cast(self, df: Any) -> Any:
        """Each column to its training dtype (the casts `_column_cast` resolved in __init__)."""
        for col in df.columns:
            df[col] = self._casts.get(col, _numbers_where_they_parse)(df[col])
        return df


Cast = Callable[[Any], Any]


def _numeric_dtype(name: Any) -> bool:
    try:
        return np.dtype(name).kind in "biuf"
    except TypeError:
        return False


def _column_cast(dtype: str | None) -> Cast:
    """A column's training dtype -> the function turning request strings into it."""
    if dtype is None:
        return _numbers_where_they_parse
    if _numeric_dtype(dtype):
        return functools.partial(_to_numeric, np.dtype(dtype))
    if dtype == "category":
        return _to_category
    return _unchanged


def _numbers_where_they_parse(series: Any) -> Any:
    """A column of unknown dtype: numbers when every value parses, else as sent."""
    import pandas as pd

    if series.dtype.kind in "biuf":
        return series
    try:
        return pd.to_numeric(series.replace("", np.nan))
    except (TypeError, ValueError):
        return series


def _to_numeric(target: np.dtype[Any], series: Any) -> Any:
    """A numeric training column: `target` (float64 when an integer column has missing values)."""
    import pandas as pd

    if series.dtype == target:
        return series
    try:
        values = pd.to_numeric(series.replace("", np.nan))
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"column {series.name!r} must be numeric: {exc}") from None
    if target.kind in "iub" and values.isna().any():
        return values.astype(np.float64)
    return values.astype(target)


def _to_category(series: Any) -> Any:
    return series.astype("category")


def _unchanged(series: Any) -> Any:
    return series


def _uses_column_names(model: Any) -> bool:
    """True when the model (or a step of it) selects input columns by name."""
    try:
        from sklearn.compose import ColumnTransformer
    except ImportError:
        return False
    if isinstance(model, ColumnTransformer):
        return True
    get_params = getattr(model, "get_params", None)
    if get_params is None:
        return False
    try:
        values = get_params(deep=True).values()
    except Exception:
        return False
    return any(isinstance(v, ColumnTransformer) for v in values)


def model_fn(model_dir: str | os.PathLike[str]) -> ServingModel:
    """Load the model saved by model_io.save_model() (once per worker)."""
    model, signature = model_io.load_model(model_dir)
    feature_function = None
    if FEATURE_FUNCTION:
        pipeline = importlib.import_module(f"{PACKAGE}.{FEATURE_MODULE}")
        feature_function = getattr(pipeline, FEATURE_FUNCTION)
    serving = ServingModel(model, signature, feature_function)
    if not serving.frame and serving.columns is not None:
        # The fast path hands a numpy array (in training column order) to a model fitted on
        # a DataFrame; scikit-learn would warn about the missing names on every request.
        import warnings

        warnings.filterwarnings("ignore", message="X does not have valid feature names")
    if serving.frame:
        # import pandas now, not inside the first request's timeout (seconds on a busy host)
        import pandas  # noqa: F401
    if not serving.frame and serving.n_features:
        try:  # warm up the first-call paths of predict() before the first request
            serving.predict(np.zeros((1, serving.n_features)))
        except Exception:
            pass
    return serving


# ---------------------------------------------------------------------------------------------
# input_fn


class Table:
    """Decoded records that are not (yet) a numeric matrix: rows of values or named records."""

    __slots__ = ("_rows", "columns", "records", "text", "ncols")

    def __init__(
        self,
        rows: list[list[Any]] | None = None,
        columns: Sequence[object] | None = None,
        records: list[dict[str, Any]] | None = None,
        text: str | None = None,
        ncols: int = 0,
    ) -> None:
        self._rows = rows
        self.columns = [str(c) for c in columns] if columns is not None else None
        self.records = records
        self.text = text  # unquoted headerless CSV whose lines all have `ncols` fields
        self.ncols = ncols  # the field count of `text` (parse_csv checked every line)

    @property
    def rows(self) -> list[list[Any]] | None:
        if self._rows is None and self.text is not None:
            self._rows = [line.split(",") for line in self.text.splitlines() if line.strip()]
        return self._rows

    def select(self, names: list[str] | None) -> list[list[Any]] | None:
        """Rows with the values of `names`, in that order (all columns when names is None)."""
        if self.records is not None:
            if names is None:
                names = list(self.records[0]) if self.records else []
            missing = sorted({n for r in self.records for n in names if n not in r})
            if missing:
                raise BadRequest(f"records lack the features {missing}")
            return [[r[n] for n in names] for r in self.records]
        if names is None or self.columns is None or self.columns == names:
            return self.rows  # unnamed rows are positional
        index = {c: i for i, c in enumerate(self.columns)}
        missing = [n for n in names if n not in index]
        if missing:
            raise BadRequest(f"columns {missing} are missing (got {self.columns})")
        order = [index[n] for n in names]
        rows = self.rows or []
        for i, row in enumerate(rows):
            if len(row) != len(self.columns):
                raise BadRequest(f"row {i + 1} has {len(row)} values for {len(self.columns)} "
                                 "columns")
        return [[row[j] for j in order] for row in rows]


def input_fn(
    request_body: bytes | bytearray | memoryview | str, request_content_type: str | bytes | None
) -> Any:
    """Decode a request body -> a 2-D numpy array or a Table."""
    if isinstance(request_body, (bytearray, memoryview)):
        request_body = bytes(request_body)
    if request_content_type:
        ctype = CONTENT_TYPES.get(media_type(request_content_type))
        if ctype is None:
            raise UnsupportedMediaType(
                f"unsupported Content-Type {media_type(request_content_type)!r}; use "
                "text/csv, application/json, application/jsonlines or application/x-npy"
            )
    else:
        head = request_body.lstrip()[:1]
        ctype = JSON if head in ("[", "{", b"[", b"{") else CSV
    if ctype == NPY:
        return _parse_npy(request_body)
    text = _text(request_body)
    if ctype == CSV:
        return parse_csv(text)
    if ctype == JSON:
        obj = loads_json(text, "the body")
        if isinstance(obj, dict) and obj.get(PROBABILITIES_FIELD) is True:
            return Probabilities(_from_json({k: v for k, v in obj.items()
                                             if k != PROBABILITIES_FIELD}))
        return _from_json(obj)
    return _parse_jsonlines(text)


def _refuse_constant(name: str) -> float:
    raise BadRequest(f"{name} is not a number a model can take; send finite values")


def loads_json(text: str, where: str) -> Any:
    """json.loads without NaN/Infinity and with deep nesting as a 400, not a crash."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadRequest(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:
        raise BadRequest(f"malformed JSON in {where}: {exc}") from None


def _text(body: bytes | str) -> str:
    if isinstance(body, str):
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8: {exc}") from None
    return text[1:] if text.startswith("\ufeff") else text


def parse_csv(text: str) -> np.ndarray[Any, Any] | Table:
    """Headerless CSV -> float array (fast path) or a Table of strings."""
    lines = text.splitlines()
    if not lines or not lines[-1].strip() or not lines[0].strip():
        lines = [line for line in lines if line.strip()]
    if not lines:
        raise BadRequest("empty CSV body: send one record per line")
    if '"' not in text:
        ncols = lines[0].count(",") + 1
        for i, line in enumerate(lines):
            if line.count(",") + 1 != ncols:
                raise BadRequest(
                    f"CSV line {i + 1} has {line.count(',') + 1} fields, line 1 has {ncols}"
                )
        try:
            flat = np.array(",".join(lines).split(","), dtype=np.float64)
            return flat.reshape(len(lines), ncols)
        except ValueError:
            if len(lines) > 1000:  # strings (or empty fields): let predict_fn use pandas
                return Table(text=text, ncols=ncols)
            rows = [line.split(",") for line in lines]
    else:
        try:
            rows = list(csv.reader(lines, strict=True))
        except csv.Error as exc:
            raise BadRequest(f"malformed CSV: {exc}") from None
        for i, row in enumerate(rows):
            if len(row) != len(rows[0]):
                raise BadRequest(f"CSV line {i + 1} has {len(row)} fields, line 1 has "
                                 f"{len(rows[0])}")
    try:
        return np.array([[float(v) if v.strip() else math.nan for v in row] for row in rows])
    except ValueError:
        return Table(rows=rows)


def _from_json(obj: Any) -> np.ndarray[Any, Any] | Table:
    if isinstance(obj, dict):
        for key in ("instances", "inputs"):
            if key in obj:
                return _json_rows(obj[key], key)
        if "dataframe_split" in obj:
            split = obj["dataframe_split"]
            if not isinstance(split, dict) or not isinstance(split.get("data"), list):
                raise BadRequest('"dataframe_split" must be {"columns": [...], "data": [[...]]}')
            data = split["data"]
            if data and not isinstance(data[0], list):
                data = [data]
            if split.get("columns") is None:
                return _json_rows(data, "dataframe_split")
            return Table(rows=data, columns=split["columns"])
        if "dataframe_records" in obj:
            records = obj["dataframe_records"]
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise BadRequest('"dataframe_records" must be a list of objects')
            return Table(records=records)
        raise BadRequest(
            "unsupported JSON object: send rows [[...]], one row [...], records [{...}], "
            '{"instances": ...}, {"inputs": ...}, {"dataframe_split": ...} or '
            '{"dataframe_records": ...}'
        )
    return _json_rows(obj, "body")


def _json_rows(value: Any, where: str) -> np.ndarray[Any, Any] | Table:
    if isinstance(value, dict):  # columnar: {"a": [1, 2], "b": [3, 4]} or one record
        columns = list(value)
        cols = list(value.values())
        if all(isinstance(c, list) for c in cols):
            if len({len(c) for c in cols}) > 1:
                raise BadRequest(f"columns of {where} have different lengths")
            return Table(rows=[list(r) for r in zip(*cols, strict=True)], columns=columns)
        return Table(records=[value])
    if not isinstance(value, list):
        raise BadRequest(f"{where} must be a list of records")
    if not value:
        raise BadRequest("the request has no records")
    if all(isinstance(v, dict) for v in value):
        return Table(records=value)
    if all(isinstance(v, list) for v in value):
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            return Table(rows=value)
        if arr.ndim == 2:
            return arr
        raise BadRequest(f"{where}: each record must be a flat list of values")
    if not any(isinstance(v, (list, dict)) for v in value):
        return _json_rows([value], where)
    raise BadRequest(f"{where} mixes records of different shapes")


def _parse_jsonlines(text: str) -> np.ndarray[Any, Any] | Table:
    rows: list[list[Any]] = []
    records: list[dict[str, Any]] = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        value = loads_json(line, f"line {i + 1}")
        if isinstance(value, dict) and isinstance(value.get("features"), list):
            value = value["features"]
        if isinstance(value, list):
            rows.append(value)
        elif isinstance(value, dict):
            records.append(value)
        else:
            raise BadRequest(f"line {i + 1} must be a JSON list or object")
    if rows and records:
        raise BadRequest("JSON lines mix lists and objects")
    if records:
        return Table(records=records)
    return _json_rows(rows, "JSON lines")


def _parse_npy(body: bytes | str) -> np.ndarray[Any, Any]:
    if isinstance(body, str):
        raise BadRequest("application/x-npy needs a binary body")
    try:
        arr = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise BadRequest(f"malformed NPY body (pickled arrays are refused): {exc}") from None
    if not isinstance(arr, np.ndarray) or arr.ndim not in (1, 2):
        raise BadRequest("application/x-npy must hold a 1-D or 2-D array")
    return arr


# ---------------------------------------------------------------------------------------------
# predict_fn


class Probabilities:
    """input_fn's records with the client's request for class probabilities."""

    __slots__ = ("data",)

    def __init__(self, data: Any) -> None:
        self.data = data


class ProbabilityResult:
    """predict_fn's answer to a Probabilities request: one row per record, classes in order."""

    __slots__ = ("classes", "values")

    def __init__(self, classes: list[Any] | None, values: Any) -> None:
        self.classes = classes
        self.values = values


def _check_finite(X: Any, columns: Sequence[str] | None) -> None:
    """Missing (NaN) or infinite values in a numeric matrix -> 400 naming the field."""
    if not isinstance(X, np.ndarray) or X.dtype.kind != "f" or np.isfinite(X).all():
        return
    rows, cols = np.nonzero(~np.isfinite(X))
    j = int(cols[0])
    name = columns[j] if columns is not None and j < len(columns) else f"feature {j + 1}"
    what = "missing" if math.isnan(X[rows[0], j]) else "not finite"
    raise BadRequest(f"record {int(rows[0]) + 1}: field {name!r} is {what}")


def predict_fn(input_data: Any, model: Any) -> Any:
    """Validate the records against the signature and predict (class labels for classifiers,
    the notebook's threshold when the signature records one, probabilities on request)."""
    if not isinstance(model, ServingModel):
        model = ServingModel(model)
    want_proba = isinstance(input_data, Probabilities)
    X = model.prepare(input_data.data if want_proba else input_data)
    if not model.signature.get("allow_missing"):
        _check_finite(X, model.columns)
    n = X.shape[0]
    if want_proba:
        return ProbabilityResult(model.classes, np.asarray(model.predict_proba(X)))
    prediction = np.asarray(model.predict(X))
    if prediction.ndim == 0 or prediction.shape[0] != n:
        raise InferenceError(
            f"the model returned {prediction.shape} predictions for {n} records"
        )
    return prediction


# ---------------------------------------------------------------------------------------------
# output_fn

_ACCEPT_CACHE: dict[str, str] = {}


def select_accept(accept: str | bytes | None) -> str:
    """Accept header value -> the response content type (NotAcceptable if none is supported)."""
    if not accept:
        return default_accept()
    if isinstance(accept, bytes):
        accept = accept.decode("latin-1")
    found = _ACCEPT_CACHE.get(accept)
    if found is not None:
        return found
    ranges = []
    for i, part in enumerate(accept.split(",")):
        mtype, _, params = part.partition(";")
        mtype = mtype.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if mtype and q > 0:
            ranges.append((-q, i, mtype))
    for _, _, mtype in sorted(ranges):
        found = default_accept() if mtype in ("*/*", "*") else ACCEPT_TYPES.get(mtype)
        if found is not None:
            if len(_ACCEPT_CACHE) < 256:
                _ACCEPT_CACHE[accept] = found
            return found
    raise NotAcceptable(
        f"cannot answer in {accept!r}; supported: text/csv, application/json, "
        "application/jsonlines, application/x-npy"
    )


def output_fn(prediction: Any, accept: str | bytes | None) -> tuple[bytes, str]:
    """Predictions -> (body bytes, content type)."""
    ctype = select_accept(accept)
    if isinstance(prediction, ProbabilityResult):
        return _probabilities_body(prediction, ctype)
    pred = np.asarray(prediction)
    if ctype == CSV:
        return to_csv(pred), CSV
    if ctype == JSON:
        return json.dumps(_jsonable(pred)).encode(), JSON
    if ctype == JSONLINES:
        values = _jsonable(pred)
        return ("\n".join(json.dumps(v) for v in values) + "\n").encode(), JSONLINES
    buf = io.BytesIO()
    if pred.dtype.kind == "O":
        pred = pred.astype(str)
    np.save(buf, pred, allow_pickle=False)
    return buf.getvalue(), NPY


def _jsonable(pred: np.ndarray[Any, Any]) -> Any:
    if pred.dtype.kind == "f" and not np.isfinite(pred).all():
        return [_finite(v) for v in pred.tolist()]
    return pred.tolist()


def _finite(v: Any) -> Any:
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v if not isinstance(v, float) or math.isfinite(v) else None


def to_csv(pred: np.ndarray[Any, Any]) -> bytes:
    """One line per record; 2-D predictions give comma-separated values."""
    if pred.ndim == 1 and pred.dtype.kind in "biuf":
        return ("\n".join(map(str, pred.tolist())) + "\n").encode()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if pred.ndim == 1:
        writer.writerows([v] for v in pred.tolist())
    else:
        writer.writerows(pred.reshape(pred.shape[0], -1).tolist())
    return buf.getvalue().encode()


def _probabilities_body(result: ProbabilityResult, ctype: str) -> tuple[bytes, str]:
    """JSON: {"classes": [...], "probabilities": [[...], ...]}; CSV/jsonlines/npy: rows only
    (column order = signature classes, also in the X-Nb2svc-Classes header set by the app)."""
    values = np.asarray(result.values, dtype=np.float64)
    if ctype == JSON:
        classes = list(result.classes) if result.classes is not None else None
        body = {"classes": classes, "probabilities": _jsonable(values)}
        return json.dumps(body).encode(), JSON
    return output_fn(values, ctype)
