"""Unit tests of the CloudFormation template: cfn-lint, resource types LocalStack provides, IAM scope and wiring."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import catsvdogs
from catsvdogs import config
from catsvdogs.provisioning.stack import read_template

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(catsvdogs.__file__).resolve().parent
TEMPLATE = PACKAGE_DIR / "provisioning" / "template.yaml"
CFN_LINT = Path(sys.executable).with_name("cfn-lint")

# Resource types that have a CloudFormation resource provider in localstack-core 4.14.0 and that the
# integration test deploys. LocalStack reports a type without a provider as created, with only a log line
# (unless CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=0), so a resource outside this list would silently not exist.
LOCALSTACK_TYPES = {
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::Logs::LogStream",
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
    "AWS::OpenSearchService::Domain",
    "AWS::KinesisFirehose::DeliveryStream",
}


class TemplateLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short forms such as !Ref and !GetAtt into their JSON forms."""


def construct_intrinsic(loader: TemplateLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


TemplateLoader.add_multi_constructor("!", construct_intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=TemplateLoader)


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == resource_type}


def only_resource(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    matches = resources_of_type(template, resource_type)
    assert len(matches) == 1, f"expected one {resource_type}, found {sorted(matches)}"
    return next(iter(matches.values()))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """List every IAM statement in the template with a label that names where it is."""
    statements = []
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = []
        if "AssumeRolePolicyDocument" in properties:
            documents.append((f"{name} trust policy", properties["AssumeRolePolicyDocument"]))
        for policy in properties.get("Policies", []):
            documents.append((f"{name} policy {policy['PolicyName']}", policy["PolicyDocument"]))
        if "AccessPolicies" in properties:
            documents.append((f"{name} access policy", properties["AccessPolicies"]))
        for label, document in documents:
            for index, statement in enumerate(as_list(document["Statement"])):
                statements.append((f"{label} statement {index}", statement))
    return statements


def role_referenced_by(value: Any) -> str:
    """Return the logical name of the role in a !GetAtt Role.Arn value."""
    assert value.keys() == {"Fn::GetAtt"}, value
    name, attribute = value["Fn::GetAtt"]
    assert attribute == "Arn"
    return name


def trusted_services(template: dict[str, Any], role_name: str) -> list[Any]:
    document = template["Resources"][role_name]["Properties"]["AssumeRolePolicyDocument"]
    return [statement["Principal"] for statement in as_list(document["Statement"])]


def delivery_configuration(template: dict[str, Any]) -> dict[str, Any]:
    stream = only_resource(template, "AWS::KinesisFirehose::DeliveryStream")
    return stream["Properties"]["AmazonopensearchserviceDestinationConfiguration"]


def test_cfn_lint_passes() -> None:
    completed = subprocess.run(
        [str(CFN_LINT), str(TEMPLATE)], capture_output=True, text=True, check=False, timeout=300
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_packaged_template_is_this_file() -> None:
    assert read_template() == TEMPLATE.read_text(encoding="utf-8")


def test_resource_types_provided_by_localstack(template: dict[str, Any]) -> None:
    types = {resource["Type"] for resource in template["Resources"].values()}

    assert types - LOCALSTACK_TYPES == set()


def test_lambda_role_trusts_only_lambda(template: dict[str, Any]) -> None:
    function = only_resource(template, "AWS::Lambda::Function")

    role = role_referenced_by(function["Properties"]["Role"])

    assert trusted_services(template, role) == [{"Service": "lambda.amazonaws.com"}]


def test_firehose_role_trusts_only_firehose(template: dict[str, Any]) -> None:
    configuration = delivery_configuration(template)

    role = role_referenced_by(configuration["RoleARN"])

    assert trusted_services(template, role) == [{"Service": "firehose.amazonaws.com"}]
    assert role_referenced_by(configuration["S3Configuration"]["RoleARN"]) == role


def test_trust_policies_only_assume_role(template: dict[str, Any]) -> None:
    for name in resources_of_type(template, "AWS::IAM::Role"):
        document = template["Resources"][name]["Properties"]["AssumeRolePolicyDocument"]
        for statement in as_list(document["Statement"]):
            assert statement["Effect"] == "Allow", name
            assert statement["Action"] == "sts:AssumeRole", name


def test_roles_trust_one_service_each(template: dict[str, Any]) -> None:
    roles = resources_of_type(template, "AWS::IAM::Role")

    principals = {name: trusted_services(template, name) for name in roles}

    for name, trusted in principals.items():
        assert len(trusted) == 1, name
        assert list(trusted[0]) == ["Service"], name
        assert isinstance(trusted[0]["Service"], str), name


def test_no_wildcard_action(template: dict[str, Any]) -> None:
    statements = policy_statements(template)

    wildcards = []
    for label, statement in statements:
        for action in as_list(statement.get("Action", [])):
            if action == "*" or action.endswith(":*"):
                wildcards.append(f"{label}: {action}")

    assert len(statements) > 0
    assert wildcards == []


def test_no_wildcard_resource(template: dict[str, Any]) -> None:
    statements = policy_statements(template)

    wildcards = [label for label, statement in statements if "*" in as_list(statement.get("Resource", []))]

    assert wildcards == []


def test_no_not_action_or_not_resource(template: dict[str, Any]) -> None:
    statements = policy_statements(template)

    inverted = [label for label, statement in statements if "NotAction" in statement or "NotResource" in statement]

    assert inverted == []


def test_lambda_role_writes_only_logs(template: dict[str, Any]) -> None:
    function = only_resource(template, "AWS::Lambda::Function")
    role = template["Resources"][role_referenced_by(function["Properties"]["Role"])]

    actions = [
        action
        for policy in role["Properties"]["Policies"]
        for statement in as_list(policy["PolicyDocument"]["Statement"])
        for action in as_list(statement["Action"])
    ]

    assert sorted(actions) == ["logs:CreateLogStream", "logs:PutLogEvents"]


def test_stream_is_direct_put(template: dict[str, Any]) -> None:
    stream = only_resource(template, "AWS::KinesisFirehose::DeliveryStream")

    assert stream["Properties"]["DeliveryStreamType"] == "DirectPut"


def test_stream_backs_up_all_documents(template: dict[str, Any]) -> None:
    configuration = delivery_configuration(template)

    assert configuration["S3BackupMode"] == "AllDocuments"
    assert configuration["S3Configuration"]["BucketARN"] == {"Fn::GetAtt": ["BackupBucket", "Arn"]}


def test_stream_has_lambda_processor(template: dict[str, Any]) -> None:
    processing = delivery_configuration(template)["ProcessingConfiguration"]

    processors = processing["Processors"]
    parameters = {entry["ParameterName"]: entry["ParameterValue"] for entry in processors[0]["Parameters"]}

    assert processing["Enabled"] is True
    assert [processor["Type"] for processor in processors] == ["Lambda"]
    assert parameters["LambdaArn"] == {"Fn::GetAtt": ["TransformFunction", "Arn"]}


def test_stream_indexes_into_search_domain(template: dict[str, Any]) -> None:
    configuration = delivery_configuration(template)

    assert configuration["DomainARN"] == {"Fn::GetAtt": ["SearchDomain", "Arn"]}
    assert configuration["IndexName"] == {"Ref": "IndexName"}


def test_function_handler_path(template: dict[str, Any]) -> None:
    function = only_resource(template, "AWS::Lambda::Function")

    assert function["Properties"]["Handler"] == "catsvdogs.transform.handler.handler"


def test_function_handler_exists_in_package(template: dict[str, Any]) -> None:
    handler = only_resource(template, "AWS::Lambda::Function")["Properties"]["Handler"]
    module, _, function = handler.rpartition(".")

    source = PACKAGE_DIR.parent / (module.replace(".", "/") + ".py")

    assert source.is_file(), source
    assert re.search(rf"^def {function}\(", source.read_text(encoding="utf-8"), re.MULTILINE)


def test_function_runtime_matches_test_python(template: dict[str, Any]) -> None:
    runtime = only_resource(template, "AWS::Lambda::Function")["Properties"]["Runtime"]
    script = (ROOT / "tests" / "run").read_text(encoding="utf-8")

    match = re.search(r"^APP_PYTHON_VERSION=(\S+)", script, re.MULTILINE)

    assert match is not None
    assert runtime == f"python{match.group(1)}"


def test_function_code_from_parameters(template: dict[str, Any]) -> None:
    code = only_resource(template, "AWS::Lambda::Function")["Properties"]["Code"]

    assert code == {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}}


@pytest.mark.parametrize(
    ("parameter", "default"),
    [
        ("FunctionName", config.DEFAULT_FUNCTION_NAME),
        ("StreamName", config.DEFAULT_STREAM_NAME),
        ("DomainName", config.DEFAULT_DOMAIN_NAME),
        ("IndexName", config.DEFAULT_INDEX_NAME),
        ("BackupPrefix", config.DEFAULT_BACKUP_PREFIX),
        ("CatWords", config.DEFAULT_CAT_WORDS),
        ("DogWords", config.DEFAULT_DOG_WORDS),
    ],
)
def test_parameter_default_matches_config(template: dict[str, Any], parameter: str, default: str) -> None:
    assert template["Parameters"][parameter]["Default"] == default


def test_default_domain_name_allowed(template: dict[str, Any]) -> None:
    pattern = template["Parameters"]["DomainName"]["AllowedPattern"]

    assert re.fullmatch(pattern, config.DEFAULT_DOMAIN_NAME)


def test_loader_reads_short_forms() -> None:
    text = "a: !Ref Name\nb: !GetAtt Role.Arn\nc: !Sub ${X}/*\nd: !Join [',', [x, y]]\n"

    document = yaml.load(text, Loader=TemplateLoader)

    assert document == {
        "a": {"Ref": "Name"},
        "b": {"Fn::GetAtt": ["Role", "Arn"]},
        "c": {"Fn::Sub": "${X}/*"},
        "d": {"Fn::Join": [",", ["x", "y"]]},
    }
