"""Reconcile the index with the S3 backup: delete duplicate documents, index backed-up records that are missing.

A record is identified by its record key: the tweet id, the source and, for a
replay, its file, line, run id and pass number. A record that Firehose received
twice has one key and, before reconciling, several documents, because Firehose
gives each document a random id. That happens to a resent batch, to a batch
that failed half-way in the search server and was retried, and to the batch in
flight when a replay was killed and resumed, because ``--resume`` keeps the run
id. A replay with ``--loop`` sends a tweet again in each pass, and a new replay
of the same file gets a new run id, so those documents are not duplicates. A
live post has no file, so its tweet id and source identify it.

The records are transformed here with the transform Lambda's own code and
written straight to the search server with the bulk API, with an id derived
from the record key, so reconciling twice indexes nothing the second time.
Putting them through Firehose again would index each with a new random id and
write the backup again.

NOTE: run it while no producer is sending to the stream. A document that
Firehose indexes between the scan of the index and the bulk request can be
indexed a second time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch, helpers

from catsvdogs.config import DEFAULT_BACKUP_PREFIX, Settings
from catsvdogs.recovery.backup import BackupRecord, list_backup_objects, read_backup_records
from catsvdogs.transform.category import Vocabulary
from catsvdogs.transform.record import transform_record

LOG = logging.getLogger(__name__)

BULK_CHUNK = 500
SCAN_PAGE = 1000
KEY_FIELDS = ["tweet_id", "source", "origin"]

RecordKey = tuple[Any, ...]


class ReindexError(RuntimeError):
    """Reconciling cannot start or failed; the message names the index, bucket or request and what to do."""


@dataclass
class ReindexReport:
    """Counts of one reconciliation. Documents are those with a ``tweet_id``; error documents are left alone."""

    bucket: str
    prefix: str
    index: str
    dry_run: bool
    objects: int = 0
    records: int = 0
    """Records read from the backup, every copy counted."""
    not_tweets: int = 0
    """Backed-up records that the transform rejects; Firehose indexed them as error documents."""
    distinct: int = 0
    """Distinct record keys among the backed-up tweets."""
    documents_before: int = 0
    duplicates_found: int = 0
    """Documents beyond the first of each record key."""
    duplicates_deleted: int = 0
    already_indexed: int = 0
    """Distinct backed-up records that had a document already."""
    indexed: int = 0
    failed: list[str] = field(default_factory=list)
    without_backup: int = 0
    """Record keys in the index that the selected backup objects do not contain."""

    @property
    def documents_after(self) -> int:
        """Tweet documents after reconciling; in a dry run, after a real run that does not fail."""
        if self.dry_run:
            return self.documents_before - self.duplicates_found + self.indexed
        return self.documents_before - self.duplicates_deleted + self.indexed

    def format(self) -> str:
        """Format the counts as the lines that `catsvdogs reindex` prints."""
        deleted = "to delete" if self.dry_run else "deleted"
        indexed = "to index" if self.dry_run else "indexed now"
        lines = [
            f"Backup s3://{self.bucket}/{self.prefix}: {self.objects:,} objects, {self.records:,} records "
            f"(every copy), {self.distinct:,} distinct tweets, {self.not_tweets:,} not tweets",
            f"Index '{self.index}': {self.documents_before:,} tweet documents before, {self.documents_after:,} after",
            f"  duplicate documents: {self.duplicates_found:,} found, "
            f"{self.duplicates_found if self.dry_run else self.duplicates_deleted:,} {deleted}",
            f"  backed-up tweets:    {self.already_indexed:,} already indexed, {self.indexed:,} {indexed}",
            f"  failed:              {len(self.failed):,}",
            f"  records in the index that these backup objects lack: {self.without_backup:,}",
        ]
        lines.extend(f"    {failure}" for failure in self.failed[:10])
        if len(self.failed) > 10:
            lines.append(f"    and {len(self.failed) - 10:,} more")
        if self.dry_run:
            lines.append("Dry run: nothing was deleted or indexed.")
        return "\n".join(lines)


def record_key(document: dict[str, Any]) -> RecordKey:
    """Return the key that identifies the record a tweet document was made from."""
    origin = document.get("origin") or {}
    return (
        document["tweet_id"],
        document.get("source"),
        origin.get("file"),
        origin.get("line"),
        origin.get("run_id"),
        origin.get("pass_number"),
    )


def document_id(key: RecordKey) -> str:
    """Derive a document id from a record key, so the same record always gets the same id."""
    return "reindex-" + hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest()[:40]


def reindex(
    settings: Settings,
    s3: Any,
    search: OpenSearch,
    bucket: str,
    *,
    since: datetime | None = None,
    keys: Iterable[str] | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] = LOG.info,
) -> ReindexReport:
    """Delete duplicate documents, then index the backed-up tweets that have no document, and return the counts.

    ``since`` and ``keys`` select the backup objects; duplicates are looked for in
    the whole index. With ``dry_run`` nothing is deleted or indexed.
    Raises ReindexError when the index does not exist.
    """
    index = settings.index_name
    report = ReindexReport(bucket=bucket, prefix=DEFAULT_BACKUP_PREFIX, index=index, dry_run=dry_run)
    if not search.indices.exists(index=index):
        raise ReindexError(
            f"index '{index}' not found at {settings.opensearch_url}. Run 'catsvdogs provision' to create it from the "
            "index template, then run 'catsvdogs reindex' again"
        )

    search.indices.refresh(index=index)
    indexed_keys = _scan_index(search, index, report, progress)
    duplicates = [doc_id for ids in indexed_keys.values() for doc_id in sorted(ids)[1:]]
    report.duplicates_found = len(duplicates)
    if duplicates and not dry_run:
        progress(f"Deleting {len(duplicates):,} duplicate documents from index '{index}'")
        deletions = ({"_op_type": "delete", "_index": index, "_id": doc_id} for doc_id in duplicates)
        report.duplicates_deleted = _bulk(search, deletions, report)

    objects = list_backup_objects(s3, bucket, DEFAULT_BACKUP_PREFIX, since=since, keys=keys)
    report.objects = len(objects)
    progress(f"Reading {len(objects):,} backup objects from s3://{bucket}/{DEFAULT_BACKUP_PREFIX}")
    vocabulary = Vocabulary(frozenset(settings.cat_words), frozenset(settings.dog_words))
    backed_up: set[RecordKey] = set()
    missing = _missing_documents(read_backup_records(s3, bucket, objects), vocabulary, indexed_keys, backed_up, report)
    actions = ({"_op_type": "create", "_index": index, "_id": document_id(key), "_source": doc} for key, doc in missing)
    if dry_run:
        report.indexed = sum(1 for _ in actions)
    else:
        report.indexed = _bulk(search, actions, report)
        search.indices.refresh(index=index)
    report.distinct = len(backed_up)
    report.without_backup = sum(1 for key in indexed_keys if key not in backed_up)
    return report


def _scan_index(search: OpenSearch, index: str, report: ReindexReport, progress: Callable[[str], None]) -> dict[RecordKey, list[str]]:
    """Map the record key of every tweet document in ``index`` to the ids of its documents."""
    progress(f"Reading the record keys of the documents in index '{index}'")
    keys: dict[RecordKey, list[str]] = {}
    query = {"query": {"exists": {"field": "tweet_id"}}, "_source": KEY_FIELDS}
    for hit in helpers.scan(search, index=index, query=query, size=SCAN_PAGE):
        keys.setdefault(record_key(hit["_source"]), []).append(hit["_id"])
        report.documents_before += 1
    return keys


def _missing_documents(
    records: Iterable[BackupRecord],
    vocabulary: Vocabulary,
    indexed_keys: dict[RecordKey, list[str]],
    backed_up: set[RecordKey],
    report: ReindexReport,
) -> Iterator[tuple[RecordKey, dict[str, Any]]]:
    """Transform each backed-up record and yield the tweets whose record has no document yet, each once."""
    for record in records:
        report.records += 1
        result, document = transform_record(record.data, record.arrival_ms, vocabulary)
        if result != "Ok":
            report.not_tweets += 1
            continue
        key = record_key(document)
        if key in backed_up:
            continue
        backed_up.add(key)
        if key in indexed_keys:
            report.already_indexed += 1
            continue
        yield key, document


def _bulk(search: OpenSearch, actions: Iterable[dict[str, Any]], report: ReindexReport) -> int:
    """Run bulk actions and return how many succeeded; failures go to ``report.failed``.

    A create that finds its document already there (409) counts as done, because
    an earlier reconciliation created it.
    """
    succeeded = 0
    for ok, item in helpers.streaming_bulk(
        search, actions, chunk_size=BULK_CHUNK, raise_on_error=False, raise_on_exception=False, max_retries=3
    ):
        operation, details = next(iter(item.items()))
        if ok:
            succeeded += 1
        elif operation == "create" and details.get("status") == 409:
            report.already_indexed += 1
        else:
            report.failed.append(f"{operation} {details.get('_id')}: {details.get('status')} {_error_text(details)}")
    return succeeded


def _error_text(details: dict[str, Any]) -> str:
    error = details.get("error")
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error)
