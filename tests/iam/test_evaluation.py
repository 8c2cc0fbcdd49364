"""AWS's policy evaluation logic, pinned by the AWS pages' own examples (each test cites its page)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snacks.local.iam import PolicyError, Principal
from snacks.local.iam.evaluation import decide
from tests.iam.builders import ACCOUNT, EVENTS, ROLE, ROOT, policy, request

EVAL_LOGIC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html"
)
OPERATORS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"
MULTI = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html"
KMS_KEY_POLICIES = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html"

TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:order-dlq"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:order-status"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def when(
    operator: str, key: str, value: Any, *, action: str = "s3:GetObject", context: dict[str, Any] | None = None
) -> bool:
    """Whether an identity allow with this one condition lets the request through."""
    identity = policy("identity", allow(action, Condition={operator: {key: value}}))
    return decide(request(action, "arn:aws:s3:::bucket/key", context), identity=[identity]).allowed


# --- the decision flow ("Determining whether a request is allowed or denied within an account") ----


def test_by_default_every_request_is_implicitly_denied() -> None:
    """EVAL_LOGIC: "By default, all requests are implicitly denied"."""
    decision = decide(request("dynamodb:GetItem", TABLE))
    assert (decision.allowed, decision.reason) == (False, "implicit-deny")
    assert decision.missing == (f"no identity policy of {ROLE.arn} allows it",)


def test_an_identity_allow_grants_the_request() -> None:
    identity = policy("identity", allow("dynamodb:GetItem", TABLE))
    decision = decide(request("dynamodb:GetItem", TABLE), identity=[identity])
    assert decision.allowed and decision.reason == "allowed"
    assert [ref.index for ref in decision.matched] == [0]


def test_an_explicit_deny_in_any_policy_overrides_every_allow() -> None:
    """EVAL_LOGIC: "An explicit deny in any policy overrides any allows"."""
    identity = policy("identity", allow("dynamodb:*", "*"))
    resource = policy("resource", deny("dynamodb:GetItem", TABLE, Principal="*"), owner="table Orders")
    decision = decide(request("dynamodb:GetItem", TABLE), identity=[identity], resource_policy=resource)
    assert (decision.allowed, decision.reason) == (False, "explicit-deny")
    assert decision.matched[0].index == 0


def test_within_one_account_a_resource_policy_naming_the_role_allows_without_identity_policy() -> None:
    """EVAL_LOGIC: within an account, an allow in an identity-based OR a resource-based policy grants."""
    resource = policy("resource", allow("sqs:SendMessage", QUEUE, Principal={"AWS": ROLE.arn}), owner="queue order-dlq")
    assert decide(request("sqs:SendMessage", QUEUE), resource_policy=resource).allowed


def test_a_resource_policy_naming_only_the_account_delegates_to_identity_policies() -> None:
    """IAM "AWS JSON policy elements: Principal", AWS account principals: naming an account in a
    resource policy "delegates authority to the account"; an identity policy must still allow."""
    resource = policy("resource", allow("sqs:SendMessage", QUEUE, Principal={"AWS": ACCOUNT}), owner="queue order-dlq")
    decision = decide(request("sqs:SendMessage", QUEUE), resource_policy=resource)
    assert not decision.allowed
    assert "delegates" in decision.missing[1]
    identity = policy("identity", allow("sqs:SendMessage", QUEUE))
    assert decide(request("sqs:SendMessage", QUEUE), identity=[identity], resource_policy=resource).allowed


def test_a_service_principal_is_allowed_only_by_the_resource_policy() -> None:
    """A service principal has no identity-based policy; the topic policy must name it."""
    identity = policy("identity", allow("sns:Publish", "*"))
    decision = decide(request("sns:Publish", TOPIC, principal=EVENTS), identity=[identity])
    assert not decision.allowed
    assert decision.missing[-1] == "the resource has no resource policy"
    topic = policy(
        "resource", allow("sns:Publish", TOPIC, Principal={"Service": "events.amazonaws.com"}), owner="topic"
    )
    assert decide(request("sns:Publish", TOPIC, principal=EVENTS), resource_policy=topic).allowed
    other = policy(
        "resource", allow("sns:Publish", TOPIC, Principal={"Service": "cloudwatch.amazonaws.com"}), owner="t"
    )
    assert not decide(request("sns:Publish", TOPIC, principal=EVENTS), resource_policy=other).allowed


def test_not_principal_matches_everyone_else() -> None:
    """IAM "AWS JSON policy elements: NotPrincipal"."""
    resource = policy("resource", deny("sqs:*", QUEUE, NotPrincipal={"AWS": ROLE.arn}), owner="queue")
    grant = policy("identity", allow("sqs:*", "*"))
    assert decide(request("sqs:SendMessage", QUEUE), identity=[grant], resource_policy=resource).allowed
    other = Principal(f"arn:aws:iam::{ACCOUNT}:role/order-processor-role", "role")
    decision = decide(request("sqs:SendMessage", QUEUE, principal=other), identity=[grant], resource_policy=resource)
    assert decision.reason == "explicit-deny"


# --- KMS: the key policy is the root of access ---------------------------------------------------


def test_kms_identity_policy_counts_only_when_the_key_policy_delegates_to_the_account() -> None:
    """KMS_KEY_POLICIES: "Unless the key policy explicitly allows it, you cannot use IAM policies to
    allow access to a KMS key"; the default key policy's root statement "enables IAM policies"."""
    identity = policy("identity", allow("kms:Decrypt", KEY))
    only_service = policy(
        "key", allow("kms:Decrypt", "*", Principal={"Service": "events.amazonaws.com"}), owner="key K"
    )
    decision = decide(request("kms:Decrypt", KEY), identity=[identity], key_policy=only_service)
    assert not decision.allowed
    assert decision.missing[0] == "the key policy of key K has no statement allowing it"
    root = policy("key", allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), owner="key K")
    assert decide(request("kms:Decrypt", KEY), identity=[identity], key_policy=root).allowed
    assert not decide(request("kms:Decrypt", KEY), key_policy=root).allowed  # delegation alone grants nothing
    assert decide(request("kms:Decrypt", KEY, principal=ROOT), key_policy=root).allowed


