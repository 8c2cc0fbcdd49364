"""A secret is authorized on its full ARN, however the caller names it.

Secrets Manager appends "a hyphen and six random characters" to every secret's ARN (AWS Secrets
Manager User Guide, "What's in a Secrets Manager secret?", section "Secret ARN"), and GetSecretValue's
SecretId takes "the ARN or name of the secret" (API reference, GetSecretValue). A policy grants the
full ARN (CDK's ``Secret.grantRead`` names ``Ref`` of the secret, which is that ARN), so AWS must
authorize a call by name against the full ARN. Without that the payment callers, who read the Stripe
key by name, were denied locally while AWS allows them.
"""

from __future__ import annotations

import io
from typing import Any

from snacks.local.iam import PolicyStore
from snacks.local.iam_enforcement import Caller, Enforcer

ACCOUNT, REGION = "123456789012", "us-east-1"
SECRET_NAME = "shop/stripe-secret-key"


def template() -> dict[str, Any]:
    def role(statements: list[dict[str, Any]]) -> dict[str, Any]:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        properties: dict[str, Any] = {"AssumeRolePolicyDocument": trust}
        if statements:
            document = {"Version": "2012-10-17", "Statement": statements}
            properties["Policies"] = [{"PolicyName": "inline", "PolicyDocument": document}]
        return {"Type": "AWS::IAM::Role", "Properties": properties}

    read = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "StripeSecret"}}
    return {
        "Resources": {
            "StripeSecret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": SECRET_NAME}},
            "PaymentRole": role([read]),
            "OtherRole": role([]),
        }
    }


def enforcer() -> Enforcer:
    store = PolicyStore.from_template(template(), account=ACCOUNT, region=REGION)
    return Enforcer(store, mode="enforce", account=ACCOUNT, region=REGION, log=io.StringIO())


def caller(enforcer: Enforcer, logical_id: str) -> Caller:
    resource = enforcer.store.resource_by_logical_id(logical_id)
    assert resource is not None
    return Caller(enforcer.role(resource.arn), session="fn")


def test_a_secret_read_by_name_or_by_any_arn_form_is_authorized_on_the_secrets_full_arn() -> None:
    checker = enforcer()
    payment = caller(checker, "PaymentRole")
    secret_arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{SECRET_NAME}"
    for secret_id in (
        SECRET_NAME,  # by name, as the functions read it
        secret_arn,  # a partial ARN (no six characters)
        f"{secret_arn}-AbC123",  # the full ARN moto gave it (its own six characters)
    ):
        assert checker.check_call(payment, "secretsmanager", "GetSecretValue", {"SecretId": secret_id}) is None


def test_a_role_without_the_grant_is_still_refused_the_secret() -> None:
    checker = enforcer()
    denied = checker.check_call(
        caller(checker, "OtherRole"), "secretsmanager", "GetSecretValue", {"SecretId": SECRET_NAME}
    )
    assert denied is not None
    assert "secretsmanager:GetSecretValue" in str(denied)


def test_another_secret_of_a_longer_name_is_not_taken_for_this_one() -> None:
    checker = enforcer()
    payment = caller(checker, "PaymentRole")
    other = f"{SECRET_NAME}-for-someone-else"
    assert checker.check_call(payment, "secretsmanager", "GetSecretValue", {"SecretId": other}) is not None
