"""Edges of the native pipeline: function isolation, non-tweet records, SIGTERM, stack updates."""

from __future__ import annotations

import base64
import gzip
import io
import json
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from catsvdogs.provisioning.lambda_package import package_source_files
from catsvdogs.provisioning.stack import DeploymentError, deploy_stack
from tests.conftest import CLI, FIXTURES, REPLAY_DATA, Deployment, provision
from tests.integration.test_pipeline import aws_client, search_client, summary_counts


@pytest.fixture(scope="module")
def edge_deployment(native_stack) -> Deployment:
    """A pipeline of its own, so the records sent here do not change the counts of the main end-to-end tests."""
    return provision(native_stack, "edge")


def count_documents(deployment: Deployment, query: dict | None = None) -> int:
    client = search_client(deployment)
    index = deployment.settings.index_name
    client.indices.refresh(index=index)
    body = {"query": query or {"match_all": {}}}
    return client.count(index=index, body=body)["count"]


def test_function_without_dependency_fails_import(deployment: Deployment):
    """The executor runs the zip with only its own code on sys.path, so a missing dependency fails as on AWS."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in package_source_files().items():
            archive.writestr(name, path.read_bytes())
    lambda_client = aws_client(deployment, "lambda")
    name = f"{deployment.settings.function_name}-nodeps"
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/no-dependencies",
        Handler="catsvdogs.transform.handler.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)

    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"records": []}))
    error = json.loads(response["Payload"].read())

    assert response.get("FunctionError") == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "vaderSentiment" in error["errorMessage"]


def test_non_tweet_record_does_not_fail_batch(edge_deployment: Deployment):
    lines = [line for line in (FIXTURES / "stream_v2_minimal.jsonl").read_text().splitlines() if '"data"' in line]
    records = [{"Data": (line + "\n").encode()} for line in lines[:2]]
    records.insert(1, {"Data": b"this is not a tweet\n"})
    firehose = aws_client(edge_deployment, "firehose")
    before = count_documents(edge_deployment)

    response = firehose.put_record_batch(DeliveryStreamName=edge_deployment.settings.stream_name, Records=records)

    assert response["FailedPutCount"] == 0
    assert count_documents(edge_deployment) == before + 3
    assert count_documents(edge_deployment, {"exists": {"field": "error.reason"}}) == 1
    assert count_documents(edge_deployment, {"terms": {"category": ["cat", "dog"]}}) == 2


def test_sigterm_flushes_records_read(edge_deployment: Deployment, tmp_path: Path):
    with gzip.open(REPLAY_DATA / "cats_v_dogs.jsonl.gz", "rt", encoding="utf-8") as source:
        lines = [next(source) for _ in range(2000)]
    path = tmp_path / "slow.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    before = count_documents(edge_deployment)

    process = subprocess.Popen(
        [str(CLI), "replay", str(path), "--speed", "5", "--no-progress", "--log-interval", "1"],
        env=edge_deployment.environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(6)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    counts = summary_counts(stdout)

    assert process.returncode == 0, stderr
    assert 0 < counts["read"] < len(lines)
    assert counts["read"] == counts["sent"] + counts["rejected"]
    assert counts["pending"] == 0
    assert count_documents(edge_deployment) == before + counts["sent"]


def test_vocabulary_change_updates_function(edge_deployment: Deployment):
    environment = dict(edge_deployment.environment, CATSVDOGS_CAT_WORDS="cat,cats,kitty,kitten,caturday")
    changed = Deployment(environment, edge_deployment.settings, "")

    result = changed.run_cli("provision")
    configuration = aws_client(edge_deployment, "lambda").get_function_configuration(
        FunctionName=edge_deployment.settings.function_name
    )

    assert f"stack {edge_deployment.settings.stack_name}: updated" in result.stdout
    assert "TransformFunction (AWS::Lambda::Function): updated" in result.stdout
    assert configuration["Environment"]["Variables"]["CATSVDOGS_CAT_WORDS"].endswith("caturday")


def test_localstack_skipped_no_resource(native_stack, deployment: Deployment):
    """LocalStack skips resource types it has no provider for with only a warning; none of ours may be skipped."""
    log = native_stack.localstack.process.log_path.read_text(encoding="utf-8", errors="replace")

    assert "No resource provider found" not in log


def test_transform_output_is_base64_json(deployment: Deployment):
    """The deployed function returns JSON data for every record of a LocalStack-shaped event."""
    line = (FIXTURES / "stream_v2_minimal.jsonl").read_text().splitlines()[0]
    event = {"records": [{"data": base64.b64encode(line.encode()).decode(), "approximateArrivalTimestamp": 0}]}

    response = aws_client(deployment, "lambda").invoke(
        FunctionName=deployment.settings.function_name, Payload=json.dumps(event)
    )
    output = json.loads(response["Payload"].read())
    document = json.loads(base64.b64decode(output["records"][0]["data"]))

    assert "FunctionError" not in response
    assert output["records"][0]["result"] == "Ok"
    assert document["category"] == "cat"


def test_failed_deployment_names_resource(deployment: Deployment):
    cloudformation = aws_client(deployment, "cloudformation")
    aws_client(deployment, "s3").create_bucket(Bucket=f"{deployment.settings.stack_name}-empty")
    parameters = {
        "BackupBucketName": f"{deployment.settings.stack_name}-failing-backup",
        "CodeBucket": f"{deployment.settings.stack_name}-empty",
        "CodeKey": "lambda/missing.zip",
        "FunctionName": f"{deployment.settings.function_name}-failing",
        "StreamName": f"{deployment.settings.stream_name}-failing",
        "DomainName": "failing-domain",
        "IndexName": "failing",
    }

    with pytest.raises(DeploymentError) as raised:
        deploy_stack(cloudformation, f"{deployment.settings.stack_name}-failing", parameters)

    assert "TransformFunction (AWS::Lambda::Function)" in str(raised.value)
    assert "NoSuchKey" in str(raised.value)
