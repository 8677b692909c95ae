"""A WSGI app around nb2svc_runtime's handlers, so WSGI servers (gunicorn, granian) can be
measured with the same per-request work as the runtime's own ASGI app (bench only).

/ping answers 200, POST /invocations runs input_fn -> predict_fn -> output_fn; an
InferenceError answers its status. The model is loaded once per worker, at import.
"""

import json
import os

from nb2svc_runtime import handlers

MODEL = handlers.model_fn(os.path.join(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), "model"))
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 406: "Not Acceptable",
           415: "Unsupported Media Type", 500: "Internal Server Error"}


def _answer(start_response, status, body, ctype):
    start_response(f"{status} {REASONS.get(status, '')}",
                   [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
    if path == "/ping":
        return _answer(start_response, 200, b"", "application/json")
    if path != "/invocations" or method != "POST":
        return _answer(start_response, 404, b'{"message": "no route"}', "application/json")
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        data = handlers.input_fn(body, environ.get("CONTENT_TYPE"))
        out, ctype = handlers.output_fn(handlers.predict_fn(data, MODEL),
                                        environ.get("HTTP_ACCEPT"))
    except handlers.InferenceError as exc:
        return _answer(start_response, exc.status, json.dumps({"message": str(exc)}).encode(),
                       "application/json")
    return _answer(start_response, 200, out, ctype)
