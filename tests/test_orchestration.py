"""Notebooks that orchestrate SageMaker: their control-plane calls never reach train.py or
serving, an SDK estimator is not taken for the model, and endpoints without cleanup are
flagged (NB207). Also checked on the corpus's SageMaker notebooks when it is present."""

import ast
import json
import os
from pathlib import Path

import pytest
from nbmake import code, notebook, write

from notebook2service.convert import ConvertError, convert
from notebook2service.linter.runner import lint_file

SCRIPT = (
    "%%writefile train.py\nimport argparse, os\nimport pandas as pd\n"
    "from sklearn.linear_model import LinearRegression\n"
    "if __name__ == '__main__':\n    df = pd.read_csv(os.environ['SM_CHANNEL_TRAIN'] + '/d.csv')\n"
)
CELLS = [
    "import sagemaker\nimport boto3\nfrom sagemaker.sklearn.estimator import SKLearn\n"
    "role = 'arn:aws:iam::123456789012:role/x'\nsm = boto3.client('sagemaker')",
    SCRIPT,
    "est = SKLearn(entry_point='train.py', role=role, instance_type='ml.m5.large', "
    "framework_version='1.2-1')\nest.fit({'train': 's3://b/train'})",
    "predictor = est.deploy(initial_instance_count=1, instance_type='ml.m5.large')\n"
    "print(predictor.predict([[1.0]]))",
]
AWS_CALLS = ("fit", "deploy", "create_training_job", "create_endpoint", "transform")


def _aws_calls(train_py: str) -> list[str]:
    tree = ast.parse(train_py)
    return [
        n.func.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        and n.func.attr in AWS_CALLS
    ]


def _codes(nb_path: Path) -> list[str]:
    return [d.code for d in lint_file(str(nb_path)).diagnostics]


def test_sdk_estimator_is_not_the_model_and_train_py_never_calls_aws(tmp_path):
    src = write(tmp_path / "orch.ipynb", notebook(*CELLS))
    result = convert(src, tmp_path / "out")
    sm = result.manifest.sagemaker
    assert sm["model"] is None and sm["training_steps"] == []
    names = [f.name for f in result.manifest.findings]
    assert "orchestration-notebook" in names
    message = next(f.message for f in result.manifest.findings
                   if f.name == "orchestration-notebook")
    assert "train.py" in message and "`est`" in message
    pkg = result.package
    assert _aws_calls((tmp_path / "out" / pkg / "train.py").read_text()) == []
    assert not (tmp_path / "out" / pkg / "serve.py").exists()


def test_boto3_control_plane_steps_are_left_out(tmp_path):
    cells = [
        "import boto3\nimport pandas as pd\nfrom sklearn.linear_model import LinearRegression",
        "df = pd.DataFrame({'a': [1, 2, 3], 'y': [2, 4, 6]})\n"
        "model = LinearRegression().fit(df[['a']], df['y'])\nprint(model.predict(df[['a']]))",
        "sm = boto3.client('sagemaker')\nsm.create_training_job(TrainingJobName='x')\n"
        "sm.create_endpoint(EndpointName='e', EndpointConfigName='c')",
    ]
    result = convert(write(tmp_path / "b.ipynb", notebook(*cells)), tmp_path / "out")
    train_py = (tmp_path / "out" / result.package / "train.py").read_text()
    assert "create_training_job" not in train_py and "create_endpoint" not in train_py
    assert result.manifest.sagemaker["model"] == "model"


def test_nb207_flags_an_endpoint_with_no_cleanup(tmp_path):
    flagged = write(tmp_path / "a.ipynb", notebook(*CELLS))
    assert "NB207" in _codes(flagged)
    cleaned = write(tmp_path / "b.ipynb",
                    notebook(*CELLS, code("predictor.delete_endpoint()")))
    assert "NB207" not in _codes(cleaned)
    boto = write(tmp_path / "c.ipynb", notebook(
        "import boto3\nsm = boto3.client('sagemaker')\n"
        "sm.create_endpoint(EndpointName='e', EndpointConfigName='c')"))
    assert "NB207" in _codes(boto)
    plain = write(tmp_path / "d.ipynb", notebook(
        "from sklearn.linear_model import LinearRegression\n"
        "m = LinearRegression().fit([[1]], [1])\nm.predict([[1]])"))
    assert "NB207" not in _codes(plain)


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS = CORPUS if CORPUS.is_dir() else Path("/work/shared/corpus")
CLOUD = ("sagemaker", "azureml", "azure.ai.ml", "aiplatform", "vertexai")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_corpus_orchestration_notebooks_never_train_through_the_control_plane(tmp_path):
    """Cloud-ML notebooks of the corpus: no training step train.py runs holds a control-plane
    call (SageMaker, and the Azure ML / Vertex AI SDKs the corpus actually has)."""
    from notebook2service import dataflow
    from notebook2service.notebook import load
    from notebook2service.sagemaker.orchestration import control_calls, orchestration_cells

    if not CORPUS.is_dir():
        pytest.skip("no corpus here")
    notebooks = [p for p in sorted(CORPUS.rglob("*.ipynb"))
                 if any(w in p.read_text(errors="replace") for w in CLOUD)]
    if not notebooks:
        pytest.skip("no cloud-ML notebooks in the corpus")
    if os.environ.get("NB2SVC_CORPUS_ALL") != "1":
        notebooks = notebooks[::4]  # every 4th: CI time; NB2SVC_CORPUS_ALL=1 checks them all
    converted, with_calls, offenders = 0, 0, []
    for i, nb in enumerate(notebooks):
        try:
            result = convert(nb, tmp_path / f"o{i}", write=False)
        except ConvertError:
            continue
        converted += 1
        cells = orchestration_cells(control_calls(dataflow.analyze(load(nb))))
        with_calls += bool(cells)
        steps = {s["function"]: set(s["cells"]) for s in result.manifest.steps}
        for name in result.manifest.sagemaker["training_steps"]:
            if steps.get(name, set()) & cells:
                offenders.append((nb.name, name))
    print(json.dumps({"cloud_notebooks": len(notebooks), "converted": converted,
                      "with_control_plane_calls": with_calls}))
    assert converted and with_calls and offenders == []
