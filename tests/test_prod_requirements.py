"""Requirements that install: local modules copied, never named; pip options kept; every
warning a finding; the image's Python is the notebook's."""

import os
import subprocess
import sys
from pathlib import Path

from nbmake import notebook, write

from notebook2service.convert import convert
from notebook2service.image import notebook_python
from notebook2service.local_modules import find_local_modules


def _notebook_dir(tmp_path: Path) -> Path:
    nb_dir = tmp_path / "nb"
    (nb_dir / "shapes").mkdir(parents=True)
    (nb_dir / "helpers_05_08.py").write_text(
        "import json\nimport shapes\n\n"
        "SCALE = json.load(open('scale.json'))['scale']\n\n"
        "def double(x):\n    return shapes.area(x) * SCALE\n"
    )
    (nb_dir / "shapes" / "__init__.py").write_text("def area(x):\n    return x * x\n")
    (nb_dir / "scale.json").write_text('{"scale": 2}')
    return nb_dir


def test_local_module_is_copied_with_what_it_needs_and_never_a_requirement(tmp_path):
    nb_dir = _notebook_dir(tmp_path)
    src = write(
        nb_dir / "demo.ipynb",
        notebook("import helpers_05_08\nimport numpy as np", "print(helpers_05_08.double(3))"),
    )
    result = convert(src, tmp_path / "out")
    out = tmp_path / "out"
    reqs = (out / "requirements.txt").read_text()
    assert "helpers" not in reqs and "shapes" not in reqs and "numpy==" in reqs
    for rel in ("helpers_05_08.py", "shapes/__init__.py", "scale.json"):
        assert (out / rel).is_file(), rel
        assert f"COPY {rel} ./{rel}" in (out / "Dockerfile").read_text()
    assert result.manifest.environment["local_modules"] == [
        "helpers_05_08.py", "scale.json", "shapes/__init__.py"
    ]
    # the package runs from its own folder, without the notebook's
    env = dict(os.environ, PYTHONPATH=str(out))
    proc = subprocess.run([sys.executable, "-m", result.package], cwd=out, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "18"


def test_find_local_modules_reports_what_it_cannot_copy(tmp_path):
    (tmp_path / "bad.py").write_bytes(b"\xff\xfe not utf-8")
    found = find_local_modules(tmp_path, ["bad", "numpy", "os"])
    assert found.names == {"bad"} and found.files == {}
    assert found.errors and "bad.py: cannot be read" in found.errors[0]
    assert find_local_modules(None, ["x"]).names == set()


def test_pip_options_and_direct_references_kept_credentials_never(tmp_path):
    src = write(
        tmp_path / "demo.ipynb",
        notebook(
            "!pip install -i https://bob:s3cret@private.example/simple foo==1.0\n"
            "!pip install git+https://github.com/org/tool.git@v1#egg=tool\n"
            "from IPython.display import IFrame\nimport smexperiments\nimport numpy",
            "print(1)",
        ),
    )
    result = convert(src, tmp_path / "out")
    lines = (tmp_path / "out" / "requirements.txt").read_text().splitlines()
    assert "--index-url https://private.example/simple" in lines
    assert "git+https://github.com/org/tool.git@v1#egg=tool" in lines
    assert "foo==1.0" in lines
    assert not any("s3cret" in line for line in lines)
    assert not any(line.startswith("smexperiments") for line in lines)
    # pipeline.py imports IPython, so the image must install it: a pinned requirement
    assert any(line.startswith("ipython==") for line in lines)
    messages = [f.message for f in result.findings if f.name == "requirement"]
    assert any(m.startswith("smexperiments:") for m in messages)
    assert any("credentials in the URL removed" in m for m in messages)
    assert not any("s3cret" in m for m in messages)
    pinned = [line for line in lines if line and not line.startswith(("#", "-", "git+"))]
    assert all("==" in line for line in pinned), pinned


def test_image_python_follows_the_notebook():
    assert notebook_python({"language_info": {"version": "3.10.12"}}) == (
        "3.10", "language_info.version")
    assert notebook_python({"kernelspec": {"display_name": "Python 3.9 (ml)"}})[0] == "3.9"
    assert notebook_python({})[1] == "converter"
    assert notebook_python("junk")[1] == "converter"


def test_dockerfile_base_is_the_notebook_python(tmp_path):
    nb = notebook("import numpy", "print(1)")
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.12.1"}
    convert(write(tmp_path / "demo.ipynb", nb), tmp_path / "out")
    assert "python:3.12-slim" in (tmp_path / "out" / "Dockerfile").read_text()
