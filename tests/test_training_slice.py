"""The training entrypoint's slice at statement level (sagemaker/slice.py): `train` runs
only the statements the saved model needs, and the same model comes out."""

import ast
import json
import os
import subprocess
import sys

from nbmake import md, notebook, write

from notebook2service.convert import convert
from notebook2service.dataflow import analyze
from notebook2service.notebook import from_dict
from notebook2service.sagemaker.slice import backward, flow_statements


def _kept(*cells: str, wanted: set[str]) -> list[str]:
    """The statements (their code) `wanted` at the end of the notebook depends on."""
    stmts = flow_statements(analyze(from_dict(notebook(*cells))))
    return [ast.unparse(stmts[k].facts.nodes[0]) for k in backward(stmts, wanted)]


def test_evaluation_in_the_fit_cell_is_dropped_its_inputs_kept():
    kept = _kept(
        "import numpy as np\nfrom sklearn.linear_model import Ridge\n"
        "from sklearn.model_selection import RandomizedSearchCV, cross_val_score",
        "np.random.seed(0)\nX = np.random.rand(20, 2)\ny = X.sum(axis=1)\nunused = X * 2",
        "model = Ridge()\nmodel.fit(X, y)\nprint(cross_val_score(model, X, y))\n"
        "s = RandomizedSearchCV(model, {'alpha': [1.0]}, n_iter=1)\ns.fit(X, y)\nmodel",
        wanted={"model"},
    )
    assert "model.fit(X, y)" in kept and "np.random.seed(0)" in kept
    assert "y = X.sum(axis=1)" in kept and "unused = X * 2" not in kept
    code = [k for k in kept if "import" not in k]
    assert not any("cross_val_score(" in k or "s.fit" in k or "Randomized" in k for k in code)
    assert "model" not in kept  # the displayed last expression


def test_changes_through_containers_views_and_functions_are_kept():
    kept = _kept(
        "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import "
        "StandardScaler\nfrom sklearn.linear_model import Ridge\nimport pandas as pd",
        "df = pd.DataFrame({'a': [1.0, None, 3.0], 'b': [1.0, 2.0, 3.0]})\n"
        "df.dropna(inplace=True)\ndf['c'] = df['a'] * 2\ndf.describe()",
        "def add_col(frame):\n    frame['d'] = 1\n",
        "def show(frame):\n    print(frame.shape)\n",
        "add_col(df)\nshow(df)",
        "clf = Ridge()\npipe = make_pipeline(StandardScaler(), clf)\n"
        "pipe.fit(df[['a', 'c', 'd']], df['b'])",
        wanted={"clf"},  # fitted through the pipeline that holds it
    )
    for needed in ("df.dropna(inplace=True)", "df['c'] = df['a'] * 2", "add_col(df)"):
        assert needed in kept
    assert "pipe.fit(df[['a', 'c', 'd']], df['b'])" in kept
    assert "show(df)" not in kept and "df.describe()" not in kept


def test_side_effects_a_model_may_depend_on_are_pinned():
    kept = _kept(
        "import os\nimport numpy as np\nimport torch",
        "os.environ['PYTHONHASHSEED'] = '0'\nos.makedirs('out', exist_ok=True)",
        "with open('out/cfg.json', 'w') as f:\n    f.write('{}')",
        "np.random.seed(1)\nnoise = np.random.rand()\nprint(noise)",
        "model = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "loss = model(torch.ones(2)).sum()\nloss.backward()\nopt.step()",
        "from sklearn.ensemble import RandomForestRegressor\nrf = RandomForestRegressor()\n"
        "rf.fit([[0], [1]], [0, 1])",
        wanted={"model", "rf"},
    )
    assert "os.environ['PYTHONHASHSEED'] = '0'" in kept
    assert any(k.startswith("with open(") for k in kept)
    # a draw from the global random state between the seed and the fit changes the state
    # the model's training may start from
    assert "noise = np.random.rand()" in kept and "print(noise)" not in kept
    assert "loss.backward()" in kept and "opt.step()" in kept  # they change model


FIT_AND_SEARCH = [
    md("# Data"),
    "import numpy as np\nimport pandas as pd\nfrom sklearn.ensemble import RandomForestRegressor\n"
    "from sklearn.model_selection import RandomizedSearchCV, cross_val_score\n"
    "from sklearn.metrics import r2_score",
    "np.random.seed(0)\ndf = pd.DataFrame(np.random.rand(60, 3), columns=list('abc'))\n"
    "df.loc[3, 'a'] = None\ndf.dropna(inplace=True)\ndf['y'] = df.a + 2 * df.b\n"
    "X, y = df[['a', 'b', 'c']], df['y']",
    md("# Model"),
    "model = RandomForestRegressor(n_estimators=20, random_state=0)\nmodel.fit(X, y)\n"
    "print('cv', cross_val_score(model, X, y, cv=3).round(3))\n"
    "for seed in range(20):\n"
    "    search = RandomizedSearchCV(RandomForestRegressor(n_estimators=5), {'max_depth': [2, 3]},\n"
    "                                n_iter=2, cv=2, random_state=seed)\n"
    "    search.fit(X, y)\n"
    "r2 = r2_score(y, model.predict(X))\nprint(search.best_params_, r2)",
    "print(r2)",
]


def _python(args, env, cwd):
    """`python ARGS` in `cwd`, bounded in time, its output captured."""
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_train_runs_only_what_the_model_needs_and_saves_the_same_model(tmp_path):
    out = tmp_path / "out"
    result = convert(write(tmp_path / "fit.ipynb", notebook(*FIT_AND_SEARCH)), out)
    assert result.manifest.sagemaker["model"] == "model"
    part = (out / "fit" / "training_steps.py").read_text()
    assert "model.fit(X, y)" in part
    assert "RandomizedSearchCV(" not in part.split("import *")[1]
    assert "cross_val_score(" not in part and "print(" not in part
    pipeline = (out / "fit" / "pipeline.py").read_text()
    assert "search.fit(X, y)" in pipeline  # the package still runs the whole notebook
    train_py = (out / "fit" / "train.py").read_text()
    # the data step (seed, dropna, a new column) runs whole: pipeline.py's own function
    assert "Step('data', [], ['X', 'y'])," in train_py
    assert "Step('model_step', ['X', 'y'], ['model'], training_steps)," in train_py
    base = tmp_path / "ml"
    (base / "input" / "config").mkdir(parents=True)
    (base / "input" / "config" / "hyperparameters.json").write_text("{}")
    env = dict(os.environ, SAGEMAKER_BASE_DIR=str(base), MPLBACKEND="Agg", PYTHONPATH=str(out))
    proc = _python([str(out / "bin" / "train"), "train"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "cv" not in proc.stdout  # the notebook's evaluation did not run
    probe = (
        "import json, sys\nfrom nb2svc_runtime.model_io import load_model\nfrom fit import pipeline\n"
        "ns = pipeline.run()\nsaved = load_model(sys.argv[1])[0]\n"
        "print(json.dumps([saved.predict(ns['X']).tolist(), ns['model'].predict(ns['X']).tolist()]))"
    )
    proc = _python(["-c", probe, str(base / "model")], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    trained, notebook_model = json.loads(proc.stdout.strip().splitlines()[-1])
    assert trained == notebook_model  # the same model as the whole notebook's
