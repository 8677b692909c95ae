"""Readable steps: names from headings or code, long runs of cells split at natural
boundaries, few returns per step, and the package still printing what the notebook printed."""

import json
import keyword
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbmake import md, notebook, run_package, write

from notebook2service.convert import convert
from notebook2service.lift import names, split

REPO = Path(__file__).resolve().parents[1]
CORPUS = next(
    (
        p
        for p in [Path(os.environ.get("NB2SVC_CORPUS", "/nonexistent"))]
        + [q / "shared" / "corpus" for q in REPO.parents[:2]]
        if p.is_dir()
    ),
    Path("/nonexistent"),
)


@pytest.mark.parametrize(
    ("heading", "name"),
    [
        ("Review parameter tuning using the SageMaker console", "review_parameter_tuning"),
        ("Using best parameters, make predictions", "make_predictions"),
        ("Splitting X, y into train and test sets", "split_x_y"),
        ('Batch Transform <a class="anchor" id="batch"></a>', "batch_transform"),
        ('Deploy model <a name="deploythemodel"></a>', "deploy_model"),
        ("Step 2: Train the model", "train_model"),
        ("1.2 Data loading", "load_data"),
        ("[Load](http://example.com/x) the **data**", "load_data"),
        ("Fitting a `LinearRegression`", "fit_linear_regression"),
        ("Hyperparameter tuning", "tune_hyperparameter"),
        ("First Step and its wires", "step_and_wires"),
        ("Prepare the data for", "prepare_data"),
        ("2.b. Submit the script", "submit_script"),
        ("(c) Get run history", "get_run_history"),
        ("Deploy prebuilt Llama 3.1 8B", "deploy_prebuilt_llama"),
        ("Batch predictions", "predict_batch"),
        ("数据", ""),
    ],
)
def test_heading_names_read_as_what_the_step_does(heading, name):
    assert names.from_heading(heading) == name


def test_cut_at_word_boundary_without_dangling_words():
    name = names.from_heading("Train a very large model with many layers on the data")
    assert name == "train_very_large_model"
    # a cut falls before a preposition, never after it
    assert names.cut("split x y into train test sets".split(), 4) == ["split", "x", "y"]


def _cells(tmp_path, *cells):
    src = write(tmp_path / "n.ipynb", notebook(*cells))
    result = convert(src, tmp_path / "out", force=True)
    return result, [(s["function"], s["cells"], s["returns"]) for s in result.manifest.steps]


def test_names_from_code_without_headings(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    _, steps = _cells(
        tmp_path,
        "import pandas as pd\ndf = pd.read_csv('d.csv')",
        "from sklearn.linear_model import LinearRegression\n"
        "model = LinearRegression()\nmodel.fit(df[['a']], df['b'])",
        "print(model.predict(df[['a']]))",
    )
    got = [n for n, _, _ in steps]
    assert got[:2] == ["load_df", "fit_model"]
    assert not any(n.startswith("step_") for n in got)
    assert all(n.isidentifier() and not keyword.iskeyword(n) for n in got)


def test_names_are_unique_stable_and_never_shadow(tmp_path):
    cells = [md("# Load data"), "x = 1", md("# Load data"), "y = x + 1", "print(y)"]
    _, first = _cells(tmp_path, *cells)
    _, again = _cells(tmp_path, *cells)
    assert first == again  # same notebook, same names
    got = [n for n, _, _ in first]
    assert len(set(got)) == len(got) and "load_data" in got
    # a step is never named like a variable the notebook uses
    _, steps = _cells(tmp_path, md("# Load data"), "load_data = 3\nprint(load_data)")
    assert steps[0][0] != "load_data"


LONG_SECTION = [
    md("# Everything"),
    "import numpy as np\nrng = np.random.default_rng(0)",
    "a = rng.normal(size=(40, 3))\nb = a @ np.array([1.0, 2.0, 3.0])\nc = 1\nd = 2\ne = 3",
    "from sklearn.model_selection import train_test_split\n"
    "a_tr, a_te, b_tr, b_te = train_test_split(a, b, random_state=0)",
    "from sklearn.linear_model import LinearRegression\nm = LinearRegression().fit(a_tr, b_tr)",
    "from sklearn.metrics import r2_score\nscore = r2_score(b_te, m.predict(a_te))",
    "print(round(score, 6), c + d + e)",
    "f = len(a) - 39\ng = f + 1\nh = g + 1\nk = h + 1\nl5 = k + 1\nq = l5 + 1",
    "print(f + g + h + k + l5 + q, score > 0.9)",
]


def test_long_section_split_at_stages_with_few_returns(tmp_path):
    result, steps = _cells(tmp_path, *LONG_SECTION)
    assert len(steps) >= 3
    cells = [c for _, cs, _ in steps for c in cs]
    assert cells == sorted(cells)  # in order; a cell cut between statements: adjacent steps
    assert all(
        a[1][-1] == b[1][0] for a, b in zip(steps, steps[1:], strict=False) if a[1][-1] in b[1]
    )
    assert all(len(r) <= split.MAX_RETURNS for _, _, r in steps[:-1])
    fit = next(s for s in steps if 5 in s[1])
    assert 6 not in fit[1]  # the evaluation after the fit is a step of its own
    proc = run_package(tmp_path / "out", result.package, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1] == "21 True"
    line_map = result.manifest.line_map["pipeline.py"]
    assert sorted({r["cell"] for r in line_map}) == sorted(set(cells))


def test_short_groups_are_not_split_without_cause(tmp_path):
    _, steps = _cells(tmp_path, md("# Setup"), "x = [1, 2]", "y = sum(x)", "print(y)")
    assert len(steps) == 1


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="no corpus next to the repository")
def test_corpus_notebook_names_have_no_markup():
    paths = sorted(CORPUS.rglob("*.ipynb"))[::60]
    for p in paths:
        try:
            result = convert(p, None, write=False)
        except Exception as exc:  # noqa: BLE001 - unreadable corpus notebooks are not ours
            if type(exc).__name__ == "ConvertError":
                continue
            raise
        for s in result.manifest.steps:
            name = s["function"]
            assert name.isidentifier() and not keyword.iskeyword(name), (p, name)
            assert not any(w in name.split("_") for w in ("anchor", "href", "http", "https")), (
                p,
                name,
            )
            assert name.split("_")[-1] not in {"to", "for", "with", "into", "the", "a", "of"}
    json.dumps(result.manifest.to_dict(), default=str)


