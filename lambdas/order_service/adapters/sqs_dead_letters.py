"""The dead-letter queue behind the ``DeadLetterQueue`` port."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from order_service.adapters.aws_errors import transient_errors_as
from order_service.domain.order_recovery import DeadLetter

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# Long enough to decide about every message in one pass; released explicitly when kept.
HIDE_WHILE_WORKING_SECONDS = 120


class SqsDeadLetterQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def receive_all(self) -> list[DeadLetter]:
        letters: dict[str, DeadLetter] = {}
        with transient_errors_as("SQS"):
            while True:
                response = self._client.receive_message(
                    QueueUrl=self._url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=HIDE_WHILE_WORKING_SECONDS,
                    MessageAttributeNames=["All"],
                    WaitTimeSeconds=0,
                )
                messages = response.get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    attributes = {
                        name: value.get("StringValue", "")
                        for name, value in message.get("MessageAttributes", {}).items()
                    }
                    letter = DeadLetter.parse(
                        message["MessageId"], message["ReceiptHandle"], message.get("Body", ""), attributes
                    )
                    letters.setdefault(letter.message_id, letter)
        return list(letters.values())

    def delete(self, letter: DeadLetter) -> None:
        with transient_errors_as("SQS"):
            self._client.delete_message(QueueUrl=self._url, ReceiptHandle=letter.receipt_handle)

    def release(self, letters: Iterable[DeadLetter]) -> None:
        with transient_errors_as("SQS"):
            for letter in letters:
                self._client.change_message_visibility(
                    QueueUrl=self._url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
                )
