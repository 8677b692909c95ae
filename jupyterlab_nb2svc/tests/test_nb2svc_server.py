"""The server endpoints: auth, contents-manager paths, 400s, and real lint/convert results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytest_jupyter")
pytest.importorskip("nb2svc_jupyterlab")
from tornado.httpclient import HTTPClientError  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "sample_notebooks"


def _copy_samples(root: Path) -> None:
    shutil.copy(SAMPLES / "hidden_state.ipynb", root / "hidden_state.ipynb")
    sub = root / "work"
    sub.mkdir()
    shutil.copy(SAMPLES / "churn_classification.ipynb", sub / "churn_classification.ipynb")
    if (SAMPLES / "data").is_dir():
        shutil.copytree(SAMPLES / "data", sub / "data")


async def _post(jp_fetch, endpoint, body, **kw):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return await jp_fetch("nb2svc", endpoint, method="POST", body=data, **kw)


async def test_extension_is_enabled(jp_serverapp):
    assert "nb2svc_jupyterlab" in jp_serverapp.extension_manager.extensions
    ext = jp_serverapp.extension_manager.extensions["nb2svc_jupyterlab"]
    assert ext.enabled


async def test_lint_reports_every_finding_with_cells(jp_fetch, jp_root_dir):
    _copy_samples(jp_root_dir)
    response = await _post(jp_fetch, "lint", {"path": "hidden_state.ipynb"})
    assert response.code == 200
    reply = json.loads(response.body)
    from notebook2service import lint

    expected = [(d.code, d.cell.index, d.line) for d in lint(jp_root_dir / "hidden_state.ipynb")]
    got = [(d["code"], d["cell"]["index"], d["line"]) for d in reply["diagnostics"]]
    assert got == expected and ("NB104", 6, 2) in got
    assert reply["path"] == "hidden_state.ipynb"
    assert all(d["path"] == "hidden_state.ipynb" for d in reply["diagnostics"])
    assert reply["counts"]["error"] == sum(d["severity"] == "error" for d in reply["diagnostics"])
    first = reply["diagnostics"][0]
    assert {"code", "severity", "message", "line", "column", "cell"} <= set(first)


async def test_lint_honours_pyproject_config(jp_fetch, jp_root_dir):
    _copy_samples(jp_root_dir)
    (jp_root_dir / "pyproject.toml").write_text('[tool.nb2svc]\nignore = ["NB104"]\n')
    reply = json.loads((await _post(jp_fetch, "lint", {"path": "hidden_state.ipynb"})).body)
    codes = {d["code"] for d in reply["diagnostics"]}
    assert "NB104" not in codes and "NB101" in codes


async def test_convert_writes_the_package(jp_fetch, jp_root_dir):
    _copy_samples(jp_root_dir)
    response = await _post(jp_fetch, "convert", {"path": "work/churn_classification.ipynb"})
    assert response.code == 200
    reply = json.loads(response.body)
    assert reply["output"] == "work/build/churn_classification"
    out = jp_root_dir / reply["output"]
    manifest = json.loads((out / "nb2svc.json").read_text())
    assert manifest["package"] == reply["package"] == "churn_classification"
    assert (out / "churn_classification" / "pipeline.py").is_file()
    assert [p["name"] for p in reply["parameters"]] == [p["name"] for p in manifest["parameters"]]
    assert reply["steps"] and isinstance(reply["warnings"], list)
    assert "model" in reply and "channels" in reply
    # a second click replaces the package it wrote
    again = await _post(jp_fetch, "convert", {"path": "work/churn_classification.ipynb"})
    assert again.code == 200


async def test_convert_to_a_chosen_folder_and_refuses_foreign_ones(jp_fetch, jp_root_dir):
    _copy_samples(jp_root_dir)
    reply = json.loads(
        (
            await _post(
                jp_fetch,
                "convert",
                {"path": "work/churn_classification.ipynb", "output": "services/churn"},
            )
        ).body
    )
    assert (jp_root_dir / "services" / "churn" / "nb2svc.json").is_file()
    assert reply["output"] == "services/churn"
    (jp_root_dir / "mine").mkdir()
    (jp_root_dir / "mine" / "keep.txt").write_text("x")
    with pytest.raises(HTTPClientError) as e:
        await _post(
            jp_fetch, "convert", {"path": "work/churn_classification.ipynb", "output": "mine"}
        )
    assert e.value.code == 409
    assert (jp_root_dir / "mine" / "keep.txt").read_text() == "x"


@pytest.mark.parametrize(
    "endpoint, body",
    [
        ("lint", "not json"),
        ("lint", "[1, 2]"),
        ("lint", {}),
        ("lint", {"path": 3}),
        ("lint", {"path": "notes.txt"}),
        ("lint", {"path": "../outside.ipynb"}),
        ("lint", {"path": "work/../../outside.ipynb"}),
        ("lint", {"path": "/etc/passwd.ipynb"}),
        ("lint", {"path": "hidden_state.ipynb", "select": "NB1"}),
        ("convert", {"path": "../x.ipynb"}),
        ("convert", {"path": "hidden_state.ipynb", "output": "../elsewhere"}),
        ("convert", {"path": "hidden_state.ipynb", "output": "/tmp/elsewhere"}),
    ],
)
async def test_bad_requests_get_400(jp_fetch, jp_root_dir, endpoint, body):
    _copy_samples(jp_root_dir)
    with pytest.raises(HTTPClientError) as e:
        await _post(jp_fetch, endpoint, body)
    assert e.value.code == 400


async def test_missing_notebook_is_404(jp_fetch, jp_root_dir):
    with pytest.raises(HTTPClientError) as e:
        await _post(jp_fetch, "lint", {"path": "nope.ipynb"})
    assert e.value.code == 404


async def test_broken_notebook_is_reported_not_500(jp_fetch, jp_root_dir):
    (jp_root_dir / "broken.ipynb").write_text("{ not json")
    for endpoint in ("lint", "convert"):
        with pytest.raises(HTTPClientError) as e:
            await _post(jp_fetch, endpoint, {"path": "broken.ipynb"})
        assert e.value.code in (400, 422)
        assert b"broken.ipynb" in e.value.response.body


async def test_endpoints_require_login(jp_fetch, jp_root_dir):
    _copy_samples(jp_root_dir)
    for endpoint in ("lint", "convert"):
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch(
                "nb2svc",
                endpoint,
                method="POST",
                body=json.dumps({"path": "hidden_state.ipynb"}),
                headers={"Authorization": ""},
            )
        assert e.value.code in (401, 403)
    assert not (jp_root_dir / "build").exists()


async def test_get_is_not_allowed(jp_fetch):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("nb2svc", "lint", method="GET")
    assert e.value.code == 405


async def test_a_stuck_worker_is_a_500_and_the_server_stays_up(jp_fetch, jp_root_dir, monkeypatch):
    _copy_samples(jp_root_dir)
    monkeypatch.setenv("NB2SVC_WORKER_TIMEOUT", "0.05")
    with pytest.raises(HTTPClientError) as e:
        await _post(jp_fetch, "convert", {"path": "hidden_state.ipynb"})
    assert e.value.code == 500
    assert "took longer than" in json.loads(e.value.response.body)["message"]
    monkeypatch.setenv("NB2SVC_WORKER_MEMORY_MB", "30")  # the child cannot even start
    with pytest.raises(HTTPClientError) as e:
        await _post(jp_fetch, "lint", {"path": "hidden_state.ipynb"})
    assert e.value.code == 500
    monkeypatch.delenv("NB2SVC_WORKER_TIMEOUT")
    monkeypatch.delenv("NB2SVC_WORKER_MEMORY_MB")
    r = await _post(jp_fetch, "lint", {"path": "hidden_state.ipynb"})
    assert r.code == 200


HOSTILE = {
    "parens": "x = " + "(" * 5000 + "1" + ")" * 5000,
    "unary": "x = " + "-" * 100000 + "1",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_cells_neither_crash_nor_stop_the_server(jp_fetch, jp_root_dir, case):
    cells = [
        {
            "cell_type": "code",
            "id": f"c{i}",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": src,
        }
        for i, src in enumerate(["y = 1", HOSTILE[case], "print(y)"])
    ]
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
    }
    (jp_root_dir / "h.ipynb").write_text(json.dumps(nb))
    r = await _post(jp_fetch, "convert", {"path": "h.ipynb"})
    body = json.loads(r.body)
    assert any("kept as a comment" in f.get("message", "") for f in body["findings"])
    r = await _post(jp_fetch, "lint", {"path": "h.ipynb"})
    assert any(d["code"] == "NB001" for d in json.loads(r.body)["diagnostics"])


async def test_deep_json_body_is_a_400(jp_fetch, jp_root_dir):
    with pytest.raises(HTTPClientError) as e:
        await _post(jp_fetch, "lint", '{"path": ' + "[" * 100000 + "]" * 100000 + "}")
    assert e.value.code == 400


async def test_no_planted_secret_reaches_a_response_or_the_written_package(jp_fetch, jp_root_dir):
    """Issue 9: the JupyterLab answers and what Convert writes go through the one redaction."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    try:
        from secret_notebook import leaks, write_secret_notebook
    finally:
        sys.path.pop(0)
    write_secret_notebook(jp_root_dir / "churn.ipynb")
    bodies = []
    for endpoint in ("lint", "convert"):
        response = await _post(jp_fetch, endpoint, {"path": "churn.ipynb"})
        assert response.code == 200
        bodies.append(response.body)
    written = [p for p in (jp_root_dir / "build").rglob("*") if p.is_file()]
    assert any(p.name == "pipeline.py" for p in written)
    found = [(str(p), hit) for p in written for hit in leaks(p.read_bytes())]
    found += [("response", hit) for body in bodies for hit in leaks(body)]
    assert found == []