def test_kms_key_policy_service_statement_with_a_condition_the_service_does_not_send() -> None:
    """The issue-18 case: the key policy's events.amazonaws.com statement demands aws:SourceAccount;
    the decision names that condition when the request lacks the key."""
    key = policy(
        "key",
        allow(
            ["kms:Decrypt", "kms:GenerateDataKey*"],
            "*",
            Principal={"Service": "events.amazonaws.com"},
            Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        ),
        owner="key OrderStatusTopicKey",
    )
    decision = decide(request("kms:GenerateDataKey", KEY, principal=EVENTS), key_policy=key)
    assert not decision.allowed
    assert "aws:SourceAccount not in request context" in decision.missing[0]
    assert decide(request("kms:GenerateDataKey", KEY, {"aws:SourceAccount": ACCOUNT}, EVENTS), key_policy=key).allowed
    text = decision.explain()
    assert "DENIED (implicit deny): events.amazonaws.com (service) -> kms:GenerateDataKey" in text
    assert "near miss: Logical AWS::IAM::Policy PolicyDocument statement 0 [Test/Logical/Resource]" in text


# --- Action / NotAction, Resource / NotResource ---------------------------------------------------


def test_actions_are_case_insensitive_with_wildcards() -> None:
    """IAM "IAM JSON policy elements: Action": action names are not case-sensitive; the page's
    example "iam:*AccessKey*" (also in OPERATORS' first example)."""
    identity = policy("identity", allow("iam:*AccessKey*", f"arn:aws:iam::{ACCOUNT}:user/*"))
    user = f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert decide(request("iam:CreateAccessKey", user), identity=[identity]).allowed
    assert decide(request("IAM:listaccesskeys", user), identity=[identity]).allowed
    assert not decide(request("iam:CreateUser", user), identity=[identity]).allowed
    single = policy("identity", allow("dynamodb:?etItem", TABLE))
    assert decide(request("dynamodb:GetItem", TABLE), identity=[single]).allowed
    assert not decide(request("dynamodb:BatchGetItem", TABLE), identity=[single]).allowed


