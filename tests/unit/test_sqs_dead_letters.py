"""Listing the DLQ on SQS's terms: long polling, approximate counts, messages in flight (moto's SQS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from order_service.adapters.sqs_dead_letters import (
    HIDE_WHILE_LISTING_SECONDS,
    SqsDeadLetterQueue,
)

REGION = "us-east-1"


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def _queue(sqs: Any, messages: int) -> str:
    url: str = sqs.create_queue(QueueName="dlq-under-test")["QueueUrl"]
    for number in range(messages):
        body = {"kind": "OrderFulfillmentFailed", "orderId": f"order-{number}", "failedStep": "Fulfil", "error": "X"}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    return url


def test_receives_more_than_one_batch_with_long_polling(sqs: Any) -> None:
    """SQS "Amazon SQS short and long polling"
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html):
    with WaitTimeSeconds=0 (short polling) SQS samples a subset of its servers and can answer empty
    while messages exist; long polling (WaitTimeSeconds > 0) queries all of them."""
    url = _queue(sqs, 23)
    waits: list[int] = []
    sqs.meta.events.register(
        "provide-client-params.sqs.ReceiveMessage", lambda params, **_: waits.append(params["WaitTimeSeconds"])
    )
    letters = SqsDeadLetterQueue(sqs, url).receive_all(hide_for_seconds=HIDE_WHILE_LISTING_SECONDS)
    assert sorted(letter.order_id or "" for letter in letters) == sorted(f"order-{n}" for n in range(23))
    assert waits and min(waits) > 0, "short polling can miss messages"


def test_a_false_empty_answer_does_not_end_the_listing(sqs: Any) -> None:
    """Even an empty answer is not the end while ApproximateNumberOfMessages says messages are visible
    (same document: an empty response can happen while messages exist)."""
    url = _queue(sqs, 12)
    real_receive = sqs.receive_message
    answers = iter([{"Messages": []}])  # the first answer comes from servers holding nothing
    sqs.receive_message = lambda **kwargs: next(answers, None) or real_receive(**kwargs)
    letters = SqsDeadLetterQueue(sqs, url).receive_all()
    assert len(letters) == 12


def test_counts_what_another_reader_holds_in_flight(sqs: Any) -> None:
    """ApproximateNumberOfMessagesNotVisible: messages received and not yet deleted or released
    (GetQueueAttributes, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html)."""
    url = _queue(sqs, 7)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=600)
    queue = SqsDeadLetterQueue(sqs, url)
    letters = queue.receive_all(hide_for_seconds=HIDE_WHILE_LISTING_SECONDS)
    assert len(letters) == 4
    queue.release(letters)
    assert queue.depth().in_flight == 3
    assert queue.depth().visible == 4


def test_an_interrupted_listing_releases_what_it_had_received(sqs: Any) -> None:
    """A listing stopped half-way (Ctrl-C) must not hide messages for their visibility timeout."""
    url = _queue(sqs, 15)
    real_receive = sqs.receive_message
    calls = {"n": 0}

    def receive_then_interrupt(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_receive(**kwargs)

    sqs.receive_message = receive_then_interrupt
    queue = SqsDeadLetterQueue(sqs, url)
    with pytest.raises(KeyboardInterrupt):
        queue.receive_all()
    assert queue.depth() == queue.depth().__class__(visible=15, in_flight=0)


def test_an_empty_queue_lists_nothing(sqs: Any) -> None:
    """An empty ReceiveMessage answer carries no ``Messages`` key at all (Amazon SQS API Reference,
    ReceiveMessage: "Messages ... Required: No"; moto answers ``{}`` the same way)."""
    assert SqsDeadLetterQueue(sqs, _queue(sqs, 0)).receive_all() == []
