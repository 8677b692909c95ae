"""Dependency inference for `nb2svc convert`: import -> distribution, pins, pip lines, merging."""

import importlib.metadata as metadata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement as PEP508
from packaging.version import Version

from notebook2service import requirements as rq
from notebook2service.requirements import (
    Requirement,
    distribution_for,
    infer,
    parse_pip_command,
)


def norm(version: str) -> str:
    return str(Version(version))


def by_name(reqs):
    return {r.name.lower(): r for r in reqs}


# --------------------------------------------------------------------------- mapping


def test_sklearn_maps_to_scikit_learn_pinned_to_installed():
    (req,) = infer(["sklearn"])
    assert req.name == "scikit-learn"
    assert req.specifier == "==" + norm(metadata.version("scikit-learn"))
    assert req.installed == metadata.version("scikit-learn")
    assert req.modules == ("sklearn",)
    assert req.source == "import"
    assert req.note == ""
    assert req.line() == f"scikit-learn=={norm(metadata.version('scikit-learn'))}"


def test_numpy():
    (req,) = infer(["numpy"])
    assert (req.name, req.specifier) == ("numpy", "==" + norm(metadata.version("numpy")))


def test_distribution_for():
    assert distribution_for("sklearn") == ("scikit-learn", metadata.version("scikit-learn"))
    assert distribution_for("sklearn.model_selection")[0] == "scikit-learn"
    assert distribution_for("mpl_toolkits.mplot3d")[0] == "matplotlib"
    assert distribution_for("os") == (None, None)
    assert distribution_for("surely_not_a_module_xyz") == (None, None)
    assert distribution_for("not a module") == (None, None)
    assert distribution_for("") == (None, None)


def test_stdlib_future_and_main_are_skipped():
    reqs = infer(["os", "sys", "json", "collections", "__future__", "__main__", "os.path"])
    assert reqs == [] and reqs.warnings == []


def test_local_modules_skipped_by_name_or_path():
    reqs = infer(
        ["helpers", "utils.io", "pkg", "numpy", ".relative"],
        local_modules=["helpers.py", "utils", "pkg/sub.py"],
    )
    assert [r.name for r in reqs] == ["numpy"]


def test_local_module_shadows_an_installed_distribution():
    assert infer(["numpy"], local_modules=["numpy.py"]) == []


def test_unknown_module_is_never_written_as_a_requirement():
    # an import name is not a distribution name: writing it invites dependency confusion
    reqs = infer(["surely_not_a_module_xyz", "smexperiments"])
    assert list(reqs) == []
    assert any("surely_not_a_module_xyz: no installed distribution" in w for w in reqs.warnings)
    assert any(w.startswith("smexperiments:") for w in reqs.warnings)


def test_fallback_table_for_a_module_not_installed():
    if "cv2" in metadata.packages_distributions():
        pytest.skip("OpenCV is installed here")
    (req,) = infer(["cv2"])
    assert (req.name, req.specifier, req.installed) == ("opencv-python", "", None)
    assert req.modules == ("cv2",)
    assert "not installed here" in req.note
    assert distribution_for("cv2") == ("opencv-python", None)


def test_dotted_namespace_import_uses_the_table():
    if "google" in metadata.packages_distributions():
        pytest.skip("a google namespace package is installed here")
    reqs = infer(["google.cloud.storage", "google.cloud.aiplatform", "azure.foo.bar"])
    assert [r.name for r in reqs] == [  # azure.foo.bar: unknown, not guessed
        "google-cloud-aiplatform",
        "google-cloud-storage",
    ]


