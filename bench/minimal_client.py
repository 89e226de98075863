"""Minimal Firehose client: put every line of a file to a delivery stream, 500 records per PutRecordBatch call.

It is the reference client of the throughput ceiling: no parsing, no retries,
one thread. Usage: ``minimal_client.py STREAM FILE``, with AWS_ENDPOINT_URL,
AWS_REGION and credentials in the environment. It prints one JSON line with the records sent
and the seconds spent sending.
"""

from __future__ import annotations

import json
import os
import sys
import time

import boto3
from botocore.config import Config

BATCH_RECORDS = 500


def main() -> int:
    stream, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as source:
        records = [{"Data": line} for line in source if line.strip()]
    client = boto3.client("firehose", region_name=os.environ["AWS_REGION"], config=Config(retries={"total_max_attempts": 1}, read_timeout=120))

    started = time.monotonic()
    for start in range(0, len(records), BATCH_RECORDS):
        response = client.put_record_batch(DeliveryStreamName=stream, Records=records[start : start + BATCH_RECORDS])
        if response["FailedPutCount"]:
            print(f"minimal_client: {response['FailedPutCount']} records failed in the call at record {start}", file=sys.stderr)
            return 1
    elapsed = time.monotonic() - started

    print(json.dumps({"sent": len(records), "send_seconds": elapsed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
