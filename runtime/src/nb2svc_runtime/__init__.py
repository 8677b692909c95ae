"""nb2svc-runtime: the serving and training runtime of packages converted by nb2svc.

Installed into the serving image (pinned to an exact version in the package's
requirements.txt), imported by the package's thin `inference.py`/`serve.py`/`train.py`;
`nb2svc_runtime.notebook` is what the package's `pipeline.py` needs outside Jupyter (shell
commands, displayed values, figures, data channels).
"""

__version__ = "0.4.0"
