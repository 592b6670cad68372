"""Reads a topic from its end as the platform's consumers do and writes `<event id> <time>` lines.

Run as its own process by the relay benchmark; prints `ready` once positioned on every partition.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import orjson
import uvloop
from aiokafka import AIOKafkaConsumer, TopicPartition


async def main(bootstrap: str, topic: str, out: str, fetch_max_wait_ms: int) -> None:
    # The settings of contact_common.bus.consumer.EventConsumer (aiokafka's defaults otherwise;
    # fetch_max_wait_ms given by the benchmark), without a group: this tap only watches.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        while not partitions:
            await asyncio.sleep(0.2)
            await consumer.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
            ]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)
        print("ready", flush=True)
        with open(out, "w") as sink:  # noqa: ASYNC230 (small appends; this process only taps)
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
                now = time.time()
                lines = [
                    f"{orjson.loads(message.value)['id']} {now:.6f}\n"
                    for messages in batches.values()
                    for message in messages
                ]
                if lines:
                    sink.writelines(lines)
                    sink.flush()
    finally:
        await consumer.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap")
    parser.add_argument("topic")
    parser.add_argument("out")
    parser.add_argument("--fetch-max-wait-ms", type=int, default=500, help="aiokafka's default")
    arguments = parser.parse_args()
    try:
        uvloop.run(
            main(
                arguments.bootstrap,
                arguments.topic,
                arguments.out,
                arguments.fetch_max_wait_ms,
            )
        )
    except KeyboardInterrupt:
        sys.exit(0)