def test_ambiguous_namespace_picks_the_distribution_that_ships_the_subpackage(monkeypatch):
    installed = {
        "google-auth": ("google-auth", "2.0.0"),
        "google-cloud-storage": ("google-cloud-storage", "2.18.0"),
        "protobuf": ("protobuf", "5.0.0+local"),
    }
    owned = {  # google/ and google/cloud/ are namespace directories: nobody owns them
        "google-auth": {("google", "auth"), ("google", "auth", "transport")},
        "google-cloud-storage": {("google", "cloud", "storage")},
        "protobuf": {("google", "protobuf")},
    }

    def module_paths(dist):
        mine = owned.get(dist, set())
        every = {p[:i] for p in mine for i in range(1, len(p) + 1)}
        return frozenset(mine), frozenset(every)

    monkeypatch.setattr(rq, "_packages_distributions", lambda: {"google": tuple(sorted(installed))})
    monkeypatch.setattr(rq, "_installed", lambda d: installed.get(d))
    monkeypatch.setattr(rq, "_module_paths", module_paths)
    monkeypatch.setattr(rq, "_direct_url_note", lambda d: "")

    assert distribution_for("google.cloud.storage") == ("google-cloud-storage", "2.18.0")
    assert distribution_for("google.auth.transport") == ("google-auth", "2.0.0")
    # nothing installed ships google.cloud.bigquery: the table, not google-auth
    assert distribution_for("google.cloud.bigquery") == ("google-cloud-bigquery", None)
    reqs = by_name(infer(["google.protobuf"]))
    # local version labels never exist on PyPI; "==5.0.0" still matches 5.0.0+local
    assert reqs["protobuf"].specifier == "==5.0.0"
    assert "local version label dropped" in reqs["protobuf"].note
    # a bare "import google": several candidates, one picked, and said so
    (req,) = infer(["google"])
    assert req.name == "google-auth" and "several distributions" in req.note


def test_notebook_only_modules():
    reqs = infer(["IPython", "IPython.display", "google.colab", "numpy"])
    assert [r.name for r in reqs] == ["numpy"]
    assert any(w.startswith("IPython: skipped") for w in reqs.warnings)
    assert any(w.startswith("google.colab: skipped") for w in reqs.warnings)


def test_invalid_module_names_warn():
    reqs = infer(["not a module", "1abc", 3])  # type: ignore[list-item]
    assert reqs == []
    assert len(reqs.warnings) == 3


def test_modules_merged_into_one_distribution():
    (req,) = infer(["matplotlib", "matplotlib.pyplot", "pylab", "matplotlib"])
    assert req.name == "matplotlib"
    assert req.modules == ("matplotlib", "matplotlib.pyplot", "pylab")


# --------------------------------------------------------------------------- pip lines


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pip install -q -U xgboost==1.2 'pandas>=2' --no-index", ["xgboost==1.2", "pandas>=2"]),
        ("{sys.executable} -m pip install --upgrade --quiet scikit-learn", ["scikit-learn"]),
        ("python -m pip install numpy", ["numpy"]),
        ("python3 -m pip install --user numpy", ["numpy"]),
        ("/usr/bin/python3.11 -u -m pip install numpy", ["numpy"]),
        ("pip3 install numpy", ["numpy"]),
        ("uv pip install --system polars", ["polars"]),
        ("!pip install a", ["a"]),
        ("%pip install a", ["a"]),
        ("install a b", ["a", "b"]),  # the text after %pip
        ("sudo -H pip install a", ["a"]),
        ("pip --quiet install a", ["a"]),
        ("pip list", []),
        ("pip freeze > requirements.txt", []),
        ("pip show numpy", []),
        ("ls -la", []),
        ("", []),
        (
            "pip install -i https://x/simple --index-url https://x --extra-index-url https://y "
            "-f https://z --find-links=./w -c constraints.txt --no-deps --pre --force-reinstall "
            "--target /tmp/t --no-index --user a",
            ["a"],
        ),
        ("pip install -qU a 2>&1 > /dev/null", ["a"]),
        ("pip install 'a>=1,<3'", ["a<3,>=1"]),
        ("pip install 'a == 1.0'", ["a==1.0"]),
        ("pip install a  # pin later", ["a"]),
        ("pip install \\\n  a \\\n  b", ["a", "b"]),
        ("cd x && pip install a; pip install b || true", ["a", "b"]),
        ("pip install a | tail -1", ["a"]),
        (
            "pip install foo @ git+https://github.com/x/y.git",
            ["foo @ git+https://github.com/x/y.git"],
        ),
        ("pip install 'requests[socks,security]>=2'", ["requests[security,socks]>=2"]),
        (
            "pip install 'pywin32; sys_platform == \"win32\"'",
            ['pywin32; sys_platform == "win32"'],
        ),
    ],
)
def test_parse_pip_command(command, expected):
    reqs, warnings = parse_pip_command(command)
    # packaging versions differ in how they print a direct reference ("foo @ url"/"foo@ url")
    assert [r.replace(" @ ", "@").replace("@ ", "@") for r in reqs] == [
        e.replace(" @ ", "@").replace("@ ", "@") for e in expected
    ]
    assert warnings == []


