"""End to end: JupyterLab on 127.0.0.1, Debian's Chromium driven by Playwright.

Opens sample notebooks, clicks "Lint" and "Convert to service", checks the diagnostics panel,
the flagged cells, the written package and the provenance NB109/NB110 findings, and saves
screenshots (``ui_tests/artifacts/`` or ``$NB2SVC_E2E_ARTIFACTS``).

Skips when Playwright, a Chromium binary, JupyterLab or the extension is missing — unless
``NB2SVC_E2E=1`` (CI), where a missing piece is a failure. Never downloads a browser.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SAMPLES = ROOT / "sample_notebooks"
REQUIRED = os.environ.get("NB2SVC_E2E") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"NB2SVC_E2E=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def _chromium() -> str | None:
    for candidate in (os.environ.get("NB2SVC_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    _unavailable("Playwright (the Python package) is not installed")
CHROMIUM = _chromium()
if CHROMIUM is None:
    _unavailable("no Chromium binary (Debian: apt-get install chromium)")
for module in ("jupyterlab", "nb2svc_jupyterlab", "ipykernel"):
    try:
        __import__(module)
    except ImportError:
        _unavailable(f"{module} is not installed")

ARTIFACTS = Path(os.environ.get("NB2SVC_E2E_ARTIFACTS") or HERE / "artifacts")
TOKEN = "nb2svc-e2e-token"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in front


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(*sources: str) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{i}",
                "metadata": {},
                "outputs": [],
                "source": s,
            }
            for i, s in enumerate(sources)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copy(SAMPLES / "hidden_state.ipynb", root / "hidden_state.ipynb")
    shutil.copy(SAMPLES / "churn_classification.ipynb", root / "churn_classification.ipynb")
    if (SAMPLES / "data").is_dir():
        shutil.copytree(SAMPLES / "data", root / "data")
    (root / "prov.ipynb").write_text(json.dumps(_notebook("x = 1", "y = x + 1\nprint(y)")))
    (root / "taken.ipynb").write_text(json.dumps(_notebook("z = 3")))
    (root / "build" / "taken").mkdir(parents=True)
    (root / "build" / "taken" / "mine.txt").write_text("not a package")

    home = tmp_path_factory.mktemp("lab-home")
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
    }
    port = _free_port()
    log = open(tmp_path_factory.mktemp("lab-log") / "jupyterlab.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--port-retries=0",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.allow_root=True",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail("JupyterLab did not start:\n" + log.read()[-3000:])
                time.sleep(0.3)
        yield {"base": base, "root": root}
    finally:
        proc.send_signal(signal.SIGTERM)  # jupyter_server shuts kernels down on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}-final.png"))
    context.close()


def open_notebook(page, server, name: str) -> None:
    page.goto(f"{server['base']}/lab/tree/{name}?reset&token={TOKEN}")
    page.locator(f"{PANEL} .jp-Cell").first.wait_for()
    page.locator(f"{PANEL} .jp-NotebookPanel-toolbar [data-jp-item-name=nb2svc-lint]").wait_for()
    # the kernel is idle (started), so runs and saves are not racing the start-up
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.sessionContext.session &&"
        " w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle'; }",
        timeout=60_000,
    )


def click_toolbar(page, item: str) -> None:
    page.locator(f"{PANEL} .jp-NotebookPanel-toolbar [data-jp-item-name={item}] jp-button").click()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_lint_button_lists_diagnostics_marks_and_reveals_cells(page, server):
    from notebook2service import lint

    expected = lint(server["root"] / "hidden_state.ipynb")
    open_notebook(page, server, "hidden_state.ipynb")
    click_toolbar(page, "nb2svc-lint")
    rows = page.locator(".nb2svc-LintPanel .nb2svc-diagnostic")
    expect(rows).to_have_count(len(expected))
    got = [
        (r.get_attribute("data-code"), int(r.get_attribute("data-cell") or 0)) for r in rows.all()
    ]
    assert got == [(d.code, d.cell.index) for d in expected]
    # every row shows cell, line, code, severity, message
    row = page.locator(".nb2svc-diagnostic[data-code=NB104]").first
    cells = row.locator("td").all_inner_texts()
    assert cells[0].startswith("6") and cells[1] == "2" and cells[2] == "NB104"
    assert cells[3] == "error" and "threshold" in cells[4]
    # flagged cells carry the codes
    flagged = page.locator(f"{PANEL} .jp-Cell.nb2svc-flagged")
    expect(flagged).to_have_count(len({d.cell.index for d in expected}))
    assert "NB104" in (page.locator(f"{PANEL} .jp-Cell").nth(5).get_attribute("data-nb2svc") or "")
    shot(page, "lint-panel")
    # clicking a diagnostic goes to its cell
    page.locator(".nb2svc-diagnostic[data-code=NB206]").first.click()
    target = page.locator(f"{PANEL} .jp-Cell").nth(14)
    expect(target).to_have_class(__import__("re").compile(r"\bjp-mod-active\b"))
    expect(target).to_be_in_viewport()
    shot(page, "lint-reveal-cell")


def test_convert_button_writes_the_package_and_shows_what_it_found(page, server):
    open_notebook(page, server, "churn_classification.ipynb")
    click_toolbar(page, "nb2svc-convert")
    dialog = page.locator(".jp-Dialog .nb2svc-convert-result")
    dialog.wait_for(timeout=120_000)
    text = dialog.inner_text()
    assert "build/churn_classification/" in text
    for heading in ("Model", "Parameters", "Channels", "Steps", "Warnings"):
        assert heading in text
    shot(page, "convert-dialog")
    out = server["root"] / "build" / "churn_classification"
    manifest = json.loads((out / "nb2svc.json").read_text())
    assert manifest["package"] == "churn_classification"
    assert (out / "churn_classification" / "pipeline.py").is_file()
    assert dialog.locator(".nb2svc-package").inner_text() == "churn_classification"
    page.locator(".jp-Dialog button:has-text('Close')").click()


def test_convert_failure_is_shown(page, server):
    open_notebook(page, server, "taken.ipynb")
    click_toolbar(page, "nb2svc-convert")
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Convert to service failed")
    expect(dialog).to_contain_text("not a package made by nb2svc")
    shot(page, "convert-failure")
    assert (server["root"] / "build" / "taken" / "mine.txt").read_text() == "not a package"


def test_provenance_edited_after_run_and_stale_kernel_output(page, server):
    from notebook2service.provenance import source_sha256

    open_notebook(page, server, "prov.ipynb")
    run = """async () => {
        const app = window.jupyterapp; const panel = app.shell.currentWidget;
        await app.commands.execute('notebook:run-all-cells');
        await panel.sessionContext.session.kernel.requestKernelInfo();
    }"""
    page.evaluate(run)
    counts = page.locator(f"{PANEL} .jp-InputPrompt")
    expect(counts.nth(1)).to_contain_text("[2]", timeout=30_000)
    page.evaluate("async () => { await window.jupyterapp.commands.execute('docmanager:save'); }")
    saved = json.loads((server["root"] / "prov.ipynb").read_text())
    records = [c["metadata"].get("nb2svc") for c in saved["cells"]]
    assert all(records), records
    assert records[1]["source_sha256"] == source_sha256("y = x + 1\nprint(y)")  # TS == Python
    assert records[0]["kernel_session"] == records[1]["kernel_session"]
    assert [r["execution_count"] for r in records] == [1, 2]

    # restart the kernel, run only the first cell, then edit the second without running it
    page.evaluate(
        """async () => {
        const app = window.jupyterapp; const panel = app.shell.currentWidget;
        await panel.sessionContext.session.kernel.restart();
        panel.content.activeCellIndex = 0;
        await app.commands.execute('notebook:run-cell');
    }"""
    )
    expect(counts.nth(0)).to_contain_text("[1]", timeout=30_000)
    page.evaluate(
        """() => { const panel = window.jupyterapp.shell.currentWidget;
        panel.content.widgets[1].model.sharedModel.setSource('y = x + 2\\nprint(y)'); }"""
    )
    click_toolbar(page, "nb2svc-lint")  # saves the dirty notebook first
    rows = page.locator(".nb2svc-LintPanel .nb2svc-diagnostic")
    expect(page.locator(".nb2svc-diagnostic[data-code=NB109]")).to_have_count(1)
    expect(page.locator(".nb2svc-diagnostic[data-code=NB110]")).to_have_count(1)
    got = {(r.get_attribute("data-code"), r.get_attribute("data-cell")) for r in rows.all()}
    assert {("NB109", "2"), ("NB110", "2")} <= got
    saved = json.loads((server["root"] / "prov.ipynb").read_text())
    assert "y = x + 2" in "".join(saved["cells"][1]["source"])  # it was saved first
    assert (
        saved["cells"][0]["metadata"]["nb2svc"]["kernel_session"]
        != saved["cells"][1]["metadata"]["nb2svc"]["kernel_session"]
    )
    shot(page, "provenance-lint")


def test_commands_are_in_the_palette(page, server):
    open_notebook(page, server, "prov.ipynb")
    labels = page.evaluate(
        "() => ['nb2svc:lint', 'nb2svc:convert'].map(c => window.jupyterapp.commands.label(c))"
    )
    assert labels == ["nb2svc: Lint notebook", "nb2svc: Convert notebook to service"]
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("nb2svc")
    items = page.locator(".lm-CommandPalette-item:visible")
    expect(items).to_have_count(2)
    shot(page, "command-palette")
