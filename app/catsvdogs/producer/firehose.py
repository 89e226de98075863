"""Firehose PutRecordBatch with our own retries: resend failed records, back off on throttling."""

from __future__ import annotations

import itertools
import logging
import random as random_module
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from catsvdogs.config import Settings
from catsvdogs.producer.backoff import DEFAULT_MAX_OUTAGE, RetryPolicy
from catsvdogs.records import OutgoingRecord, RejectedInput

if TYPE_CHECKING:
    from catsvdogs.producer.counters import Summary

logger = logging.getLogger(__name__)

# Error codes of a whole call that mean "try again later". Firehose documents
# ServiceUnavailableException ("Slow down") and LimitExceededException for
# throttling. Any HTTP 5xx response is retried too, whatever its code.
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "LimitExceededException",
        "ThrottlingException",
        "InternalFailure",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

# Network failures that botocore raises instead of a response: refused or
# timed-out connections (EndpointConnectionError, ConnectTimeoutError),
# connections closed before the response, and read timeouts.
RETRYABLE_NETWORK_ERRORS = (BotocoreConnectionError, ConnectionClosedError, ReadTimeoutError)

# Failures to open a connection: the request never reached the endpoint, so nothing
# was delivered. These count against the outage budget, not the attempt limit.
UNREACHABLE_ERRORS = (EndpointConnectionError, ConnectTimeoutError)

# Error codes that botocore gives a 502, 503 or 504 response without an AWS error
# type: a gateway, or LocalStack 4.14 while it shuts down, answering for a service
# that is not there. These count against the outage budget too.
UNAVAILABLE_STATUS_CODES = frozenset({"502", "503", "504"})

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0


HealthCheck = Callable[[], str | None]
"""Function that returns None while the servers behind the stream work, else a one-line description of the failure."""


class ProducerError(Exception):
    """Error that retrying cannot fix, such as a missing stream or denied access. Its message is one line.

    ``summary`` contains the producer's counts when run_producer raised it, else None.
    ``last_batch_unconfirmed`` is True when an outage followed the last batch that
    Firehose acknowledged, so that batch may not have been delivered (see FirehoseSender).
    """

    summary: Summary | None = None
    last_batch_unconfirmed: bool = False


class OutageError(ProducerError):
    """The endpoint stayed unreachable for the whole outage budget, or a stop was requested while it was."""


class DestinationFailedError(ProducerError):
    """A health check of the pipeline's servers failed before a Firehose call, so the batch was not sent, or not all of it."""


class StreamLostError(ProducerError):
    """The delivery stream was not found after an outage: LocalStack lost it in a restart, or it was deleted."""


class ReprovisionFailed(ProducerError):
    """Provisioning again after the delivery stream was lost failed."""


