"""deploy.py on boto3: every call checked against botocore's real service models (Stubber
validates each request's parameters before answering), and the whole flow end to end on moto.
No SageMaker SDK is imported (it is hidden from sys.modules while deploy.py runs)."""

import base64
import importlib.util
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.stub import ANY, Stubber  # noqa: E402

from notebook2service.convert import convert  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "sample_notebooks"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/house:latest"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def deploy_module(tmp_path_factory):
    out = tmp_path_factory.mktemp("deploy") / "out"
    convert(SAMPLES / "house_prices_regression.ipynb", out)
    spec = importlib.util.spec_from_file_location("deploy_under_test", out / "deploy.py")
    module = importlib.util.module_from_spec(spec)
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] == "sagemaker"}
    sys.modules["sagemaker"] = None  # any `import sagemaker` in deploy.py fails loudly
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["sagemaker"]
        sys.modules.update(saved)


def _clients(*names):
    return {
        n: boto3.client(n, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")
        for n in names
    }


class Stubs:
    """Stubbers for the clients a command uses; counts every stubbed (validated) call."""

    calls = 0

    def __init__(self, clients):
        self.stubs = {n: Stubber(c) for n, c in clients.items()}

    def add(self, service, method, response, params=None):
        self.stubs[service].add_response(method, response, params)
        Stubs.calls += 1

    def __enter__(self):
        for s in self.stubs.values():
            s.activate()
        return self

    def __exit__(self, *exc):
        for s in self.stubs.values():
            s.deactivate()
        if exc[0] is None:
            for s in self.stubs.values():
                s.assert_no_pending_responses()


def _deployer(mod, clients, tmp_path, lines=None):
    state = mod.State(tmp_path / "state.json")
    return mod.Deployer(clients=clients, state=state, out=(lines if lines is not None else []).append, poll_seconds=0)


def test_train_stubbed_with_log_stream(deploy_module, tmp_path):
    mod, clients = deploy_module, _clients("sagemaker", "logs")
    lines = []
    d = _deployer(mod, clients, tmp_path, lines)
    request = mod.training_job_request("job-1", IMAGE, ROLE, {"train": "s3://b/train/"},
                                       "s3://b/out", hyperparameters={"alpha": 0.5})
    assert request["HyperParameters"] == {"alpha": "0.5"}
    with Stubs(clients) as s:
        s.add("sagemaker", "create_training_job", {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1"}, request)
        describe = {
            "TrainingJobName": "job-1",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1",
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/out/job-1/output/model.tar.gz"},
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "ResourceConfig": {"VolumeSizeInGB": 30},
            "StoppingCondition": {},
            "CreationTime": NOW,
        }
        s.add("sagemaker", "describe_training_job", describe, {"TrainingJobName": "job-1"})
        stream = {"logStreamName": "job-1/algo-1-123"}
        for token in (None, "f1"):
            s.add("logs", "describe_log_streams", {"logStreams": [stream]},
                  {"logGroupName": mod.TRAINING_LOG_GROUP, "logStreamNamePrefix": "job-1/"})
            params = {"logGroupName": mod.TRAINING_LOG_GROUP, "logStreamName": stream["logStreamName"],
                      "startFromHead": True, **({"nextToken": token} if token else {})}
            events = [{"message": "training: rmse 0.4", "timestamp": 1}] if not token else []
            s.add("logs", "get_log_events", {"events": events, "nextForwardToken": "f1"}, params)
        name, artifacts = d.train(IMAGE, ROLE, {"train": "s3://b/train/"}, "s3://b/out",
                                  name="job-1", hyperparameters={"alpha": 0.5})
    assert artifacts.endswith("model.tar.gz")
    assert "[job-1/algo-1-123] training: rmse 0.4" in lines
    assert d.state.items("training_jobs") == ["job-1"]


def test_deploy_autoscaling_transform_and_delete_stubbed(deploy_module, tmp_path):
    mod = deploy_module
    clients = _clients("sagemaker", "application-autoscaling")
    d = _deployer(mod, clients, tmp_path)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:{}/{}"
    with Stubs(clients) as s:
        s.add("sagemaker", "create_model", {"ModelArn": arn.format("model", "m")},
              {"ModelName": ANY, "ExecutionRoleArn": ROLE,
               "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz"}})
        s.add("sagemaker", "create_endpoint_config", {"EndpointConfigArn": arn.format("endpoint-config", "c")})
        s.add("sagemaker", "create_endpoint", {"EndpointArn": arn.format("endpoint", "ep")},
              {"EndpointName": "ep", "EndpointConfigName": ANY})
        s.add("sagemaker", "describe_endpoint", {
            "EndpointName": "ep", "EndpointArn": arn.format("endpoint", "ep"),
            "EndpointStatus": "InService", "CreationTime": NOW, "LastModifiedTime": NOW,
        }, {"EndpointName": "ep"})
        register, policy = mod.autoscaling_requests("ep", minimum=1, maximum=3)
        assert (policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
                ["PredefinedMetricType"]) == "SageMakerVariantInvocationsPerInstance"
        s.add("application-autoscaling", "register_scalable_target", {}, register)
        s.add("application-autoscaling", "put_scaling_policy",
              {"PolicyARN": "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x"}, policy)
        assert d.deploy(IMAGE, ROLE, "s3://b/model.tar.gz", "ep", maximum=3) == "ep"

        s.add("sagemaker", "create_model", {"ModelArn": arn.format("model", "m2")})
        request = mod.transform_job_request("t", "m2", "s3://b/in/", "s3://b/out/")
        assert request["TransformInput"]["SplitType"] == "Line"
        assert request["BatchStrategy"] == "MultiRecord"
        assert request["TransformOutput"]["AssembleWith"] == "Line"
        expected = dict(request, TransformJobName=ANY, ModelName=ANY)
        s.add("sagemaker", "create_transform_job", {"TransformJobArn": arn.format("transform-job", "t")}, expected)
        s.add("sagemaker", "describe_transform_job", {
            "TransformJobName": "t", "TransformJobArn": arn.format("transform-job", "t"),
            "TransformJobStatus": "Completed", "ModelName": "m2", "CreationTime": NOW,
            "TransformInput": request["TransformInput"],
            "TransformResources": request["TransformResources"],
        })
        d.transform(IMAGE, ROLE, "s3://b/model.tar.gz", "s3://b/in/", "s3://b/out/")

        dim = register["ScalableDimension"]
        s.add("application-autoscaling", "delete_scaling_policy", {},
              {"PolicyName": policy["PolicyName"], "ServiceNamespace": "sagemaker",
               "ResourceId": register["ResourceId"], "ScalableDimension": dim})
        s.add("application-autoscaling", "deregister_scalable_target", {},
              {"ServiceNamespace": "sagemaker", "ResourceId": register["ResourceId"],
               "ScalableDimension": dim})
        s.add("sagemaker", "delete_endpoint", {}, {"EndpointName": "ep"})
        s.add("sagemaker", "delete_endpoint_config", {})
        s.add("sagemaker", "delete_model", {})
        s.add("sagemaker", "delete_model", {})
        s.add("sagemaker", "describe_transform_job", {
            "TransformJobName": "t", "TransformJobArn": arn.format("transform-job", "t"),
            "TransformJobStatus": "InProgress", "ModelName": "m2", "CreationTime": NOW,
            "TransformInput": request["TransformInput"],
            "TransformResources": request["TransformResources"],
        })
        s.add("sagemaker", "stop_transform_job", {})
        done = d.delete()
    assert [k for k, _ in done].count("models") == 2
    assert d.state.data == {k: [] for k in d.state.data}  # nothing left recorded


def test_push_logs_in_with_the_ecr_token(deploy_module, tmp_path, monkeypatch):
    mod, clients = deploy_module, _clients("ecr")
    commands = []
    monkeypatch.setattr(mod, "run", lambda cmd, stdin=None: commands.append((cmd, stdin)))
    d = _deployer(mod, clients, tmp_path)
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/house"
    with Stubs(clients) as s:
        s.add("ecr", "create_repository", {"repository": {"repositoryUri": uri}},
              {"repositoryName": "house"})
        token = base64.b64encode(b"AWS:secret-password").decode()
        s.add("ecr", "get_authorization_token", {"authorizationData": [{
            "authorizationToken": token, "proxyEndpoint": "https://" + uri.split("/")[0]}]})
        assert d.push("house", engine="/usr/bin/podman", context=str(tmp_path)) == uri + ":latest"
    login, build, push = commands
    assert login == (["/usr/bin/podman", "login", "--username", "AWS", "--password-stdin",
                      uri.split("/")[0]], "secret-password")
    assert build[0][:4] == ["/usr/bin/podman", "build", "--isolation", "chroot"]
    assert push[0] == ["/usr/bin/podman", "push", uri + ":latest"]
    assert d.state.items("ecr_repositories") == ["house"]


def test_stubbed_call_count():
    # runs after the stubbed tests in this module: every command went through the stubs
    assert Stubs.calls >= 25


moto = pytest.importorskip("moto")


def test_flow_end_to_end_on_moto(deploy_module, tmp_path, monkeypatch):
    mod = deploy_module
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(k, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(mod, "run", lambda cmd, stdin=None: None)
    data = tmp_path / "train"
    data.mkdir()
    (data / "a.csv").write_text("x,y\n1,2\n")
    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="bkt")
        lines = []
        state = mod.State(tmp_path / "state.json")
        d = mod.Deployer(region="us-east-1", state=state, out=lines.append, poll_seconds=0)
        argv = ["--region", "us-east-1"]
        assert mod.main([*argv, "push", "--repository", "house", "--engine", "podman"], d) == 0
        assert mod.main([*argv, "upload", "--bucket", "bkt", "--data", f"train={data}"], d) == 0
        uri = f"s3://bkt/{mod.BASE_NAME}/train/"
        assert lines[-1] == f"train={uri}"
        keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="bkt")["Contents"]]
        assert keys == [f"{mod.BASE_NAME}/train/a.csv"]
        assert mod.main([*argv, "train", "--image", IMAGE, "--role", ROLE, "--data",
                         f"train={uri}", "--output", "s3://bkt/out"], d) == 0
        assert mod.main([*argv, "deploy", "--image", IMAGE, "--role", ROLE, "--model-data",
                         "s3://bkt/out/model.tar.gz", "--endpoint-name", "ep"], d) == 0
        sm = boto3.client("sagemaker", region_name="us-east-1")
        assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
        scaling = boto3.client("application-autoscaling", region_name="us-east-1")
        assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        assert mod.main([*argv, "transform", "--image", IMAGE, "--role", ROLE, "--model-data",
                         "s3://bkt/out/model.tar.gz", "--input", uri, "--output",
                         "s3://bkt/pred/"], d) == 0
        assert mod.main([*argv, "delete", "--data", "--repositories"], d) == 0
        assert sm.list_endpoints()["Endpoints"] == []
        assert sm.list_models()["Models"] == []
        assert not scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket="bkt")
        assert boto3.client("ecr").describe_repositories()["repositories"] == []
    assert all(not v for v in state.data.values())
