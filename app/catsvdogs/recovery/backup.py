"""The raw records that Firehose backed up to S3: listing the objects and splitting them into records.

Firehose writes one object per delivery under the backup prefix (``raw/``).
Each object is the records of one batch, concatenated without a delimiter.
The producer ends every record with a newline, so an object is JSON Lines. A
line that contains several concatenated JSON values (records put by another
client without a newline) is split into them.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catsvdogs.aws import make_client
from catsvdogs.config import Settings, default_bucket_name

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class BackupObject:
    """One backup object: its key and when Firehose wrote it."""

    key: str
    last_modified: datetime


@dataclass(frozen=True)
class BackupRecord:
    """One raw record of the backup, with the object it came from and its arrival time in ms since the epoch."""

    key: str
    data: bytes
    arrival_ms: int


def backup_bucket(settings: Settings) -> str:
    """Return CATSVDOGS_BUCKET, or the default name, which contains the account id read with STS."""
    if settings.bucket:
        return settings.bucket
    account = make_client(settings, "sts").get_caller_identity()["Account"]
    return default_bucket_name("backup", account, settings.region)


def list_backup_objects(
    s3: Any,
    bucket: str,
    prefix: str,
    *,
    since: datetime | None = None,
    keys: Iterable[str] | None = None,
) -> list[BackupObject]:
    """List the objects under ``prefix``, oldest first: all of them, those written at or after ``since``, or ``keys``."""
    wanted = set(keys) if keys else None
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if wanted is not None and item["Key"] not in wanted:
                continue
            if since is not None and item["LastModified"] < since:
                continue
            objects.append(BackupObject(item["Key"], item["LastModified"]))
    objects.sort(key=lambda item: (item.last_modified, item.key))
    return objects


def read_backup_records(s3: Any, bucket: str, objects: Iterable[BackupObject]) -> Iterator[BackupRecord]:
    """Yield the records of each object in order; the object's write time stands for the records' arrival time."""
    for item in objects:
        body = s3.get_object(Bucket=bucket, Key=item.key)["Body"].read()
        if body[:2] == GZIP_MAGIC:
            body = gzip.decompress(body)
        arrival_ms = int(item.last_modified.timestamp() * 1000)
        for data in split_records(body):
            yield BackupRecord(item.key, data, arrival_ms)


def split_records(body: bytes) -> list[bytes]:
    """Split an object's body into records: one per line, or one per JSON value when a line has several."""
    records: list[bytes] = []
    for line in body.split(b"\n"):
        if not line.strip():
            continue
        records.extend(_split_json_values(line))
    return records


def _split_json_values(line: bytes) -> list[bytes]:
    """Return the JSON values concatenated on one line, or the whole line when it is not a sequence of JSON values."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return [line]
    decoder = json.JSONDecoder()
    values: list[bytes] = []
    position = 0
    while position < len(text):
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            break
        try:
            _, end = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):
            return [line]
        values.append(text[position:end].encode("utf-8"))
        position = end
    return values
