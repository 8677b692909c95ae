"""JupyterLab buttons for notebook2service: Lint, Convert to service, cell run provenance.

The frontend (a prebuilt JupyterLab 4 extension shipped in ``labextension/``) calls the
server endpoints in ``handlers``, which call ``notebook2service.lint`` and
``notebook2service.convert.convert`` — there is no second implementation of either.
"""

from __future__ import annotations

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nb2svc-jupyterlab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nb2svc_jupyterlab"}]


def _load_jupyter_server_extension(server_app) -> None:  # type: ignore[no-untyped-def]
    from .handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("nb2svc_jupyterlab: /nb2svc/lint and /nb2svc/convert registered")


# Jupyter Server 1.x name
load_jupyter_server_extension = _load_jupyter_server_extension
