"""``PolicyStore``: every role, identity policy, resource policy and key policy of one template.

Built by ``PolicyStore.from_template`` (the synthesized CloudFormation template, intrinsics resolved
to the physical ARNs); answers ``evaluate`` with the evaluation logic of snacks.local.iam.evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from snacks.local.iam import action_data, managed_policies
from snacks.local.iam.evaluation import Policy, PolicyKind, Statement, decide, parse_document, principal_matches
from snacks.local.iam.model import (
    AuthorizationRequest,
    Decision,
    PolicyError,
    Principal,
    StatementRef,
    TemplateResource,
)
from snacks.local.iam.template import Environment, Resolver, TemplateError

# The attribute that is the resource's ARN, per type (CloudFormation "Return values").
_ARN_ATTRIBUTE = {
    "AWS::IAM::Role": "Arn",
    "AWS::IAM::ManagedPolicy": "PolicyArn",
    "AWS::Lambda::Function": "Arn",
    "AWS::DynamoDB::Table": "Arn",
    "AWS::SQS::Queue": "Arn",
    "AWS::SNS::Topic": "TopicArn",
    "AWS::KMS::Key": "Arn",
    "AWS::Events::EventBus": "Arn",
    "AWS::Events::Rule": "Arn",
    "AWS::Events::Archive": "Arn",
    "AWS::StepFunctions::StateMachine": "Arn",
    "AWS::Logs::LogGroup": "Arn",
    "AWS::CloudWatch::Alarm": "Arn",
    "AWS::SecretsManager::Secret": "Id",
}
# Where a resource names its customer-managed KMS key (CloudFormation property references).
_KEY_PROPERTY: dict[str, tuple[str, ...]] = {
    "AWS::SNS::Topic": ("KmsMasterKeyId",),
    "AWS::SQS::Queue": ("KmsMasterKeyId",),
    "AWS::DynamoDB::Table": ("SSESpecification", "KMSMasterKeyId"),
    "AWS::Logs::LogGroup": ("KmsKeyId",),
    "AWS::SecretsManager::Secret": ("KmsKeyId",),
    "AWS::StepFunctions::StateMachine": ("EncryptionConfiguration", "KmsKeyId"),
}
_SHORT_TYPE = {
    "AWS::SNS::Topic": "topic",
    "AWS::SQS::Queue": "queue",
    "AWS::Lambda::Function": "function",
    "AWS::KMS::Key": "key",
    "AWS::Events::EventBus": "event bus",
    "AWS::DynamoDB::Table": "table",
    "AWS::IAM::Role": "role",
    "AWS::SecretsManager::Secret": "secret",
}


@dataclass
class _Role:
    logical_id: str
    arn: str
    name: str
    trust: Policy | None = None
    identity: list[Policy] = field(default_factory=list)


@dataclass
class _PolicyParts:
    """Statements for one resource, gathered from one or more template resources (Lambda permissions)."""

    kind: PolicyKind
    owner: str
    statements: list[Statement] = field(default_factory=list)

    def policy(self) -> Policy:
        return Policy(self.kind, self.owner, tuple(self.statements))


def _path(resource: Mapping[str, Any]) -> str:
    metadata = resource.get("Metadata") or {}
    return str(metadata.get("aws:cdk:path", ""))


class PolicyStore:
    """The permissions of one synthesized template, resolved to physical ARNs."""

    def __init__(self, env: Environment) -> None:
        self._env = env
        self._resources: dict[str, TemplateResource] = {}  # logical id -> resource
        self._by_arn: dict[str, TemplateResource] = {}
        self._roles: dict[str, _Role] = {}  # role ARN -> role
        self._resource_policies: dict[str, _PolicyParts] = {}  # resource ARN -> its policy
        self._key_policies: dict[str, Policy] = {}  # key ARN -> key policy
        self._logs_policy: _PolicyParts | None = None  # the account's CloudWatch Logs resource policies
        self._statements: list[tuple[StatementRef, Mapping[str, Any]]] = []

    # --- loading ---------------------------------------------------------------------------------

    @classmethod
    def from_template(
        cls,
        template: Mapping[str, Any],
        *,
        account: str,
        region: str,
        partition: str = "aws",
        stack_name: str | None = None,
    ) -> PolicyStore:
        """Resolve intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split,
        AWS::AccountId/Region/Partition/URLSuffix/StackName) to the physical ARNs the local stack
        uses (physical names are explicit in the template's properties); collect every role
        (trust policy, inline Policies, AWS::IAM::Policy / ManagedPolicy attached to it, AWS managed
        policy ARNs it names), and every resource policy: AWS::SNS::TopicPolicy, AWS::SQS::QueuePolicy,
        AWS::Lambda::Permission, AWS::KMS::Key KeyPolicy, AWS::Logs::ResourcePolicy,
        AWS::Events::EventBusPolicy. Validates every statement; raises PolicyError (one line).

        ``stack_name``: names CloudFormation would generate (a role without RoleName) become
        ``{stack_name}-{LogicalId}``; without it, the logical id."""
        store = cls(Environment(account=account, region=region, partition=partition, stack_name=stack_name))
        try:
            resolver = Resolver(template, store._env)
            store._load(resolver)
        except (TemplateError, KeyError, TypeError, IndexError, ValueError) as error:
            if isinstance(error, PolicyError):
                raise
            raise PolicyError(f"template cannot be resolved: {error}") from None
        return store

    def _load(self, resolver: Resolver) -> None:
        for logical_id, raw in resolver.resources.items():
            kind = str(raw.get("Type", ""))
            attribute = _ARN_ATTRIBUTE.get(kind)
            try:
                arn = str(resolver.get_att(logical_id, attribute)) if attribute else ""
                properties = resolver.resolve(raw.get("Properties") or {})
            except (TemplateError, KeyError, TypeError, IndexError, ValueError) as error:
                raise PolicyError(f"{logical_id} {kind}: cannot resolve its properties: {error}") from None
            resource = TemplateResource(logical_id, kind, arn, properties, _path(raw) or logical_id)
            self._resources[logical_id] = resource
            if arn:
                self._by_arn[arn] = resource
                if kind == "AWS::Logs::LogGroup":
                    self._by_arn[arn.removesuffix(":*")] = resource
        for resource in self._resources.values():
            if resource.type == "AWS::IAM::Role":
                self._load_role(resource)
        loaders = {
            "AWS::IAM::Policy": self._load_attached_policy,
            "AWS::IAM::ManagedPolicy": self._load_attached_policy,
            "AWS::SNS::TopicPolicy": lambda r: self._load_resource_policy(r, "Topics", "PolicyDocument"),
            "AWS::SQS::QueuePolicy": lambda r: self._load_resource_policy(r, "Queues", "PolicyDocument"),
            "AWS::Lambda::Permission": self._load_lambda_permission,
            "AWS::KMS::Key": self._load_key_policy,
            "AWS::Logs::ResourcePolicy": self._load_logs_policy,
            "AWS::Events::EventBusPolicy": self._load_event_bus_policy,
            "AWS::DynamoDB::Table": self._load_table_policy,
            "AWS::SecretsManager::ResourcePolicy": self._load_secret_policy,
        }
        for resource in self._resources.values():
            loader = loaders.get(resource.type)
            if loader is not None:
                loader(resource)

    def _parse(self, document: Any, kind: PolicyKind, resource: TemplateResource, policy: str) -> tuple[Statement, ...]:
        if isinstance(document, str):  # Logs::ResourcePolicy, EventBusPolicy: JSON text
            try:
                document = json.loads(document)
            except json.JSONDecodeError as error:
                raise PolicyError(f"{resource.logical_id} {resource.type} {policy}: not JSON ({error.msg})") from None
        statements = parse_document(
            document,
            kind=kind,
            logical_id=resource.logical_id,
            resource_type=resource.type,
            policy=policy,
            construct_path=resource.construct_path,
        )
        for statement in statements:
            for pattern in statement.actions:
                why = action_data.unknown_action(pattern)
                if why is not None:
                    raise PolicyError(f"{statement.ref.describe()}: {why}")
            self._statements.append((statement.ref, statement.raw))
        return statements

    def _owner(self, resource: TemplateResource, arn: str | None = None) -> str:
        short = _SHORT_TYPE.get(resource.type, resource.type)
        name = (arn or resource.arn).rsplit(":", 1)[-1].rsplit("/", 1)[-1] or resource.logical_id
        if resource.type == "AWS::KMS::Key":
            name = resource.logical_id
        return f"{short} {name}"

    def _load_role(self, resource: TemplateResource) -> None:
        name = resource.arn.rsplit("/", 1)[-1]
        role = _Role(resource.logical_id, resource.arn, name)
        props = resource.properties
        if props.get("PermissionsBoundary"):
            # Refused rather than ignored: a boundary narrows what the identity policies grant, and
            # evaluating without it would allow what AWS denies.
            raise PolicyError(
                f"{resource.logical_id} {resource.type} PermissionsBoundary: permissions boundaries are not "
                "evaluated by snacks.local.iam"
            )
        if "AssumeRolePolicyDocument" in props:
            trust = self._parse(props["AssumeRolePolicyDocument"], "trust", resource, "AssumeRolePolicyDocument")
            role.trust = Policy("trust", f"the trust policy of role {name}", trust)
        for index, inline in enumerate(props.get("Policies") or []):
            label = f"Policies[{index}]"
            statements = self._parse(inline.get("PolicyDocument"), "identity", resource, label)
            role.identity.append(Policy("identity", f"role {name}", statements))
        for arn in props.get("ManagedPolicyArns") or []:
            if not managed_policies.is_aws_managed(str(arn)):
                continue  # a customer managed policy of this template attaches itself (Roles)
            document = managed_policies.document(str(arn))
            if document is None:
                raise PolicyError(
                    f"{resource.logical_id} {resource.type} ManagedPolicyArns: AWS managed policy {arn} is not "
                    "known to snacks.local.iam.managed_policies"
                )
            statements = self._parse(document, "identity", resource, f"ManagedPolicyArns {arn}")
            role.identity.append(Policy("identity", f"role {name}", statements))
        self._roles[resource.arn] = role

    def _role_by_reference(self, reference: Any) -> _Role | None:
        text = str(reference)
        for role in self._roles.values():
            if text in (role.arn, role.name):
                return role
        return None

    def _load_attached_policy(self, resource: TemplateResource) -> None:
        statements = self._parse(resource.properties.get("PolicyDocument"), "identity", resource, "PolicyDocument")
        for reference in resource.properties.get("Roles") or []:
            role = self._role_by_reference(reference)
            if role is None:
                continue  # a role outside this template
            role.identity.append(Policy("identity", f"role {role.name}", statements))
        for arn in resource.properties.get("ManagedPolicyArns") or []:
            del arn  # a ManagedPolicy has no such property; kept for symmetry with roles

    def _parts(self, arn: str, owner: str) -> _PolicyParts:
        parts = self._resource_policies.get(arn)
        if parts is None:
            parts = self._resource_policies[arn] = _PolicyParts("resource", owner)
        return parts

    def _arn_of(self, reference: Any) -> str:
        """A Topics / Queues / FunctionName entry (ARN, queue URL, name) -> the resource's ARN."""
        text = str(reference)
        if text.startswith("https://sqs."):
            account, name = text.rstrip("/").split("/")[-2:]
            return f"arn:{self._env.partition}:sqs:{text.split('.')[1]}:{account}:{name}"
        return text

    def _load_resource_policy(self, resource: TemplateResource, targets: str, key: str) -> None:
        statements = self._parse(resource.properties.get(key), "resource", resource, key)
        for reference in resource.properties.get(targets) or []:
            arn = self._arn_of(reference)
            target = self._by_arn.get(arn)
            owner = self._owner(target, arn) if target else arn
            self._parts(arn, owner).statements.extend(statements)

    def _function_arn(self, name: str) -> str:
        """Lambda accepts a name, a partial ARN (ACCOUNT:function:NAME) or an ARN, with ":QUALIFIER"."""
        if name.startswith("arn:"):
            return name
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:NAME[:QUALIFIER]
            return self._env.arn("lambda", ":".join(parts[1:])).replace(f":{self._env.account}:", f":{parts[0]}:", 1)
        return self._env.arn("lambda", f"function:{name}")

    def _load_lambda_permission(self, resource: TemplateResource) -> None:
        """A Lambda permission as Lambda adds it to the function's resource-based policy (Lambda
        Developer Guide, "Working with resource-based IAM policies in Lambda"; API AddPermission):
        Principal a service -> {"Service": ...}, an account -> its root, SourceArn -> ArnLike
        AWS:SourceArn, SourceAccount -> StringEquals AWS:SourceAccount, PrincipalOrgID -> StringEquals
        aws:PrincipalOrgID, EventSourceToken -> StringEquals lambda:EventSourceToken,
        FunctionUrlAuthType -> StringEquals lambda:FunctionUrlAuthType."""
        props = resource.properties
        principal = str(props.get("Principal", ""))
        if principal == "*":
            principal_element: Any = "*"
        elif principal.isdigit():
            principal_element = {"AWS": f"arn:{self._env.partition}:iam::{principal}:root"}
        elif principal.startswith("arn:"):
            principal_element = {"AWS": principal}
        else:
            principal_element = {"Service": principal}
        condition: dict[str, dict[str, str]] = {}
        if "SourceArn" in props:
            condition.setdefault("ArnLike", {})["AWS:SourceArn"] = str(props["SourceArn"])
        if "SourceAccount" in props:
            condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = str(props["SourceAccount"])
        if "PrincipalOrgID" in props:
            condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = str(props["PrincipalOrgID"])
        if "EventSourceToken" in props:
            condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = str(props["EventSourceToken"])
        if "FunctionUrlAuthType" in props:
            condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = str(props["FunctionUrlAuthType"])
        function_arn = self._function_arn(str(props.get("FunctionName", "")))
        statement: dict[str, Any] = {
            "Sid": resource.logical_id,
            "Effect": "Allow",
            "Principal": principal_element,
            "Action": str(props.get("Action", "")),
            "Resource": function_arn,
        }
        if condition:
            statement["Condition"] = condition
        document = {"Version": "2012-10-17", "Statement": [statement]}
        statements = self._parse(document, "resource", resource, "Permission")
        target = self._by_arn.get(function_arn)
        owner = self._owner(target, function_arn) if target else function_arn
        self._parts(function_arn, owner).statements.extend(statements)

    def _load_key_policy(self, resource: TemplateResource) -> None:
        document = resource.properties.get("KeyPolicy")
        if document is None:
            # "If you don't specify a key policy, AWS KMS applies a default key policy": the root
            # statement that enables IAM policies (KMS Developer Guide, "Default key policy").
            root = f"arn:{self._env.partition}:iam::{self._env.account}:root"
            document = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Enable IAM User Permissions",
                        "Effect": "Allow",
                        "Principal": {"AWS": root},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            }
        statements = self._parse(document, "key", resource, "KeyPolicy")
        self._key_policies[resource.arn] = Policy("key", self._owner(resource), statements)

    def _load_logs_policy(self, resource: TemplateResource) -> None:
        statements = self._parse(resource.properties.get("PolicyDocument"), "resource", resource, "PolicyDocument")
        if self._logs_policy is None:
            self._logs_policy = _PolicyParts("resource", "the CloudWatch Logs resource policies of the account")
        self._logs_policy.statements.extend(statements)

    def _load_event_bus_policy(self, resource: TemplateResource) -> None:
        """AWS::Events::EventBusPolicy: a whole ``Statement``, or the legacy Action/Principal/Condition
        form (CloudFormation: "Principal: the 12-digit account ID ... or * for all")."""
        props = resource.properties
        bus = str(props.get("EventBusName", "default"))
        bus_arn = bus if bus.startswith("arn:") else self._env.arn("events", f"event-bus/{bus}")
        if "Statement" in props:
            statement = dict(props["Statement"])
        else:
            principal = str(props.get("Principal", ""))
            statement = {
                "Effect": "Allow",
                "Principal": "*" if principal == "*" else {"AWS": f"arn:{self._env.partition}:iam::{principal}:root"},
                "Action": props.get("Action", ""),
                "Resource": bus_arn,
            }
            condition = props.get("Condition")
            if condition:
                statement["Condition"] = {"StringEquals": {str(condition["Key"]): condition["Value"]}}
        statement.setdefault("Sid", str(props.get("StatementId", resource.logical_id)))
        document = {"Version": "2012-10-17", "Statement": [statement]}
        statements = self._parse(document, "resource", resource, "Statement")
        target = self._by_arn.get(bus_arn)
        self._parts(bus_arn, self._owner(target, bus_arn) if target else bus_arn).statements.extend(statements)

    def _load_table_policy(self, resource: TemplateResource) -> None:
        policy = resource.properties.get("ResourcePolicy")
        if policy:
            statements = self._parse(policy.get("PolicyDocument"), "resource", resource, "ResourcePolicy")
            self._parts(resource.arn, self._owner(resource)).statements.extend(statements)

    def _load_secret_policy(self, resource: TemplateResource) -> None:
        statements = self._parse(resource.properties.get("ResourcePolicy"), "resource", resource, "ResourcePolicy")
        arn = str(resource.properties.get("SecretId", ""))
        target = self._by_arn.get(arn)
        self._parts(arn, self._owner(target, arn) if target else arn).statements.extend(statements)

    # --- questions -------------------------------------------------------------------------------

    def role_arn_of(
        self,
        *,
        function: str | None = None,
        state_machine: str | None = None,
        rule: str | None = None,
        target_id: str | None = None,
        bus: str | None = None,
    ) -> str | None:
        """The role a function runs as / a state machine assumes / an EventBridge rule target uses.

        ``function`` and ``state_machine``: name or ARN; ``rule``: name or ARN, ``bus`` its bus
        (name or ARN) when names repeat across buses; ``target_id`` the target's Id (else the
        rule's only target with a role)."""
        if function is not None:
            found = self._find("AWS::Lambda::Function", function, "FunctionName")
            return str(found.properties["Role"]) if found and "Role" in found.properties else None
        if state_machine is not None:
            found = self._find("AWS::StepFunctions::StateMachine", state_machine, "StateMachineName")
            return str(found.properties["RoleArn"]) if found and "RoleArn" in found.properties else None
        if rule is not None:
            for candidate in self._resources.values():
                if candidate.type != "AWS::Events::Rule":
                    continue
                if rule not in (candidate.arn, candidate.properties.get("Name")):
                    continue
                own_bus = str(candidate.properties.get("EventBusName", "default"))
                if bus is not None and bus.rsplit("/", 1)[-1] != own_bus.rsplit("/", 1)[-1]:
                    continue
                targets = [t for t in candidate.properties.get("Targets") or [] if target_id in (None, t.get("Id"))]
                roles = [str(t["RoleArn"]) for t in targets if "RoleArn" in t]
                return roles[0] if len(roles) == 1 or (roles and target_id) else None
        return None

    def _find(self, kind: str, name_or_arn: str, name_property: str) -> TemplateResource | None:
        for resource in self._resources.values():
            if resource.type == kind and name_or_arn in (resource.arn, resource.properties.get(name_property)):
                return resource
        return None

    def resource(self, arn: str) -> TemplateResource | None:
        """The template resource with that physical ARN (a log group with or without ``:*``)."""
        return self._by_arn.get(arn)

    def resource_by_logical_id(self, logical_id: str) -> TemplateResource | None:
        return self._resources.get(logical_id)

    def resources(self) -> Iterator[TemplateResource]:
        return iter(self._resources.values())

    def key_arn_for(self, resource_arn: str) -> str | None:
        """The customer-managed KMS key encrypting an SNS topic / SQS queue / DynamoDB table / log
        group / secret / state machine, if any: its KmsMasterKeyId (or the type's equivalent) as a
        key ARN, key id, alias name or alias ARN of a key in this template. None for no key or an
        AWS managed key ("alias/aws/sns")."""
        resource = self._by_arn.get(resource_arn)
        if resource is None:
            return None
        path = _KEY_PROPERTY.get(resource.type)
        if path is None:
            return None
        value: Any = resource.properties
        for step in path:
            value = value.get(step) if isinstance(value, Mapping) else None
        if not value:
            return None
        return self._key_arn(str(value))

    def key_arn(self, reference: str) -> str | None:
        """A key of this template from its ARN, key id, alias name or alias ARN (None if not one)."""
        return self._key_arn(reference)

    def _key_arn(self, reference: str) -> str | None:
        if reference in self._key_policies:
            return reference
        for resource in self._resources.values():
            if resource.type == "AWS::KMS::Key" and reference == resource.arn.rsplit("/", 1)[-1]:
                return resource.arn
            if resource.type == "AWS::KMS::Alias":
                alias = str(resource.properties.get("AliasName", ""))
                if reference in (alias, self._env.arn("kms", alias)):
                    return self._key_arn(str(resource.properties.get("TargetKeyId", "")))
        return None

    def statements(self) -> Iterator[tuple[StatementRef, Mapping[str, Any]]]:
        """Every statement of every identity, trust, resource and key policy (resolved), in template order."""
        return iter(self._statements)

    def roles(self) -> dict[str, str]:
        """Role ARN -> logical id, for every role of the template."""
        return {arn: role.logical_id for arn, role in self._roles.items()}

    def granted_actions(self, principal_arn: str) -> set[str]:
        """The actions a principal is granted, expanded from wildcards against the action data:
        for a role, its identity policies' Allow statements; for a service principal, the resource
        and key policy statements naming it. Resources and conditions are not considered."""
        patterns: list[tuple[Statement, bool]] = []
        role = self._role(principal_arn)
        if role is not None:
            patterns = [(s, True) for policy in role.identity for s in policy.statements]
        else:
            principal = Principal(
                principal_arn, "service" if "." in principal_arn and ":" not in principal_arn else "account"
            )
            policies = [parts.policy() for parts in self._resource_policies.values()]
            policies += list(self._key_policies.values())
            for policy in policies:
                patterns += [(s, True) for s in policy.statements if principal_matches(s, principal) == "direct"]
        granted: set[str] = set()
        for statement, _ in patterns:
            if statement.effect != "Allow":
                continue
            expanded: set[str] = set()
            for pattern in statement.actions:
                expanded |= action_data.expand(pattern)
            if statement.not_action:
                expanded = action_data.expand("*") - expanded
            granted |= expanded
        return granted

    def _role(self, arn: str) -> _Role | None:
        role = self._roles.get(arn)
        if role is None and ":assumed-role/" in arn:  # arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION
            name = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
            role = next((r for r in self._roles.values() if r.name == name), None)
        return role

    def _resource_policy(self, arn: str) -> Policy | None:
        parts = self._resource_policies.get(arn)
        if parts is None and ":dynamodb:" in arn and "/index/" in arn:
            parts = self._resource_policies.get(arn.split("/index/", 1)[0])
        if parts is None and ":logs:" in arn:
            parts = self._logs_policy
        if parts is None:
            role = self._roles.get(arn)
            if role is not None:
                return role.trust  # sts:AssumeRole on a role: its trust policy is the resource policy
        return parts.policy() if parts else None

    def evaluate(self, request: AuthorizationRequest) -> Decision:
        """AWS's policy evaluation logic for one account (IAM User Guide, "Policy evaluation logic"
        and "Determining whether a request is allowed or denied within an account"): an explicit
        Deny in any applicable policy wins; else an Allow in the principal's identity policies OR
        in the resource's policy; else implicit deny. KMS: the key policy is the root of access
        (an identity policy counts only where the key policy delegates to the account via
        "arn:aws:iam::ACCOUNT:root"). Service principals have no identity policy: only resource and
        key policies can allow them. Conditions: every operator of IAM's list, set operators and
        policy variables (snacks.local.iam.conditions)."""
        principal = request.principal
        identity: list[Policy] = []
        label = principal.arn
        if principal.kind == "role":
            role = self._role(principal.arn)
            if role is not None:
                identity = role.identity
                label = f"role {role.name}"
            else:
                label = f"role {principal.arn} (not in the template)"
        key_policy = self._key_policies.get(request.resource)
        resource_policy = None if key_policy is not None else self._resource_policy(request.resource)
        return decide(
            request,
            identity=identity,
            resource_policy=resource_policy,
            key_policy=key_policy,
            principal_label=label,
        )
