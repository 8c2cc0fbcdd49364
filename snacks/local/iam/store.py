"""``PolicyStore``: every role, identity policy, resource policy and key policy of one template."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from snacks.local.iam.model import AuthorizationRequest, Decision, StatementRef, TemplateResource


class PolicyStore:
    """The permissions of one synthesized template, resolved to physical ARNs."""

    @classmethod
    def from_template(
        cls, template: Mapping[str, Any], *, account: str, region: str, partition: str = "aws"
    ) -> PolicyStore:
        """Resolve intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split,
        AWS::AccountId/Region/Partition/URLSuffix/StackName) to the physical ARNs the local stack
        uses (physical names are explicit in the template's properties); collect every role
        (trust policy, inline Policies, AWS::IAM::Policy / ManagedPolicy attached to it, AWS managed
        policy ARNs it names), and every resource policy: AWS::SNS::TopicPolicy, AWS::SQS::QueuePolicy,
        AWS::Lambda::Permission, AWS::KMS::Key KeyPolicy, AWS::Logs::ResourcePolicy,
        AWS::Events::EventBusPolicy. Validates every statement; raises PolicyError (one line)."""
        raise NotImplementedError

    def role_arn_of(
        self,
        *,
        function: str | None = None,
        state_machine: str | None = None,
        rule: str | None = None,
        target_id: str | None = None,
        bus: str | None = None,
    ) -> str | None:
        """The role a function runs as / a state machine assumes / an EventBridge rule target uses."""
        raise NotImplementedError

    def resource(self, arn: str) -> TemplateResource | None:
        """The template resource with that physical ARN."""
        raise NotImplementedError

    def key_arn_for(self, resource_arn: str) -> str | None:
        """The customer-managed KMS key encrypting an SNS topic / SQS queue / DynamoDB table / log
        group, if any (resolved from the template)."""
        raise NotImplementedError

    def statements(self) -> Iterator[tuple[StatementRef, Mapping[str, Any]]]:
        """Every statement of every identity, resource and key policy."""
        raise NotImplementedError

    def granted_actions(self, principal_arn: str) -> set[str]:
        """The actions the principal's identity policies allow, expanded from wildcards."""
        raise NotImplementedError

    def evaluate(self, request: AuthorizationRequest) -> Decision:
        """AWS's policy evaluation logic for one account (IAM User Guide, "Policy evaluation logic"
        and "Determining whether a request is allowed or denied within an account"): an explicit
        Deny in any applicable policy wins; else an Allow in the principal's identity policies OR
        in the resource's policy; else implicit deny. KMS: the key policy is the root of access
        (an identity policy counts only where the key policy delegates to the account via
        "arn:aws:iam::ACCOUNT:root"). Service principals have no identity policy: only resource and
        key policies can allow them."""
        raise NotImplementedError
