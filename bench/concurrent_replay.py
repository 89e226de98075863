"""Prototype of a producer with several sender threads, to measure that change before proposing it.

It replays files as fast as possible with the product's own parts (the replay
source, the Batcher and FirehoseSender) but keeps up to SENDERS batches in
flight at once, where `catsvdogs replay` sends one batch at a time. It has
none of the product's stop handling, progress log or rejection log.
Usage: ``concurrent_replay.py SENDERS FILE...`` with the deployment's
environment. It prints one JSON line with the counts and the seconds spent.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from catsvdogs.config import load_settings
from catsvdogs.producer.batcher import Batch, Batcher
from catsvdogs.producer.firehose import BatchResult, FirehoseSender
from catsvdogs.records import OutgoingRecord
from catsvdogs.sources.replay import ReplayOptions, replay


def main() -> int:
    senders = int(sys.argv[1])
    paths = [Path(argument) for argument in sys.argv[2:]]
    settings = load_settings()
    local = threading.local()

    def put(batch: Batch) -> BatchResult:
        # One client per thread, so no botocore client is shared between threads.
        if not hasattr(local, "sender"):
            local.sender = FirehoseSender.from_settings(settings)
        return local.sender.put_batch(batch.records)

    in_flight = threading.BoundedSemaphore(senders)
    futures: list[Future[BatchResult]] = []
    batcher = Batcher()
    rejected = 0

    def submit(pool: ThreadPoolExecutor, batch: Batch) -> None:
        in_flight.acquire()
        future = pool.submit(put, batch)
        future.add_done_callback(lambda _: in_flight.release())
        futures.append(future)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="sender") as pool:
        for item in replay(paths, ReplayOptions(), threading.Event()):
            if not isinstance(item, OutgoingRecord):
                rejected += 1
                continue
            added = batcher.add(item)
            rejected += added.rejected is not None
            for batch in added.ready:
                submit(pool, batch)
        last = batcher.flush()
        if last is not None:
            submit(pool, last)
        results = [future.result() for future in futures]
    elapsed = time.monotonic() - started

    sent = sum(result.sent for result in results)
    failed = sum(len(result.failed) for result in results)
    print(json.dumps({"senders": senders, "sent": sent, "failed": failed, "rejected": rejected, "send_seconds": elapsed}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
