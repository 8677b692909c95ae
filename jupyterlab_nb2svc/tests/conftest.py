"""pytest-jupyter for this folder only.

The fixtures and hooks are imported here instead of ``pytest_plugins`` so they apply to these
tests alone: pytest-jupyter has autouse fixtures (an event loop and a ServerApp cleanup per
test) that the rest of the suite (papermill runs, Playwright) must not get. Without
pytest-jupyter installed these tests skip.
"""

from __future__ import annotations

try:
    from pytest_jupyter.jupyter_core import *  # noqa: F403
    from pytest_jupyter.jupyter_server import *  # noqa: F403

    HAVE_PYTEST_JUPYTER = True
except ImportError:  # the extension's test extra is not installed
    HAVE_PYTEST_JUPYTER = False

import pytest

if HAVE_PYTEST_JUPYTER:

    @pytest.fixture
    def jp_server_config():  # noqa: F811  (replaces the imported default)
        return {
            "ServerApp": {
                "jpserver_extensions": {"nb2svc_jupyterlab": True},
                "allow_unauthenticated_access": False,
            }
        }