@pytest.mark.parametrize(
    ("command", "warning"),
    [
        ("pip3 install -r requirements.txt", "-r requirements.txt"),
        ("pip install -qr req.txt", "-r req.txt"),
        ("pip install --requirement=req.txt", "-r req.txt"),
        ("pip install git+https://github.com/x/y.git", "git+https://github.com/x/y.git"),
        ("pip install https://x.org/a-1.0.tar.gz", "https://x.org/a-1.0.tar.gz"),
        ("pip install ./local.whl", "./local.whl"),
        ("pip install dist/a-1.0-py3-none-any.whl", "dist/a-1.0-py3-none-any.whl"),
        ("pip install -e .", "-e ."),
        ("pip install --editable ../lib", "-e ../lib"),
        ("pip install .", "."),
        ("conda install -y numpy", "conda"),
        ("mamba install numpy", "conda"),
        ("apt-get install -y libgl1", "system packages"),
        ("pip uninstall -y x", "uninstall"),
        ("pip install {package}", "variable"),
        ("pip install $PKG", "variable"),
        ("pip install 'x[=='", "not a valid requirement"),
        ("pip install 'unbalanced", "not a valid requirement"),
    ],
)
def test_parse_pip_command_warnings(command, warning):
    reqs, warnings = parse_pip_command(command)
    assert reqs == []
    assert len(warnings) == 1 and warning in warnings[0]


def test_unquoted_specifier_is_kept_with_a_warning():
    # a shell reads `>=2` as a redirection; the intent is clear, so keep it and say so
    reqs, warnings = parse_pip_command("pip install pandas>=2 'numpy<3'")
    assert reqs == ["pandas>=2", "numpy<3"]
    assert len(warnings) == 1 and warnings[0].startswith("pandas>=2: unquoted")


def test_parse_pip_command_mixes_requirements_and_warnings():
    reqs, warnings = parse_pip_command("pip install -r req.txt a -e . b && conda install c")
    assert reqs == ["a", "b"]
    assert len(warnings) == 3


# --------------------------------------------------------------------------- infer with pip


def test_pip_specifier_kept_and_installed_recorded():
    reqs = by_name(infer([], ["pip install -q 'pandas>=2' xgboost==1.2.0"]))
    assert reqs["pandas"].specifier == ">=2"
    assert reqs["pandas"].installed == metadata.version("pandas")
    assert reqs["pandas"].source == "pip"
    assert reqs["xgboost"].specifier == "==1.2.0"


def test_pip_without_specifier_pins_to_installed():
    (req,) = infer([], ["pip install numpy"])
    assert req.specifier == "==" + norm(metadata.version("numpy"))
    assert req.source == "pip"


def test_pip_specifier_not_satisfied_by_installed_is_noted():
    (req,) = infer([], ["pip install 'numpy<1'"])
    assert req.specifier == "<1" and "does not satisfy" in req.note


def test_import_and_pip_merge_and_pip_wins():
    reqs = infer(["sklearn", "numpy"], ["pip install 'scikit-learn>=1'"])
    assert [r.name for r in reqs] == ["numpy", "scikit-learn"]
    sk = by_name(reqs)["scikit-learn"]
    assert sk.specifier == ">=1"
    assert sk.modules == ("sklearn",)
    assert sk.source == "pip"
    assert sk.installed == metadata.version("scikit-learn")


def test_pip_name_spelling_is_normalized_when_installed():
    (req,) = infer(["sklearn"], ["pip install Scikit_Learn==1.0"])
    assert (req.name, req.specifier, req.modules) == ("scikit-learn", "==1.0", ("sklearn",))


def test_pip_alternative_distribution_claims_the_import():
    if "cv2" in metadata.packages_distributions():
        pytest.skip("OpenCV is installed here")
    (req,) = infer(["cv2"], ["pip install opencv-python-headless==4.10.0.84"])
    assert req.line() == "opencv-python-headless==4.10.0.84"
    assert req.modules == ("cv2",)


def test_not_installed_pip_requirement():
    (req,) = infer(["xgboost"], ["pip install xgboost"])
    if req.installed is None:
        assert req.specifier == "" and "not installed" in req.note
    assert req.modules == ("xgboost",)


def test_later_pip_line_wins_with_warning():
    reqs = infer([], ["pip install 'pandas==1.5'", "pip install 'pandas>=2'"])
    assert [r.line() for r in reqs] == ["pandas>=2"]
    assert any("installed twice" in w for w in reqs.warnings)


