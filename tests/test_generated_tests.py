"""The tests/ convert writes hold no absolute path of the machine that converted the notebook:
they find the notebook's folder relative to the package, so a moved checkout still works."""

import importlib.util
import shutil
from pathlib import Path

from notebook2service.convert import convert

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location("generated_test_package", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_tests_use_paths_relative_to_the_package(tmp_path: Path, monkeypatch) -> None:
    first = tmp_path / "first"
    shutil.copytree(SAMPLES, first / "notebooks")
    notebook = first / "notebooks" / "churn_classification.ipynb"
    result = convert(str(notebook), first / "build" / "churn")
    for rel, text in result.files.items():
        assert str(tmp_path) not in text, rel
        assert str(SAMPLES) not in text, rel
    moved = tmp_path / "elsewhere"
    shutil.move(str(first), str(moved))
    monkeypatch.delenv("NB2SVC_NOTEBOOK_DIR", raising=False)
    tests = _load(moved / "build" / "churn" / "tests" / "test_package.py")
    assert tests.NOTEBOOK_DIR == (moved / "notebooks").resolve()
    assert (tests.NOTEBOOK_DIR / "churn_classification.ipynb").is_file()
    for default in tests.CHANNELS.values():  # the data files the generated tests copy
        assert (tests.NOTEBOOK_DIR / default).is_file()


def test_generated_tests_take_the_notebook_folder_from_the_environment(
    tmp_path: Path, monkeypatch
) -> None:
    shutil.copytree(SAMPLES, tmp_path / "notebooks")
    convert(str(tmp_path / "notebooks" / "churn_classification.ipynb"), tmp_path / "out")
    monkeypatch.setenv("NB2SVC_NOTEBOOK_DIR", str(tmp_path / "data-here"))
    tests = _load(tmp_path / "out" / "tests" / "test_package.py")
    assert tests.NOTEBOOK_DIR == (tmp_path / "data-here").resolve()
