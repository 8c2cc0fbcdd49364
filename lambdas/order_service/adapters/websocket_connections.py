"""Posting to WebSocket clients through API Gateway's Management API (``ConnectionPoster``).

``PostToConnection`` answers 410 ``GoneException`` for a connection that has closed
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-how-to-call-websocket-api-connections.html);
that is an expected outcome here, not an error.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from order_service.adapters.aws_errors import error_code, transient_errors_as
from order_service.adapters.clients import management_client

GONE = "GoneException"


class ManagementApiPoster:
    def __init__(self, endpoint_url: str, client: Any = None) -> None:
        self._client = client if client is not None else management_client(endpoint_url)

    def post(self, connection_id: str, data: bytes) -> bool:
        with transient_errors_as("API Gateway"):
            try:
                self._client.post_to_connection(ConnectionId=connection_id, Data=data)
            except ClientError as error:
                if error_code(error) == GONE:
                    return False
                raise
        return True


def management_endpoint(domain_name: str, stage: str) -> str:
    """The callback URL of a WebSocket stage, as a handler learns it from its event's requestContext."""
    return f"https://{domain_name}/{stage}"