class _EndpointUnreachable(Exception):
    """A call that reached no Firehose: the connection was refused or timed out, or a gateway responded instead."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = _one_line(message)


class _NoResponse(_EndpointUnreachable):
    """A connection that closed or timed out before a response: part of an outage only while one is going on."""


class _StreamNotFound(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FailedRecord:
    """Record that Firehose did not accept, with the last error it returned for it."""

    record: OutgoingRecord
    error_code: str
    error_message: str


@dataclass(frozen=True)
class BatchResult:
    """Outcome of one ``put_batch`` call."""

    batch_id: int
    sent: int
    resent: int
    """Record-level resends: each record counts once per attempt after its first."""
    attempts: int
    failed: tuple[FailedRecord, ...]

    def rejections(self) -> list[RejectedInput]:
        """Return the failed records as rejections whose reason starts with the last error code."""
        return [
            RejectedInput(
                origin=failure.record.origin,
                reason=(
                    f"{failure.error_code}: {failure.error_message} "
                    f"(not sent: Firehose failed the record on all {self.attempts} attempts)"
                ),
            )
            for failure in self.failed
        ]


def create_firehose_client(
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    session: boto3.session.Session | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    **client_kwargs: Any,
) -> Any:
    """Create a boto3 Firehose client whose own retries are off, so that FirehoseSender retries and counts them.

    In botocore's retry config, ``total_max_attempts`` includes the first request, so 1
    means no retry. The older ``max_attempts`` key counts retries only, so 1 would still
    allow one hidden retry. ``client_kwargs`` go to ``Session.client`` unchanged.
    """
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    active_session = session or boto3.session.Session()
    return active_session.client(
        "firehose",
        region_name=region_name,
        endpoint_url=endpoint_url,
        config=config,
        **client_kwargs,
    )


class FirehoseSender:
    """Sender of record batches to one Firehose delivery stream, with retries and backoff.

    Errors of records and of calls that reached the endpoint are retried up to
    ``policy.max_attempts`` calls. A connection that cannot be opened means an
    outage instead: the sender keeps the batch and retries it, with the same
    capped backoff, for up to ``max_outage`` seconds, and then raises OutageError.
    A ``stop`` request ends an outage at once with OutageError. ``health_check``,
    when given, runs before every call, retries and outage tries included. It
    returns None, or a line that names a failed server of the pipeline. Such a
    line raises DestinationFailedError at once, and the records of the batch
    count as not sent, though an earlier call may have delivered some. When the stream
    is not found, ``reprovision`` (if given) is called once per batch to create
    it again, for example after LocalStack restarted and lost its resources.

    LocalStack 4.14 can acknowledge a batch that it does not deliver: when the
    transform Lambda fails, as it does while LocalStack shuts down, Firehose
    indexes nothing and still reports every record as put. So after an outage the
    sender sends the batch acknowledged before it again. The copies have the same
    record key, and ``catsvdogs reindex`` removes them.

    ``sleep``, ``random`` and ``clock`` are injectable so tests can record the delays.
    """

    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        random: Callable[[], float] = random_module.random,
        max_outage: float = DEFAULT_MAX_OUTAGE,
        stop: threading.Event | None = None,
        reprovision: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        health_check: HealthCheck | None = None,
    ) -> None:
        if max_outage < 0:
            raise ValueError(f"max_outage must not be negative, got {max_outage}")
        self._client = client
        self.stream_name = stream_name
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._random = random
        self._max_outage = max_outage
        self._stop = stop
        self._reprovision = reprovision
        self._clock = clock
        self._health_check = health_check
        self._batch_ids = itertools.count(1)
        self._last_outage_seconds: float | None = None
        self._last_batch: list[OutgoingRecord] | None = None
        self._outage_in_batch = False

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> FirehoseSender:
        """Create a sender for ``settings.stream_name``, with a client for the configured region and endpoint."""
        client = create_firehose_client(region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
        return cls(client, settings.stream_name, **kwargs)

    def put_batch(self, records: Sequence[OutgoingRecord]) -> BatchResult:
        """Send ``records`` with PutRecordBatch, resending only the records that failed, until all are sent
        or ``policy.max_attempts`` calls were made.

        Raises ProducerError for errors that retrying cannot fix.
        """
        batch_id = next(self._batch_ids)
        if not records:
            # Firehose rejects a call without records as invalid.
            return BatchResult(batch_id=batch_id, sent=0, resent=0, attempts=0, failed=())

        previous = self._last_batch
        try:
            result = self._deliver(batch_id, list(records))
        except ProducerError as error:
            error.last_batch_unconfirmed = self._outage_in_batch and previous is not None
            raise
        if self._outage_in_batch and previous is not None:
            try:
                result = replace(result, resent=result.resent + self._send_again(batch_id, previous))
            except ProducerError as error:
                # The pipeline has not seen this batch acknowledged, so its last batch is the one being resent.
                error.last_batch_unconfirmed = True
                raise
        failed = {id(failure.record) for failure in result.failed}
        self._last_batch = [record for record in records if id(record) not in failed]
        return result

    def _send_again(self, batch_id: int, previous: list[OutgoingRecord]) -> int:
        """Send the batch acknowledged before an outage again, and return how many record sends that took."""
        logger.warning(
            "Batch %d to stream %s: sending the %d records of the batch before it again, because LocalStack can "
            "acknowledge a batch while it shuts down without delivering it; 'catsvdogs reindex' removes the copies",
            batch_id,
            self.stream_name,
            len(previous),
        )
        # NOTE: an outage during this resend makes the current batch unconfirmed in turn; it is not sent again.
        result = self._deliver(next(self._batch_ids), previous)
        if result.failed:
            self._log_give_up(result.batch_id, result.attempts, list(result.failed))
        return len(previous) + result.resent

    def _deliver(self, batch_id: int, records: list[OutgoingRecord]) -> BatchResult:
        """Run the retry loop of one batch; sets ``_outage_in_batch`` when the endpoint was unreachable meanwhile."""
        self._outage_in_batch = False
        pending = records
        sent = 0
        resent = 0
        attempt = 1
        outage = _Outage(batch_id)
        reprovisioned = False
        logger.debug("Batch %d: sending %d records to stream %s", batch_id, len(pending), self.stream_name)

        while True:
            self._check_health(batch_id, len(pending))
            try:
                failed = self._put_once(batch_id, pending)
            except _NoResponse as no_response:
                if outage.started is not None:
                    # A server that is shutting down or starting accepts and drops connections.
                    self._wait_out_outage(outage, no_response, len(pending))
                    continue
                failed = [FailedRecord(record, no_response.code, no_response.message) for record in pending]
            except _EndpointUnreachable as unreachable:
                self._wait_out_outage(outage, unreachable, len(pending))
                continue
            except _StreamNotFound as not_found:
                self._end_outage(outage)
                if self._reprovision is None or reprovisioned:
                    raise self._stream_missing_error(not_found.message) from None
                self._provision_again(batch_id, not_found.message)
                reprovisioned = True
                continue
            self._end_outage(outage)
            sent += len(pending) - len(failed)
            if not failed:
                return BatchResult(batch_id=batch_id, sent=sent, resent=resent, attempts=attempt, failed=())

            if attempt >= self._policy.max_attempts:
                self._log_give_up(batch_id, attempt, failed)
                return BatchResult(
                    batch_id=batch_id, sent=sent, resent=resent, attempts=attempt, failed=tuple(failed)
                )

            delay = self._policy.delay(attempt, self._random)
            self._log_retry(batch_id, attempt, len(pending), failed, delay)
            (self._sleep or time.sleep)(delay)
            pending = [failure.record for failure in failed]
            resent += len(pending)
            attempt += 1

    def _check_health(self, batch_id: int, record_count: int) -> None:
        """Raise DestinationFailedError when ``health_check`` names a failed server."""
        if self._health_check is None:
            return
        problem = self._health_check()
        if problem is not None:
            logger.error(
                "Batch %d to stream %s: %d records not sent: %s", batch_id, self.stream_name, record_count, problem
            )
            raise DestinationFailedError(problem)

    def _put_once(self, batch_id: int, pending: list[OutgoingRecord]) -> list[FailedRecord]:
        """Make one PutRecordBatch call and return the records to retry, each with its error.

        Raises _EndpointUnreachable, _NoResponse or _StreamNotFound for put_batch to handle.
        """
        try:
            response = self._client.put_record_batch(
                DeliveryStreamName=self.stream_name,
                Records=[{"Data": record.data} for record in pending],
            )
        except ClientError as error:
            code, message, status = _describe_client_error(error)
            if code in UNAVAILABLE_STATUS_CODES:
                raise _EndpointUnreachable(code, message) from error
            if code in RETRYABLE_ERROR_CODES or (status is not None and status >= 500):
                return [FailedRecord(record, code, message) for record in pending]
            if code == "ResourceNotFoundException":
                raise _StreamNotFound(message) from error
            raise ProducerError(self._fatal_message(code, message)) from error
        except UNREACHABLE_ERRORS as error:
            raise _EndpointUnreachable(type(error).__name__, str(error)) from error
        except RETRYABLE_NETWORK_ERRORS as error:
            raise _NoResponse(type(error).__name__, str(error)) from error
        except NoCredentialsError as error:
            raise ProducerError(
                f"No AWS credentials found for Firehose delivery stream '{self.stream_name}'. "
                "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE "
                "(LocalStack accepts any values, such as 'test')."
            ) from error

        return self._failed_records(batch_id, pending, response)

    def _failed_records(
        self, batch_id: int, pending: list[OutgoingRecord], response: dict[str, Any]
    ) -> list[FailedRecord]:
        responses = response.get("RequestResponses", [])
        if len(responses) != len(pending):
            raise ProducerError(
                f"Firehose returned {len(responses)} record responses for {len(pending)} records "
                f"in batch {batch_id} to delivery stream '{self.stream_name}'. The endpoint does not "
                "behave like Firehose, so the records that arrived cannot be told apart."
            )

        failed = [
            FailedRecord(record, entry["ErrorCode"], _one_line(entry.get("ErrorMessage", "")))
            for record, entry in zip(pending, responses, strict=True)
            if entry.get("ErrorCode")
        ]
        reported = response.get("FailedPutCount", len(failed))
        if reported != len(failed):
            logger.warning(
                "Batch %d to stream %s: FailedPutCount is %d but %d record responses have an ErrorCode. "
                "Using the record responses",
                batch_id,
                self.stream_name,
                reported,
                len(failed),
            )
        return failed

    def _wait_out_outage(self, outage: _Outage, unreachable: _EndpointUnreachable, record_count: int) -> None:
        """Wait before the next try of a batch whose endpoint is unreachable, or raise OutageError."""
        now = self._clock()
        self._outage_in_batch = True
        if outage.started is None:
            outage.started = now
        elapsed = now - outage.started
        where = self._describe_endpoint()
        if self._stop is not None and self._stop.is_set():
            raise OutageError(
                f"Stop requested while Firehose ({where}) was unreachable: batch {outage.batch_id} with "
                f"{record_count} records to delivery stream '{self.stream_name}' was not sent "
                f"({unreachable.code}: {unreachable.message})"
            )
        remaining = self._max_outage - elapsed
        if remaining <= 0:
            raise OutageError(
                f"Firehose ({where}) was unreachable for {elapsed:.0f} s, the maximum outage of "
                f"{self._max_outage:g} s: batch {outage.batch_id} with {record_count} records to delivery stream "
                f"'{self.stream_name}' was not sent ({unreachable.code}: {unreachable.message}). "
                "Start LocalStack or check AWS_ENDPOINT_URL and the network, then run again"
            )

        outage.retries += 1
        delay = min(self._policy.delay(outage.retries, self._random), remaining)
        logger.warning(
            "Batch %d to stream %s: Firehose (%s) is unreachable (%s: %s); keeping its %d records and retrying in "
            "%.2f s (outage for %.1f s of at most %g s)",
            outage.batch_id,
            self.stream_name,
            where,
            unreachable.code,
            unreachable.message,
            record_count,
            delay,
            elapsed,
            self._max_outage,
        )
        if self._sleep is not None:
            self._sleep(delay)
        elif self._stop is not None:
            self._stop.wait(delay)
        else:
            time.sleep(delay)

    def _end_outage(self, outage: _Outage) -> None:
        """Log the end of an outage when a call got a response again."""
        if outage.started is None:
            return
        seconds = self._clock() - outage.started
        self._last_outage_seconds = seconds
        logger.warning(
            "Batch %d to stream %s: Firehose is reachable again after %.1f s and %d retries",
            outage.batch_id,
            self.stream_name,
            seconds,
            outage.retries,
        )
        outage.started = None
        outage.retries = 0

    def _provision_again(self, batch_id: int, message: str) -> None:
        assert self._reprovision is not None
        logger.warning(
            "Batch %d: Firehose delivery stream '%s' not found (%s); provisioning again, as --reprovision requests",
            batch_id,
            self.stream_name,
            message,
        )
        started = self._clock()
        try:
            self._reprovision()
        except Exception as error:  # noqa: BLE001 - any failure of provisioning ends the run with its message
            raise ReprovisionFailed(
                f"Firehose delivery stream '{self.stream_name}' was not found, and provisioning it again failed: "
                f"{_one_line(str(error))}"
            ) from error
        logger.warning("Provisioned again in %.1f s; resending batch %d", self._clock() - started, batch_id)

    def _stream_missing_error(self, message: str) -> ProducerError:
        if self._last_outage_seconds is None:
            return ProducerError(self._fatal_message("ResourceNotFoundException", message))
        return StreamLostError(
            f"Firehose delivery stream '{self.stream_name}' not found ({self._describe_endpoint()}) after Firehose was "
            f"unreachable for {self._last_outage_seconds:.0f} s: {message.rstrip('.')}. LocalStack keeps no resources across a "
            "restart. Run 'catsvdogs provision' to create them again"
        )

    def _fatal_message(self, code: str, message: str) -> str:
        stream = self.stream_name
        where = self._describe_endpoint()
        if code == "ResourceNotFoundException":
            return (
                f"Firehose delivery stream '{stream}' not found ({where}): {message.rstrip('.')}. "
                "Run 'catsvdogs provision' to create it, or set CATSVDOGS_STREAM to an existing stream."
            )
        if code.startswith("AccessDenied") or code in {"UnrecognizedClientException", "InvalidSignatureException"}:
            return (
                f"Access denied putting records to Firehose delivery stream '{stream}' ({where}): "
                f"{code}: {message}. Check that the AWS credentials in use allow firehose:PutRecordBatch on it."
            )
        if code in {"InvalidArgumentException", "ValidationException"}:
            return f"Firehose rejected a PutRecordBatch request to delivery stream '{stream}' as invalid: {code}: {message}"
        return f"PutRecordBatch to Firehose delivery stream '{stream}' failed ({where}): {code}: {message}"

    def _describe_endpoint(self) -> str:
        meta = getattr(self._client, "meta", None)
        region = getattr(meta, "region_name", None) or "unknown region"
        endpoint = getattr(meta, "endpoint_url", None)
        return f"region {region}, endpoint {endpoint}" if endpoint else f"region {region}"

    def _log_retry(
        self, batch_id: int, attempt: int, pending_count: int, failed: list[FailedRecord], delay: float
    ) -> None:
        code, message = _most_common_error(failed)
        logger.warning(
            "Batch %d to stream %s: %d of %d records failed on attempt %d of %d (%s: %s); retrying them in %.2f s",
            batch_id,
            self.stream_name,
            len(failed),
            pending_count,
            attempt,
            self._policy.max_attempts,
            code,
            message,
            delay,
        )

    def _log_give_up(self, batch_id: int, attempts: int, failed: list[FailedRecord]) -> None:
        code, message = _most_common_error(failed)
        logger.error(
            "Batch %d to stream %s: giving up on %d records after %d attempts (%s: %s); first origin %s",
            batch_id,
            self.stream_name,
            len(failed),
            attempts,
            code,
            message,
            failed[0].record.origin,
        )


@dataclass
class _Outage:
    """The outage of one batch: when its first connection failed (None while the endpoint responds) and the retries since."""

    batch_id: int
    started: float | None = None
    retries: int = 0


def _describe_client_error(error: ClientError) -> tuple[str, str, int | None]:
    details = error.response.get("Error", {})
    code = details.get("Code") or "UnknownError"
    message = _one_line(details.get("Message") or str(error))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code, message, status


def _most_common_error(failed: list[FailedRecord]) -> tuple[str, str]:
    counts = Counter((failure.error_code, failure.error_message) for failure in failed)
    (code, message), _ = counts.most_common(1)[0]
    return code, message


def _one_line(text: str) -> str:
    return " ".join(text.split())
