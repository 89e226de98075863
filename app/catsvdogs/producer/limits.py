"""Limits that AWS documents for Firehose PutRecordBatch, checked before each call."""

from __future__ import annotations

MAX_BATCH_RECORDS = 500
"""Maximum number of records in one PutRecordBatch call."""

MAX_BATCH_BYTES = 4 * 1024 * 1024
"""Maximum size of one PutRecordBatch call, counted on the raw data bytes of its records (4 MiB)."""

MAX_RECORD_BYTES = 1_024_000
"""Maximum size of one record's data before base64 encoding (1,000 KiB)."""
