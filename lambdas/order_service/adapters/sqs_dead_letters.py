"""The dead-letter queue behind the ``DeadLetterQueue`` port."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from order_service.adapters.aws_errors import transient_errors_as
from order_service.domain.order_recovery import DeadLetter

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# Long enough to decide about every message of a replay in one pass; released explicitly when kept.
HIDE_WHILE_WORKING_SECONDS = 120
# Listing only has to keep one pass from receiving a message twice; an interrupted listing then
# hides nothing for long (and a normal one releases what it saw at once).
HIDE_WHILE_LISTING_SECONDS = 30
# Long polling asks every SQS server, so an empty answer means "nothing visible" rather than "this
# sample of servers had nothing" (short polling, WaitTimeSeconds=0, may answer empty while messages
# exist): https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
LONG_POLL_SECONDS = 1
# ApproximateNumberOfMessages is eventually consistent: stop after this many empty long polls even
# if it promised more.
EMPTY_LONG_POLLS_BEFORE_GIVING_UP = 2


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int  # received by someone (a listing, a replay) and hidden until their visibility timeout


class SqsDeadLetterQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def depth(self) -> QueueDepth:
        with transient_errors_as("SQS"):
            attributes = self._client.get_queue_attributes(
                QueueUrl=self._url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        return QueueDepth(
            visible=int(attributes.get("ApproximateNumberOfMessages", "0")),
            in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
        )

    def receive_all(self, hide_for_seconds: int = HIDE_WHILE_WORKING_SECONDS) -> list[DeadLetter]:
        """Every visible message, hidden for ``hide_for_seconds``; released again if interrupted."""
        expected = self.depth().visible
        letters: dict[str, DeadLetter] = {}
        empty_polls = 0
        try:
            with transient_errors_as("SQS"):
                while empty_polls < EMPTY_LONG_POLLS_BEFORE_GIVING_UP:
                    response = self._client.receive_message(
                        QueueUrl=self._url,
                        MaxNumberOfMessages=10,
                        VisibilityTimeout=hide_for_seconds,
                        MessageAttributeNames=["All"],
                        WaitTimeSeconds=LONG_POLL_SECONDS,
                    )
                    messages = response.get("Messages", [])
                    for message in messages:
                        letter = _letter(message)
                        letters.setdefault(letter.message_id, letter)
                    if expected and len(letters) >= expected:
                        break  # everything announced is here (what arrives later, the next listing sees)
                    empty_polls = 0 if messages else empty_polls + 1
        except BaseException:
            self.release(letters.values())
            raise
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


def _letter(message: Any) -> DeadLetter:
    attributes = {name: value.get("StringValue", "") for name, value in message.get("MessageAttributes", {}).items()}
    return DeadLetter.parse(message["MessageId"], message["ReceiptHandle"], message.get("Body", ""), attributes)