TRAIN_THEN_SEARCH = [
    md("# Model"),
    "import numpy as np\nfrom sklearn.linear_model import Ridge\n"
    "from sklearn.model_selection import RandomizedSearchCV\n"
    "X = np.arange(40.0).reshape(20, 2)\ny = X @ np.array([1.0, 2.0])",
    "model = Ridge(alpha=1.0)\nmodel.fit(X, y)",
    "print(round(model.score(X, y), 3))",
    "for seed in range(20):\n"
    "    s = RandomizedSearchCV(model, {'alpha': [0.1, 1.0]}, n_iter=2, random_state=seed)\n"
    "    s.fit(X, y)",
    "print(s.best_params_)",
]


def test_training_slice_leaves_out_costly_evaluation(tmp_path):
    result, steps = _cells(tmp_path, *TRAIN_THEN_SEARCH)
    sm = result.manifest.sagemaker
    assert sm["model"] == "model"
    train_cells = {c for n, cs, _ in steps if n in sm["training_steps"] for c in cs}
    assert {2, 3} <= train_cells  # the data and the fit
    assert 5 not in train_cells and 6 not in train_cells  # the 20 searches are not training's
    # a score only printed gives train.py nothing (no metric value): not training's either
    assert 4 not in train_cells


def test_costly_cells_between_training_cells_get_steps_of_their_own(tmp_path):
    data, search, fit = TRAIN_THEN_SEARCH[1], TRAIN_THEN_SEARCH[4], TRAIN_THEN_SEARCH[2]
    search = search.replace("RandomizedSearchCV(model", "RandomizedSearchCV(Ridge()")
    result, steps = _cells(tmp_path, md("# Model"), data, search, fit)
    sm = result.manifest.sagemaker
    train_cells = {c for n, cs, _ in steps if n in sm["training_steps"] for c in cs}
    assert train_cells == {2, 4}


def test_returns_only_names_the_step_binds(tmp_path):
    result, steps = _cells(
        tmp_path,
        md("# Data"),
        "import numpy as np\nX = np.arange(20.0).reshape(10, 2)\ny = X.sum(axis=1)",
        md("# Fit"),
        "from sklearn.linear_model import Ridge\nmodel = Ridge().fit(X, y)",
        "print(round(float(model.predict(X[:1])[0]), 3))",
    )
    fit = next(s for s in steps if 4 in s[1])
    assert "X" not in fit[2] and "y" not in fit[2]  # read, not changed: not returned
    assert "model" in fit[2]


