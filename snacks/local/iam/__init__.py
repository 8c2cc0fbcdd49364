"""IAM for the local stack: AWS's policy evaluation logic over the synthesized template's policies.

Free of moto and HTTP. ``PolicyStore.from_template`` collects roles, identity, resource and key
policies; ``requests_for`` says what one API call needs authorized; ``PolicyStore.evaluate`` decides
as AWS's "Policy evaluation logic" page describes.
"""

from snacks.local.iam.actions import requests_for
from snacks.local.iam.model import (
    ActionRequest,
    AuthorizationRequest,
    ContextValue,
    Decision,
    PolicyError,
    Principal,
    StatementRef,
    TemplateResource,
)
from snacks.local.iam.store import PolicyStore

__all__ = [
    "ActionRequest",
    "AuthorizationRequest",
    "ContextValue",
    "Decision",
    "PolicyError",
    "PolicyStore",
    "Principal",
    "StatementRef",
    "TemplateResource",
    "requests_for",
]
