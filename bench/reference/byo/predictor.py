"""Reference server in the style of AWS's scikit_bring_your_own example (predictor.py).

Flask app behind gunicorn sync workers behind nginx; the model is loaded lazily on the first
/ping; every request parses CSV with pandas.read_csv and serializes with DataFrame.to_csv.
Kept close to the original so that bench/serve_bench.py measures what that stack costs.
"""

import io
import os
import pickle

import flask
import pandas as pd

prefix = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
model_path = os.path.join(prefix, "model")


class ScoringService:
    model = None

    @classmethod
    def get_model(cls):
        if cls.model is None:
            with open(os.path.join(model_path, "model.pkl"), "rb") as inp:
                cls.model = pickle.load(inp)
        return cls.model

    @classmethod
    def predict(cls, input):
        return cls.get_model().predict(input)


app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    health = ScoringService.get_model() is not None
    status = 200 if health else 404
    return flask.Response(response="\n", status=status, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation():
    if flask.request.content_type == "text/csv":
        data = flask.request.data.decode("utf-8")
        data = pd.read_csv(io.StringIO(data), header=None)
    else:
        return flask.Response(
            response="This predictor only supports CSV data", status=415, mimetype="text/plain"
        )
    predictions = ScoringService.predict(data)
    out = io.StringIO()
    pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
    return flask.Response(response=out.getvalue(), status=200, mimetype="text/csv")