def test_model_defaults_to_the_estimator_the_notebook_saves(tmp_path):
    result, _ = _cells(
        tmp_path,
        "import joblib\nimport numpy as np\nfrom sklearn.linear_model import Ridge, Lasso\n"
        "X = np.arange(20.0).reshape(10, 2)\ny = X.sum(axis=1)",
        "kept = Ridge().fit(X, y)\njoblib.dump(kept, 'model.joblib')",
        "other = Lasso().fit(X, y)\nprint(other.predict(X[:1]), kept.predict(X[:1]))",
    )
    assert result.manifest.sagemaker["model"] == "kept"


def test_channel_reads_the_file_the_notebook_read(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "data" / "other.csv").write_text("a,b\n9,9\n")
    result, _ = _cells(
        tmp_path,
        "import pandas as pd\ndf = pd.read_csv('data/train.csv')\nprint(len(df))",
    )
    code = (
        "import os, sys, pandas as pd\n"
        "from nb2svc_runtime.notebook import read_channel\n"
        "os.environ['SM_CHANNEL_TRAIN'] = sys.argv[1]\n"
        "print(len(read_channel(pd.read_csv, 'train', 'data/train.csv')))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "out"))
    run = [sys.executable, "-c", code]
    # `--data train=data/`: the folder holds the notebook's file and another one
    proc = subprocess.run([*run, str(tmp_path / "data")], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"
    # sharded parts without the notebook's name are read together
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "part-0.csv").write_text("a,b\n1,2\n")
    (shards / "part-1.csv").write_text("a,b\n3,4\n5,6\n")
    proc = subprocess.run([*run, str(shards)], env=env, capture_output=True, text=True)
    assert proc.stdout.strip() == "3", proc.stderr


def test_comments_stay_with_the_code_they_describe(tmp_path):
    src = write(
        tmp_path / "n.ipynb",
        notebook(
            "x = [3, 1, 2]\n"
            "# sort the values\n"
            "import heapq\n"
            "# the imports for copying\n"
            "import copy\n"
            "y = sorted(copy.copy(x))\n"
            "print(heapq.nsmallest(1, y))"
        ),
    )
    result = convert(src, tmp_path / "out", force=True)
    pipeline = result.files[f"{result.package}/pipeline.py"]
    lines = [ln.strip() for ln in pipeline.splitlines()]
    at = lines.index("# sort the values")
    assert lines[at + 1] == "y = sorted(copy.copy(x))"  # with its code, not the import
    assert "# the imports for copying" in lines  # nothing lost


CONSTANTS = [
    md("# Define constants"),
    "import os\n"
    "DATA_DIR = 'data'\n"
    "# where the training rows are\n"
    "TRAIN_PATH = os.path.join(DATA_DIR, 'train.csv')\n"
    "TEST_PATH = f'{DATA_DIR}/test.csv'\n"
    "EPOCHS = 3\nRATE = 0.5\nSEED = 42\nTAG = 'Model-A'.lower()\nSIZES = (1, 2)\n"
    "COLUMNS = ['a', 'b']\n"  # mutable: stays in its step
    "stamp = len(os.sep)\n"  # a call: stays
    "print(TRAIN_PATH)",
    md("# Train"),
    "total = EPOCHS * RATE + stamp\nprint(total, TEST_PATH, SEED, TAG, SIZES, COLUMNS)",
    md("# Report"),
    "def describe():\n    return f'{TAG}:{EPOCHS}'\nprint(describe(), total)",
]


def test_constants_move_to_module_level_not_returns(tmp_path):
    result, steps = _cells(tmp_path, *CONSTANTS)
    first = steps[0]
    assert set(first[2]) == {"COLUMNS", "stamp"}  # the constants are not returned
    pipeline = (tmp_path / "out" / result.package / "pipeline.py").read_text()
    module = (tmp_path / "out" / result.package / "model_code.py").read_text()
    # constants a moved function reads go with it to model_code.py; the rest stay in pipeline.py
    assert "TAG = " in module and "EPOCHS = " in module
    assert "# where the training rows are\nTRAIN_PATH = os.path.join" in module + pipeline
    assert "global" not in pipeline
    code = (
        f"from {result.package}.pipeline import run\n"
        "ns = run()\nprint(ns['EPOCHS'], ns['TEST_PATH'], ns['total'])"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "out"))
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "data/train.csv",
        "2.5 data/test.csv 42 model-a (1, 2) ['a', 'b']",
        "model-a:3 2.5",
        "3 data/test.csv 2.5",
    ]


