"""A CloudFormation template's intrinsics resolved to the physical names and ARNs of one account.

CloudFormation User Guide, "Intrinsic function reference" (Ref, Fn::GetAtt, Fn::Join, Fn::Sub,
Fn::Select, Fn::Split, Fn::If with Conditions, Fn::Base64, Fn::ToJsonString) and "Pseudo parameters
reference"; each resource type's "Return values" section says what Ref and Fn::GetAtt give
(e.g. AWS::SQS::Queue: Ref is the queue URL, Arn the ARN; AWS::Events::Rule on a custom bus: Ref is
"EventBusName|RuleName"). The stack names its resources explicitly; where a template leaves a name
to CloudFormation (roles here), the name is ``{stack_name}-{LogicalId}`` (CloudFormation adds a
random suffix on AWS; locally the name only has to be stable). Fn::GetAtt of a type not modelled
here gives a ``${Token[...]}`` marker that no ARN pattern matches.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """The template cannot be resolved (unknown logical id, malformed intrinsic)."""


@dataclass(frozen=True)
class Environment:
    account: str
    region: str
    partition: str
    stack_name: str | None

    @property
    def url_suffix(self) -> str:
        return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


class Resolver:
    """Resolves the template's values; Ref / Fn::GetAtt per resource type's documented return values."""

    def __init__(self, template: Mapping[str, Any], env: Environment) -> None:
        self.template = template
        self.env = env
        self.resources: Mapping[str, Mapping[str, Any]] = template.get("Resources") or {}
        if not isinstance(self.resources, Mapping) or not self.resources:
            raise TemplateError("template has no Resources")
        self._conditions: dict[str, bool] = {}
        self._resolving: set[str] = set()

    # --- names -----------------------------------------------------------------------------------

    def _properties(self, logical_id: str) -> Mapping[str, Any]:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"unknown logical id {logical_id!r}")
        return resource.get("Properties") or {}

    def type_of(self, logical_id: str) -> str:
        return str(self.resources[logical_id].get("Type", ""))

    def _name(self, logical_id: str, key: str, limit: int = 64) -> str:
        value = self._properties(logical_id).get(key)
        if value is not None:
            return str(self.resolve(value))
        base = f"{self.env.stack_name}-{logical_id}" if self.env.stack_name else logical_id
        return base[:limit]

    def ref(self, logical_id: str) -> Any:
        """What ``{"Ref": logical_id}`` returns (parameters, pseudo parameters and resources)."""
        pseudo = {
            "AWS::AccountId": self.env.account,
            "AWS::Region": self.env.region,
            "AWS::Partition": self.env.partition,
            "AWS::URLSuffix": self.env.url_suffix,
            "AWS::StackName": self.env.stack_name or "stack",
            "AWS::StackId": self.env.arn(
                "cloudformation",
                f"stack/{self.env.stack_name or 'stack'}/" + _stable_id(self.env.stack_name or "stack"),
            ),
            "AWS::NotificationARNs": [],
        }
        if logical_id in pseudo:
            return pseudo[logical_id]
        if logical_id == "AWS::NoValue":
            return _NO_VALUE
        parameters = self.template.get("Parameters") or {}
        if logical_id in parameters:
            return parameters[logical_id].get("Default", "")
        kind = self.type_of(logical_id) if logical_id in self.resources else None
        if kind is None:
            raise TemplateError(f"Ref to unknown logical id {logical_id!r}")
        refs: dict[str, Callable[[], Any]] = {
            "AWS::IAM::Role": lambda: self._name(logical_id, "RoleName"),
            "AWS::IAM::ManagedPolicy": lambda: self.get_att(logical_id, "PolicyArn"),
            "AWS::Lambda::Function": lambda: self._name(logical_id, "FunctionName"),
            "AWS::DynamoDB::Table": lambda: self._name(logical_id, "TableName", 255),
            "AWS::SQS::Queue": lambda: self.get_att(logical_id, "QueueUrl"),
            "AWS::SNS::Topic": lambda: self.get_att(logical_id, "TopicArn"),
            "AWS::KMS::Key": lambda: _stable_id(self.env.account, self.env.region, logical_id),
            "AWS::KMS::Alias": lambda: self._name(logical_id, "AliasName"),
            "AWS::Events::EventBus": lambda: self._name(logical_id, "Name"),
            "AWS::Events::Rule": lambda: self._rule_ref(logical_id),
            "AWS::Events::Archive": lambda: self._name(logical_id, "ArchiveName", 48),
            "AWS::StepFunctions::StateMachine": lambda: self.get_att(logical_id, "Arn"),
            "AWS::Logs::LogGroup": lambda: self._name(logical_id, "LogGroupName", 512),
            "AWS::CloudWatch::Alarm": lambda: self._name(logical_id, "AlarmName", 255),
            "AWS::CloudWatch::Dashboard": lambda: self._name(logical_id, "DashboardName", 255),
            "AWS::SecretsManager::Secret": lambda: self.get_att(logical_id, "Id"),
            "AWS::S3::Bucket": lambda: self._name(logical_id, "BucketName", 63),
            "AWS::SSM::Parameter": lambda: self._name(logical_id, "Name", 2048),
            "AWS::Lambda::Alias": lambda: (
                f"{self._function_ref(self._properties(logical_id).get('FunctionName'))}:"
                f"{self.resolve(self._properties(logical_id).get('Name'))}"
            ),
        }
        compute = refs.get(kind)
        return compute() if compute else logical_id

    def _function_ref(self, reference: Any) -> str:
        name = str(self.resolve(reference))
        return name if name.startswith("arn:") else self.env.arn("lambda", f"function:{name}")

    def _rule_ref(self, logical_id: str) -> str:
        name = self._name(logical_id, "Name")
        bus = self._properties(logical_id).get("EventBusName")
        bus_name = self._bus_name(self.resolve(bus)) if bus is not None else "default"
        return name if bus_name == "default" else f"{bus_name}|{name}"

    @staticmethod
    def _bus_name(bus: Any) -> str:
        text = str(bus)
        return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """What ``{"Fn::GetAtt": [logical_id, attribute]}`` returns."""
        kind = self.type_of(logical_id) if logical_id in self.resources else None
        if kind is None:
            raise TemplateError(f"Fn::GetAtt of unknown logical id {logical_id!r}")
        env = self.env
        props = self._properties(logical_id)
        if kind == "AWS::IAM::Role":
            path = str(self.resolve(props.get("Path", "/")))
            arn = env.arn("iam", f"role{path}{self.ref(logical_id)}", region=False)
            return {"Arn": arn, "RoleId": "AROA" + hashlib.sha1(arn.encode()).hexdigest()[:17].upper()}[attribute]
        if kind == "AWS::IAM::ManagedPolicy":
            path = str(self.resolve(props.get("Path", "/")))
            name = self._name(logical_id, "ManagedPolicyName", 128)
            return {"PolicyArn": env.arn("iam", f"policy{path}{name}", region=False)}[attribute]
        if kind == "AWS::Lambda::Function":
            return {"Arn": env.arn("lambda", f"function:{self.ref(logical_id)}")}[attribute]
        if kind == "AWS::DynamoDB::Table":
            arn = env.arn("dynamodb", f"table/{self.ref(logical_id)}")
            return {"Arn": arn, "StreamArn": f"{arn}/stream/1970-01-01T00:00:00.000"}[attribute]
        if kind == "AWS::SQS::Queue":
            name = self._name(logical_id, "QueueName", 80)
            if props.get("FifoQueue") and not name.endswith(".fifo"):
                name += ".fifo"
            values = {
                "Arn": env.arn("sqs", name),
                "QueueName": name,
                "QueueUrl": f"https://sqs.{env.region}.{env.url_suffix}/{env.account}/{name}",
            }
            return values[attribute]
        if kind == "AWS::SNS::Topic":
            name = self._name(logical_id, "TopicName", 256)
            return {"TopicArn": env.arn("sns", name), "TopicName": name}[attribute]
        if kind == "AWS::KMS::Key":
            key_id = self.ref(logical_id)
            return {"Arn": env.arn("kms", f"key/{key_id}"), "KeyId": key_id}[attribute]
        if kind == "AWS::Events::EventBus":
            name = self.ref(logical_id)
            return {"Arn": env.arn("events", f"event-bus/{name}"), "Name": name}[attribute]
        if kind == "AWS::Events::Rule":
            name = self._name(logical_id, "Name")
            bus = props.get("EventBusName")
            bus_name = self._bus_name(self.resolve(bus)) if bus is not None else "default"
            path = name if bus_name == "default" else f"{bus_name}/{name}"
            return {"Arn": env.arn("events", f"rule/{path}")}[attribute]
        if kind == "AWS::Events::Archive":
            return {"Arn": env.arn("events", f"archive/{self.ref(logical_id)}")}[attribute]
        if kind == "AWS::StepFunctions::StateMachine":
            name = self._name(logical_id, "StateMachineName", 80)
            return {"Arn": env.arn("states", f"stateMachine:{name}"), "Name": name}[attribute]
        if kind == "AWS::Logs::LogGroup":
            return {"Arn": env.arn("logs", f"log-group:{self.ref(logical_id)}:*")}[attribute]
        if kind == "AWS::CloudWatch::Alarm":
            return {"Arn": env.arn("cloudwatch", f"alarm:{self.ref(logical_id)}")}[attribute]
        if kind == "AWS::SecretsManager::Secret":
            name = self._name(logical_id, "Name", 512)
            # Secrets Manager appends six random characters to a secret's ARN; stable here.
            suffix = hashlib.sha1(name.encode()).hexdigest()[:6]
            return {"Id": env.arn("secretsmanager", f"secret:{name}-{suffix}")}[attribute]
        if kind == "AWS::S3::Bucket":
            name = self._name(logical_id, "BucketName", 63)
            return {"Arn": f"arn:{env.partition}:s3:::{name}", "DomainName": f"{name}.s3.{env.url_suffix}"}[attribute]
        if kind == "AWS::Lambda::Alias":
            return {"AliasArn": self.ref(logical_id)}[attribute]
        # A type this module does not model: a marker no ARN pattern matches, so a policy naming it
        # allows nothing (and shows the marker in Decision.explain) instead of failing the load.
        return f"${{Token[{logical_id}.{attribute}]}}"

    # --- intrinsics ------------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definition = (self.template.get("Conditions") or {}).get(name)
            if definition is None:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(definition))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function replaced by what CloudFormation would give."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            handler = self._intrinsics().get(key)
            if handler is not None:
                return handler(argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": lambda arg: self.ref(str(arg)),
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Sub": self._sub,
            "Fn::Select": lambda arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(str(arg[0])),
            "Fn::If": lambda arg: self.resolve(arg[1] if self.condition(str(arg[0])) else arg[2]),
            "Fn::Equals": lambda arg: self.resolve(arg[0]) == self.resolve(arg[1]),
            "Fn::Not": lambda arg: not self.resolve(arg[0]),
            "Fn::And": lambda arg: all(self.resolve(item) for item in arg),
            "Fn::Or": lambda arg: any(self.resolve(item) for item in arg),
            "Condition": lambda arg: self.condition(str(arg)),
            "Fn::Base64": lambda arg: base64.b64encode(str(self.resolve(arg)).encode()).decode(),
            "Fn::ToJsonString": lambda arg: json.dumps(self.resolve(arg), separators=(",", ":")),
            "Fn::GetAZs": lambda arg: [f"{self.env.region}{zone}" for zone in "abc"],
        }

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = argument
        return self.get_att(str(logical_id), str(self.resolve(attribute)))

    def _join(self, argument: Any) -> str:
        separator, parts = argument
        return str(separator).join(str(part) for part in self.resolve(parts))

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        values = {key: self.resolve(item) for key, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, str(text)).replace("${!", "${")
