"""Naive producer: one PutRecord call per tweet, the baseline of the producer benchmark.

It reads the files with the product's replay source, so it builds exactly the
records that `catsvdogs replay` builds, and sends them with the product's
Firehose client settings. The only difference is one call per record instead
of batches of up to 500. Usage: ``naive_producer.py STREAM FILE...`` with the
deployment's environment. It prints one JSON line with the records sent and
the seconds from the first read to the last response.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from catsvdogs.producer.firehose import create_firehose_client
from catsvdogs.records import OutgoingRecord
from catsvdogs.sources.replay import ReplayOptions, replay


def main() -> int:
    stream = sys.argv[1]
    paths = [Path(argument) for argument in sys.argv[2:]]
    client = create_firehose_client(region_name=os.environ["AWS_REGION"])

    sent = 0
    started = time.monotonic()
    for item in replay(paths, ReplayOptions(), threading.Event()):
        if isinstance(item, OutgoingRecord):
            client.put_record(DeliveryStreamName=stream, Record={"Data": item.data})
            sent += 1
    elapsed = time.monotonic() - started

    print(json.dumps({"sent": sent, "send_seconds": elapsed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
