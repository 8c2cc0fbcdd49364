"""Card payments: the Stripe secret key's secret, and a layer with Stripe's official SDK.

The secret is created with a generated placeholder, never the key: a key passed as a context value or
property would sit in clear in the template. The operator puts the real key in once (README, "Card
payments"); until then card orders fail with a clear error and orders paid at pickup are unaffected.
Only the functions that call Stripe may read it (stacks/constructs/functions.py).

The ``stripe`` package is pure Python and not in the Lambda runtime; the layer is the exact release the
tests run (pinned in pyproject.toml, hash-locked), copied from the installed package at synth time: no
download, no Docker, and the same bytes on every synth.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks import definitions as d
from stacks.checkov import skip_checkov

# Distributions the layer carries: the SDK and its one dependency Lambda's runtime lacks (requests, its
# other dependency, is not needed: the adapter uses its own urllib transport).
LAYER_DISTRIBUTIONS = ("stripe", "typing_extensions")
LAYER_BUILD_ROOT = d.REPO_ROOT / "build"


def stripe_layer_dir() -> Path:
    """A directory holding ``python/<packages>`` for the layer, built once per release set (content-addressed,
    renamed into place atomically: parallel synths share it)."""
    versions = "-".join(f"{name}{importlib.metadata.version(name)}" for name in LAYER_DISTRIBUTIONS)
    target = LAYER_BUILD_ROOT / f"stripe-layer-{versions}"
    if target.is_dir():
        return target
    LAYER_BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="stripe-layer-", dir=LAYER_BUILD_ROOT))
    for name in LAYER_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or []:
            if file.suffix not in (".py", ".typed") and not str(file).endswith(("LICENSE", "METADATA")):
                continue
            if "__pycache__" in file.parts:
                continue
            destination = staging / "python" / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(str(distribution.locate_file(file))), destination)
    try:
        os.rename(staging, target)
    except OSError:  # another synth got there first: same content
        shutil.rmtree(staging, ignore_errors=True)
    return target


class Payments(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, names: d.ResourceNames, runtime: lambda_.Runtime,
                 architecture: lambda_.Architecture) -> None:  # fmt: skip
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "StripeSecretKey",
            secret_name=names.stripe_secret,
            description="Stripe secret key (sk_...) for card payments; the stack stores a placeholder: "
            "put the key in with `aws secretsmanager put-secret-value`",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=32),
        )
        rotation = (
            "Stripe secret keys are rolled in Stripe's dashboard, not by a Lambda rotation function; the "
            "functions re-read the secret every 5 minutes (Powertools max_age), so a key rolled there and put "
            "here is used without a deploy."
        )
        NagSuppressions.add_resource_suppressions(
            self.secret, [NagPackSuppression(id="AwsSolutions-SMG4", reason=rotation)]
        )
        skip_checkov(
            self.secret,
            {
                "CKV2_AWS_57": rotation,
                "CKV_AWS_149": "Encrypted with Secrets Manager's AWS managed key (aws/secretsmanager); only the "
                "payment callers' roles (processor, canceller, storefront-api) may read the secret, and a customer "
                "managed key would add cost and key policy upkeep without narrowing that.",
            },
        )
        self.stripe_layer = lambda_.LayerVersion(
            self,
            "StripeLayer",
            code=lambda_.Code.from_asset(str(stripe_layer_dir())),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            description=f"stripe {importlib.metadata.version('stripe')} (Stripe's official Python SDK)",
        )