def test_packaging_tools_dropped():
    reqs = infer([], ["pip install -U pip setuptools wheel numpy"])
    assert [r.name for r in reqs] == ["numpy"]
    assert len(reqs.warnings) == 3


def test_setuptools_kept_when_imported():
    reqs = infer(["pkg_resources"], ["pip install -U setuptools"])
    assert [r.name for r in reqs] == ["setuptools"]
    assert reqs[0].modules == ("pkg_resources",)


def test_extras_and_markers_survive():
    reqs = by_name(
        infer(
            ["requests"],
            [
                "pip install 'requests[socks]>=2; python_version >= \"3.8\"'",
                "pip install 'surely-not-installed-xyz[a,b]'",
            ],
        )
    )
    r = reqs["requests"]
    assert r.extras == ("socks",)
    assert r.marker == 'python_version >= "3.8"'
    assert r.line() == 'requests[socks]>=2; python_version >= "3.8"'
    assert r.modules == ("requests",)
    assert reqs["surely-not-installed-xyz"].line() == "surely-not-installed-xyz[a,b]"


def test_direct_reference_survives():
    (req,) = infer([], ["pip install \"foo @ git+https://x.org/y.git ; python_version < '4'\""])
    assert req.specifier == "@ git+https://x.org/y.git"
    assert req.line() == 'foo @ git+https://x.org/y.git ; python_version < "4"'


def test_warnings_from_pip_lines_are_collected():
    reqs = infer([], ["pip install -r requirements.txt", "conda install numpy"])
    assert reqs == [] and len(reqs.warnings) == 2


def test_sorted_case_insensitively():
    reqs = infer(["yaml", "numpy", "PIL", "sklearn", "matplotlib"])
    names = [r.name for r in reqs]
    assert names == sorted(names, key=str.lower)
    assert {n.lower() for n in names} == {"pyyaml", "numpy", "pillow", "scikit-learn", "matplotlib"}


def test_line():
    assert Requirement("a", "==1", ("a",), "import", "1").line() == "a==1"
    assert Requirement("a", "", (), "import", None).line() == "a"
    r = Requirement("a", ">=1", (), "pip", None, extras=("x", "y"), marker='os_name == "nt"')
    assert r.line() == 'a[x,y]>=1; os_name == "nt"'


def test_every_line_is_a_valid_requirement():
    reqs = infer(
        ["sklearn", "numpy", "cv2", "google.cloud.storage", "unknown_mod", "notebook2service"],
        ["pip install 'requests[socks]>=2; python_version >= \"3.8\"' 'a @ https://x/a.whl'"],
    )
    for r in reqs:
        PEP508(r.line())


def test_iterables_and_strings_accepted():
    assert [r.name for r in infer(iter(["numpy"]), iter(()))] == ["numpy"]
    assert [r.name for r in infer("numpy", "pip install pandas")] == ["numpy", "pandas"]


# --------------------------------------------------------------------------- robustness

_text = st.text(
    alphabet=st.sampled_from(list("pipinstal -=<>[];&|'\"\\\n#{}$@./:+qrUe,0123456789xy")),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_text)
def test_parse_pip_command_never_raises(command):
    reqs, warnings = parse_pip_command(command)
    for req in reqs:
        PEP508(req)
    assert all(isinstance(w, str) for w in warnings)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=5), st.lists(_text, max_size=3))
def test_infer_never_raises(imports, commands):
    reqs = infer(imports, commands, local_modules=imports[:1])
    for r in reqs:
        r.line()


@pytest.mark.parametrize(
    ("command", "first", "expected"),
    [
        ("pip install pandas", False, True),
        ("%pip install -q 'pandas>=2'", False, True),
        ("python -m pip install xgboost", False, True),
        ("{sys.executable} -m pip install torch", False, True),
        ("uv pip install polars", False, True),
        ("sudo -H pip3 install numpy", False, True),
        ("conda install -y scipy", False, True),
        ("cd data && pip install -e .", False, True),
        ("cd data && pip install -e .", True, False),
        ("pip install x && python train.py", True, True),
        ("pip uninstall -y pandas", False, False),
        ("pip list", False, False),
        ("echo pip install pandas", False, False),
        ("apt-get install -y graphviz", False, False),
        ("ls -la", False, False),
    ],
)
def test_installs_packages_reads_the_command_like_pip(command, first, expected):
    from notebook2service.requirements import installs_packages

    assert installs_packages(command, first=first) is expected