def test_a_name_bound_twice_or_mutated_is_no_constant(tmp_path):
    _, steps = _cells(
        tmp_path,
        md("# Setup"),
        "A = 1\nB = 2\nC = 3\nD = 4\nE = 5\nF = 6\nG = (1,)",
        md("# Use"),
        "B = B + 1\nprint(A + B + C + D + E + F, G)",
        md("# Again"),
        "print(B, C)",
    )
    setup = steps[0]
    assert setup[2] == ["B"]  # rebound later: a value of the run, not a constant
    _, steps = _cells(
        tmp_path,
        md("# Setup"),
        "H = 1\nfor H in range(3):\n    pass\nK = 2\nwith open('n.ipynb') as K:\n    pass",
        md("# Use"),
        "print(H, K.closed)",
    )
    assert set(steps[0][2]) == {"H", "K"}  # rebound in their own cell: not constants


SETUP_CELL = [
    md("# Before you begin"),
    "import os\n"
    "# the project\n"
    "project = os.environ.get('NB2SVC_TEST_PROJECT', 'p1')\n"
    "region = project + '-r'\n"
    "bucket = f'gs://{project}'\n"
    "staging = bucket + '/tmp'\n"
    "print('setup', project)\n"
    "models, endpoints = {}, {}\n"
    "account = project.upper()\n"
    "zone = region + '-a'\n"
    "labels = {'p': project}\n"
    "# the end of setup",
    md("# Deploy"),
    "models['a'] = 1\n"
    "print(project, region, bucket, staging, account, zone, labels, models, endpoints)",
]


def test_a_long_cell_is_cut_between_statements(tmp_path):
    result, steps = _cells(tmp_path, *SETUP_CELL)
    setup = [s for s in steps if s[1] == [2]]
    assert len(setup) >= 2  # one cell, several steps
    assert all(len(r) <= split.MAX_RETURNS for _, _, r in steps[:-1])
    pipeline = (tmp_path / "out" / result.package / "pipeline.py").read_text()
    assert pipeline.count("# cell 2\n") == len(setup)  # every part says which cell it is
    assert "— cell 2 up to line " in pipeline and "— cell 2 from line " in pipeline
    # the statements in notebook order, comments with the code they describe
    order = [
        "# the project\n    project =",
        "region =",
        "print(",
        "models, endpoints =",
        "labels =",
        "# the end of setup",
    ]
    at = [pipeline.index(s) for s in order]
    assert at == sorted(at)
    lines = pipeline.splitlines()
    cells = {
        r["cell"]
        for r in result.manifest.line_map["pipeline.py"]
        for n in range(r["start"], r["end"] + 1)
        if "zone =" in lines[n - 1] or "project =" in lines[n - 1]
    }
    assert cells == {2}  # both parts map back to cell 2
    proc = run_package(tmp_path / "out", result.package, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "setup p1",
        "p1 p1-r gs://p1 gs://p1/tmp P1 p1-r-a {'p': 'p1'} {'a': 1} {}",
    ]


def test_a_concatenated_string_is_constant_only_when_every_part_is():
    import libcst as cst

    from notebook2service.lift.constants import STR, kind_of

    def kind(src, known=None):
        return kind_of(cst.parse_expression(src), known or {}, os_module=True)

    assert kind('"a" "b"') == STR
    assert kind('f"{x}" "b"') is None  # `x` is no constant: the string is not either
    assert kind('f"{x}" "b"', {"x": STR}) == STR
    assert kind('os.path.join("a", X)', {"X": STR}) == STR
    assert kind("os.getcwd()") is None and kind("[1, 2]") is None and kind("X[0]") is None


def test_a_part_never_loses_a_statement_rewritten_after_the_cut():
    import libcst as cst

    from notebook2service.lift import pieces
    from notebook2service.lift.build import split_cell

    c = split_cell(2, "cell 2", "a = 1\nb = a + 1\nc = b + 1\nd = c + 1\n")
    c.lines = [1, 2, 3, 4]
    new = cst.parse_statement("c = prepare(b)\n")
    c.body = [new if s is c.body[2] else s for s in c.body]  # as features.extract does
    first = pieces.statements(c, (0, 3))
    second = pieces.statements(c, (3, pieces.END))
    assert [*first, *second] == c.body  # every statement in exactly one part, in order


def test_a_cut_cell_keeps_its_parts_when_data_reads_become_channels(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    cell = (
        "import pandas as pd\ndf = pd.read_csv('d.csv')\n"
        + "".join(f"v{k} = len(df) + {k}\n" for k in range(12))
        + "print(v0)"
    )
    uses = "print(" + " + ".join(f"v{k}" for k in range(12)) + ")"
    result, steps = _cells(tmp_path, md("# Load"), cell, md("# Use"), uses)
    assert len([s for s in steps if s[1] == [2]]) >= 2  # the cell is cut
    assert "read_channel(" in (tmp_path / "out" / result.package / "pipeline.py").read_text()
    proc = run_package(tmp_path / "out", result.package, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["2", str(sum(2 + k for k in range(12)))]