def test_resource_arns_are_case_sensitive() -> None:
    """IAM "IAM JSON policy elements: Resource": ARNs are case-sensitive."""
    identity = policy("identity", allow("dynamodb:GetItem", TABLE))
    assert not decide(request("dynamodb:GetItem", TABLE.replace("Orders", "orders")), identity=[identity]).allowed


def test_resource_wildcard_covers_an_index_only_when_written() -> None:
    """A table ARN does not cover its index ARN (DynamoDB "Using IAM policy conditions for
    fine-grained access control": indexes are resources "table/T/index/I")."""
    identity = policy("identity", allow("dynamodb:Query", [TABLE]))
    index = f"{TABLE}/index/by-status"
    assert not decide(request("dynamodb:Query", index), identity=[identity]).allowed
    both = policy("identity", allow("dynamodb:Query", [TABLE, f"{TABLE}/index/*"]))
    assert decide(request("dynamodb:Query", index), identity=[both]).allowed


def test_not_action_allows_everything_but_the_listed_actions() -> None:
    """IAM "IAM JSON policy elements: NotAction": Allow + NotAction grants every other action."""
    identity = policy("identity", {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decide(request("sqs:SendMessage", QUEUE), identity=[identity]).allowed
    assert not decide(request("iam:CreateUser", "*"), identity=[identity]).allowed


def test_not_resource_denies_everywhere_but_the_listed_resource() -> None:
    """IAM "IAM JSON policy elements: NotResource" (Deny with NotResource)."""
    identity = policy(
        "identity", allow("dynamodb:*", "*"), {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": TABLE}
    )
    assert decide(request("dynamodb:GetItem", TABLE), identity=[identity]).allowed
    assert decide(request("dynamodb:GetItem", TABLE + "X"), identity=[identity]).reason == "explicit-deny"


def test_resource_policy_variable() -> None:
    """IAM "IAM policy elements: Variables and tags": ${aws:username} in a Resource; a missing key
    makes the element not match."""
    identity = policy("identity", allow("s3:GetObject", "arn:aws:s3:::bucket/home/${aws:username}/*"))
    mine = "arn:aws:s3:::bucket/home/alice/a.txt"
    assert decide(request("s3:GetObject", mine, {"aws:username": "alice"}), identity=[identity]).allowed
    assert not decide(request("s3:GetObject", mine, {"aws:username": "bob"}), identity=[identity]).allowed
    assert not decide(request("s3:GetObject", mine), identity=[identity]).allowed


# --- Condition operators (OPERATORS page, its own examples) --------------------------------------


def test_string_equals_missing_key_is_false() -> None:
    """OPERATORS, String example: aws:PrincipalTag/job-category must equal iamuser-admin; "If the key
    that you specify in a policy condition is not present in the request context, the values do not match"."""
    key = "aws:PrincipalTag/job-category"
    assert when("StringEquals", key, "iamuser-admin", context={key: "iamuser-admin"})
    assert not when("StringEquals", key, "iamuser-admin", context={key: "IAMUSER-ADMIN"})
    assert when("StringEqualsIgnoreCase", key, "iamuser-admin", context={key: "IAMUSER-ADMIN"})
    assert not when("StringEquals", key, "iamuser-admin")


def test_negated_operator_with_missing_key_is_true() -> None:
    """OPERATORS, Important: "If the policy condition requires that the key is not matched, such as
    StringNotLike or ArnNotLike, and the right key is not present, the condition is true"."""
    assert when("StringNotLike", "aws:SourceVpc", "vpc-*")
    assert when("ArnNotLike", "aws:SourceArn", "arn:aws:sns:*:*:*")
    assert not when("StringNotLike", "aws:SourceVpc", "vpc-*", context={"aws:SourceVpc": "vpc-1"})


def test_string_like_wildcards_and_policy_variables() -> None:
    """OPERATORS, StringLike example: s3:prefix ["", "home/", "home/${aws:username}/"]."""
    values = ["", "home/", "home/${aws:username}/"]
    assert when("StringLike", "s3:prefix", values, context={"s3:prefix": "home/alice/", "aws:username": "alice"})
    assert not when("StringLike", "s3:prefix", values, context={"s3:prefix": "home/bob/", "aws:username": "alice"})
    assert when("StringLike", "s3:prefix", "home/*", context={"s3:prefix": "home/x/y"})
    assert when("StringLike", "s3:prefix", "h?me", context={"s3:prefix": "home"})
    assert not when("StringEquals", "s3:prefix", "home/*", context={"s3:prefix": "home/x"})  # no wildcards


def test_multiple_values_are_ored_and_negated_operators_nor_them() -> None:
    """IAM "Creating a condition with multiple context keys or values": values of one key are OR-ed;
    a negated operator with several values holds when the request matches none of them."""
    key = "aws:PrincipalTag/department"
    values = ["finance", "hr", "legal"]
    assert when("StringEquals", key, values, context={key: "hr"})
    assert not when("StringEquals", key, values, context={key: "sales"})
    assert when("StringNotEquals", key, values, context={key: "sales"})
    assert not when("StringNotEquals", key, values, context={key: "hr"})


def test_multiple_keys_and_operators_are_anded() -> None:
    """The same page: several keys or operators in one Condition must all hold."""
    identity = policy(
        "identity",
        allow(
            "sqs:SendMessage",
            QUEUE,
            Condition={
                "ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/*"},
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
            },
        ),
    )
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/r"
    both = {"aws:SourceArn": rule, "aws:SourceAccount": ACCOUNT}
    assert decide(request("sqs:SendMessage", QUEUE, both), identity=[identity]).allowed
    assert not decide(request("sqs:SendMessage", QUEUE, {"aws:SourceArn": rule}), identity=[identity]).allowed


def test_numeric_operators() -> None:
    """OPERATORS, Numeric example: s3:max-keys NumericLessThanEquals 10."""
    assert when("NumericLessThanEquals", "s3:max-keys", "10", context={"s3:max-keys": "10"})
    assert not when("NumericLessThanEquals", "s3:max-keys", "10", context={"s3:max-keys": 11})
    assert when("NumericLessThan", "s3:max-keys", "10", context={"s3:max-keys": "9"})
    assert when("NumericGreaterThan", "s3:max-keys", "10", context={"s3:max-keys": "10.5"})
    assert when("NumericGreaterThanEquals", "s3:max-keys", "10", context={"s3:max-keys": "10"})
    assert when("NumericEquals", "s3:max-keys", "10", context={"s3:max-keys": "10.0"})
    assert when("NumericNotEquals", "s3:max-keys", "10", context={"s3:max-keys": "3"})
    assert not when("NumericEquals", "s3:max-keys", "10", context={"s3:max-keys": "ten"})


def test_date_operators_take_iso_8601_or_epoch() -> None:
    """OPERATORS, Date example: aws:TokenIssueTime DateGreaterThan "2020-01-01T00:00:01Z"; values
    may be ISO 8601 or epoch (UNIX) time."""
    key = "aws:TokenIssueTime"
    assert when("DateGreaterThan", key, "2020-01-01T00:00:01Z", context={key: "2020-01-02T00:00:00Z"})
    assert not when("DateGreaterThan", key, "2020-01-01T00:00:01Z", context={key: "2019-12-31T00:00:00Z"})
    assert when("DateLessThan", key, "1577836801", context={key: "2019-12-31T00:00:00Z"})
    assert when("DateEquals", key, "2020-01-01T00:00:00Z", context={key: "1577836800"})
    assert when("DateNotEquals", key, "2020-01-01T00:00:00Z", context={key: "1577836801"})
    assert when("DateLessThanEquals", key, "2020-01-01T00:00:00Z", context={key: "2020-01-01T00:00:00Z"})
    assert when("DateGreaterThanEquals", key, "2020-01-01T00:00:00Z", context={key: "2020-01-01T00:00:00Z"})


def test_bool_secure_transport_deny() -> None:
    """OPERATORS, Boolean example: deny when aws:SecureTransport is false."""
    identity = policy(
        "identity",
        allow("sqs:SendMessage", QUEUE),
        deny("sqs:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
    )
    assert decide(request("sqs:SendMessage", QUEUE, {"aws:SecureTransport": True}), identity=[identity]).allowed
    denied = decide(request("sqs:SendMessage", QUEUE, {"aws:SecureTransport": False}), identity=[identity])
    assert denied.reason == "explicit-deny"
    # The key absent: Bool is false, so the deny does not apply.
    assert decide(request("sqs:SendMessage", QUEUE), identity=[identity]).allowed


def test_binary_equals_compares_base64() -> None:
    """OPERATORS, Binary example: "key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="."""
    value = "QmluYXJ5VmFsdWVJbkJhc2U2NA=="
    assert when("BinaryEquals", "key", value, context={"key": value})
    assert not when("BinaryEquals", "key", value, context={"key": "b3RoZXI="})


def test_ip_address_and_not_ip_address() -> None:
    """OPERATORS, IP address example: aws:SourceIp "203.0.113.0/24"."""
    assert when("IpAddress", "aws:SourceIp", "203.0.113.0/24", context={"aws:SourceIp": "203.0.113.7"})
    assert not when("IpAddress", "aws:SourceIp", "203.0.113.0/24", context={"aws:SourceIp": "198.51.100.1"})
    assert when("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", context={"aws:SourceIp": "198.51.100.1"})
    assert when(
        "IpAddress", "aws:SourceIp", "2001:DB8:1234:5678::/64", context={"aws:SourceIp": "2001:db8:1234:5678::1"}
    )


def test_arn_like_checks_each_arn_component() -> None:
    """OPERATORS, ARN example: an SQS queue policy allowing SendMessage from one SNS topic with
    ArnEquals aws:SourceArn; each of the six components is matched separately."""
    topic = "arn:aws:sns:us-east-1:123456789012:TOPIC-ID"
    assert when("ArnEquals", "aws:SourceArn", topic, context={"aws:SourceArn": topic})
    assert when("ArnLike", "aws:SourceArn", "arn:aws:sns:*:123456789012:*", context={"aws:SourceArn": topic})
    assert not when("ArnLike", "aws:SourceArn", "arn:aws:sns:*:999999999999:*", context={"aws:SourceArn": topic})
    # "*" in the region component does not run into the account component.
    assert not when("ArnLike", "aws:SourceArn", "arn:aws:sns:*:TOPIC-ID", context={"aws:SourceArn": topic})
    assert when("ArnNotEquals", "aws:SourceArn", topic + "x", context={"aws:SourceArn": topic})
    assert not when("ArnNotLike", "aws:SourceArn", "arn:aws:sns:*:*:*", context={"aws:SourceArn": topic})


def test_if_exists_is_true_when_the_key_is_absent() -> None:
    """OPERATORS, ...IfExists: "If the policy key is present in the context of the request, process
    the key as specified in the policy. If the key is not present, evaluate the condition element as true"."""
    values = ["t1.*", "t2.*", "m3.*"]
    assert when("StringLikeIfExists", "ec2:InstanceType", values)
    assert when("StringLikeIfExists", "ec2:InstanceType", values, context={"ec2:InstanceType": "t2.micro"})
    assert not when("StringLikeIfExists", "ec2:InstanceType", values, context={"ec2:InstanceType": "c5.large"})


def test_null_checks_presence() -> None:
    """OPERATORS, Null example: "Null": {"aws:TokenIssueTime": "true"} (key absent)."""
    assert when("Null", "aws:TokenIssueTime", "true")
    assert not when("Null", "aws:TokenIssueTime", "true", context={"aws:TokenIssueTime": "2020-01-01T00:00:00Z"})
    assert when("Null", "aws:TokenIssueTime", "false", context={"aws:TokenIssueTime": "2020-01-01T00:00:00Z"})


def test_for_all_values_is_true_for_a_missing_or_empty_key() -> None:
    """MULTI: ForAllValues "returns true if there are no context keys in the request"; every
    request value must match one policy value."""
    values = ["environment", "cost-center"]
    assert when("ForAllValues:StringEquals", "aws:TagKeys", values)
    assert when("ForAllValues:StringEquals", "aws:TagKeys", values, context={"aws:TagKeys": []})
    assert when("ForAllValues:StringEquals", "aws:TagKeys", values, context={"aws:TagKeys": ["environment"]})
    assert not when(
        "ForAllValues:StringEquals", "aws:TagKeys", values, context={"aws:TagKeys": ["environment", "owner"]}
    )


def test_for_any_value_is_false_for_a_missing_or_empty_key() -> None:
    """MULTI: ForAnyValue needs at least one request value to match; false when the key is missing or empty."""
    values = ["environment", "cost-center"]
    assert not when("ForAnyValue:StringEquals", "aws:TagKeys", values)
    assert not when("ForAnyValue:StringEquals", "aws:TagKeys", values, context={"aws:TagKeys": []})
    assert when("ForAnyValue:StringEquals", "aws:TagKeys", values, context={"aws:TagKeys": ["owner", "environment"]})
    assert not when("ForAnyValue:StringEquals", "aws:TagKeys", values, context={"aws:TagKeys": ["owner"]})
    # A negated operator: at least one request value matches none of the policy values.
    assert when("ForAnyValue:StringNotEquals", "aws:TagKeys", values, context={"aws:TagKeys": ["environment", "x"]})
    assert not when(
        "ForAllValues:StringNotEquals", "aws:TagKeys", values, context={"aws:TagKeys": ["environment", "x"]}
    )


def test_condition_key_names_are_case_insensitive() -> None:
    """IAM "IAM JSON policy elements: Condition": "Condition key names are not case-sensitive"."""
    assert when("StringEquals", "aws:SourceAccount", ACCOUNT, context={"AWS:sourceaccount": ACCOUNT})


# --- bad policies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (allow("s3:GetObject", Condition={"StringEqualz": {"k": "v"}}), "unknown condition operator 'StringEqualz'"),
        (allow("s3:GetObject", Condition={"ForSomeValues:StringEquals": {"k": "v"}}), "unknown condition operator"),
        (allow("s3:GetObject", Condition={"NullIfExists": {"k": "true"}}), "Null takes no qualifier"),
        ({"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}, "Effect must be Allow or Deny"),
        ({"Effect": "Allow", "Resource": "*"}, "exactly one of Action / NotAction"),
        ({"Effect": "Allow", "Action": "s3:GetObject"}, "needs Resource or NotResource"),
        (allow("s3:GetObject", Principal="*"), "cannot name a Principal"),
        (allow("GetObject"), "is not service:action"),
        (allow("s3:GetObject", Actions="x"), "unknown element(s) ['Actions']"),
    ],
)
def test_a_policy_iam_would_refuse_is_a_one_line_error_naming_the_statement(
    statement: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError) as error:
        policy("identity", allow("s3:ListBucket"), {**statement, "Sid": "Bad"})
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith("Logical AWS::IAM::Policy PolicyDocument statement 1 (Sid Bad): ")
    assert message in text


# --- properties ---------------------------------------------------------------------------------

_ACTIONS = st.sampled_from(["dynamodb:GetItem", "dynamodb:PutItem", "sqs:SendMessage", "sns:Publish", "kms:Decrypt"])
_PATTERNS = st.sampled_from(["*", "dynamodb:*", "dynamodb:GetItem", "sqs:Send*", "sns:Publish", "kms:*", "*:Get*"])
_RESOURCES = st.sampled_from([TABLE, QUEUE, TOPIC, "*", "arn:aws:*:us-east-1:*:*"])


@st.composite
def _statements(draw: st.DrawFn) -> dict[str, Any]:
    effect = draw(st.sampled_from(["Allow", "Deny"]))
    return {"Effect": effect, "Action": draw(st.lists(_PATTERNS, min_size=1, max_size=3)), "Resource": draw(_RESOURCES)}


@settings(deadline=None)  # no timing in a unit test: a loaded machine must not fail it
@given(st.lists(_statements(), min_size=1, max_size=6), _ACTIONS, st.sampled_from([TABLE, QUEUE, TOPIC]))
def test_a_matching_deny_always_wins(statements: list[dict[str, Any]], action: str, resource: str) -> None:
    """EVAL_LOGIC: an explicit deny overrides any allow, whatever else the policies say."""
    blocker = deny(action, resource)
    identity = policy("identity", *statements, blocker)
    assert decide(request(action, resource), identity=[identity]).reason == "explicit-deny"


@settings(deadline=None)
@given(st.lists(_statements(), min_size=1, max_size=6), _ACTIONS, st.sampled_from([TABLE, QUEUE, TOPIC]))
def test_the_verdict_is_deny_wins_then_any_allow(statements: list[dict[str, Any]], action: str, resource: str) -> None:
    """EVAL_LOGIC's flow, restated independently: denied if any matching Deny, else allowed iff any matching Allow."""
    identity = policy("identity", *statements)
    decision = decide(request(action, resource), identity=[identity])

    def hits(statement: dict[str, Any]) -> bool:
        import fnmatch

        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in statement["Action"]) and (
            statement["Resource"] in ("*", resource) or fnmatch.fnmatchcase(resource, statement["Resource"])
        )

    matching = [s["Effect"] for s in statements if hits(s)]
    expected = "explicit-deny" if "Deny" in matching else "allowed" if "Allow" in matching else "implicit-deny"
    assert decision.reason == expected


def test_aws_star_principal_means_every_principal_including_services() -> None:
    """IAM "AWS JSON policy elements: Principal", All principals: "Principal": "*" and
    {"AWS": "*"} are equivalent; CDK's enforceSSL deny uses the latter and must catch service calls."""
    queue = policy("resource", deny("sqs:*", QUEUE, Principal={"AWS": "*"}), owner="queue")
    for principal in (ROLE, EVENTS, ROOT):
        assert decide(request("sqs:SendMessage", QUEUE, principal=principal), resource_policy=queue).reason == (
            "explicit-deny"
        )


def test_explain_names_principal_action_resource_context_verdict_and_deciding_statements() -> None:
    identity = policy(
        "identity",
        {
            **allow("events:PutEvents", "*"),
            "Sid": "Publish",
            "Condition": {"StringEquals": {"events:detail-type": "A"}},
        },
        deny("events:PutEvents", "*", Condition={"StringEquals": {"events:source": "bad"}}),
    )
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/b"
    allowed = decide(
        request("events:PutEvents", bus, {"events:detail-type": "A", "events:source": "ok"}), identity=[identity]
    )
    assert allowed.explain().splitlines() == [
        f"ALLOWED: {ROLE.arn} (role) -> events:PutEvents",
        f"  resource: {bus}",
        "  context:  events:detail-type='A', events:source='ok'",
        "  allowed by: Logical AWS::IAM::Policy PolicyDocument statement 0 (Sid Publish) [Test/Logical/Resource]",
    ]  # the Deny whose condition does not hold is no near miss: only allows that a condition stopped are
    wrong_type = decide(request("events:PutEvents", bus, {"events:detail-type": "B"}), identity=[identity])
    assert wrong_type.explain().splitlines()[-1] == (
        "  near miss: Logical AWS::IAM::Policy PolicyDocument statement 0 (Sid Publish) [Test/Logical/Resource]: "
        "StringEquals events:detail-type 'A': request has 'B'"
    )
    denied = decide(
        request("events:PutEvents", bus, {"events:detail-type": "A", "events:source": "bad"}), identity=[identity]
    )
    assert denied.explain().splitlines()[0] == f"DENIED (explicit deny): {ROLE.arn} (role) -> events:PutEvents"
    assert (
        "  denied by: Logical AWS::IAM::Policy PolicyDocument statement 1 [Test/Logical/Resource]" in denied.explain()
    )
    record = denied.to_log_record()
    assert record["verdict"] == "explicit-deny" and record["action"] == "events:PutEvents"
    assert record["statements"] == ["Logical AWS::IAM::Policy PolicyDocument statement 1"]


def test_the_account_root_user_needs_no_identity_policy_but_explicit_denies_and_key_policies_hold() -> None:
    """IAM User Guide, "AWS account root user": complete access to the account's resources; an
    explicit deny still wins (EVAL_LOGIC), and a KMS key is reachable only as its key policy says
    (KMS_KEY_POLICIES)."""
    allowed = decide(request("dynamodb:GetItem", TABLE, principal=ROOT))
    assert allowed.allowed and "the account's root user" in allowed.explain()
    queue = policy("resource", deny("sqs:*", QUEUE, Principal="*"), owner="queue")
    assert decide(request("sqs:SendMessage", QUEUE, principal=ROOT), resource_policy=queue).reason == "explicit-deny"
    service_only = policy("key", allow("kms:*", "*", Principal={"Service": "sns.amazonaws.com"}), owner="key K")
    assert not decide(request("kms:Decrypt", KEY, principal=ROOT), key_policy=service_only).allowed


def test_a_resource_policy_naming_a_role_matches_its_sessions() -> None:
    """IAM "AWS JSON policy elements: Principal": naming an IAM role matches the sessions that assume it."""
    session = Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/order-creator-role/order-creator", "role")
    queue = policy("resource", allow("sqs:SendMessage", QUEUE, Principal={"AWS": ROLE.arn}), owner="queue")
    assert decide(request("sqs:SendMessage", QUEUE, principal=session), resource_policy=queue).allowed
    other = Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/order-processor-role/s", "role")
    assert not decide(request("sqs:SendMessage", QUEUE, principal=other), resource_policy=queue).allowed


_KEYS = st.sampled_from(["a", "b", "c"])


@settings(deadline=None)
@given(
    st.sampled_from(["String", "Arn", "Numeric", "Date", "Ip"]),
    st.lists(_KEYS, min_size=1, max_size=3),
    _KEYS,
)
def test_a_negated_operator_is_the_negation_when_the_key_is_present(family: str, values: list[str], value: str) -> None:
    """OPERATORS: each Not operator is the negated match (NOR over the policy's values) of its
    positive one; ...IfExists is the base operator whenever the key is present."""
    positive, negative, as_text = {
        "String": ("StringEquals", "StringNotEquals", str),
        "Arn": ("ArnLike", "ArnNotLike", lambda v: f"arn:aws:sns:us-east-1:{ACCOUNT}:{v}"),
        "Numeric": ("NumericEquals", "NumericNotEquals", lambda v: str(ord(v))),
        "Date": ("DateEquals", "DateNotEquals", lambda v: str(1_600_000_000 + ord(v))),
        "Ip": ("IpAddress", "NotIpAddress", lambda v: f"10.0.0.{ord(v)}"),
    }[family]
    key = "k:key"
    listed = [as_text(v) for v in values]
    context = {key: as_text(value)}
    assert when(positive, key, listed, context=context) != when(negative, key, listed, context=context)
    assert when(positive + "IfExists", key, listed, context=context) == when(positive, key, listed, context=context)
