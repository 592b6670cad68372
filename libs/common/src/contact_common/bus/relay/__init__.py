"""The outbox relay: publishes outbox rows to Kafka in order per key, then marks them sent.

Several relays may run (one per API process). Three parts, each with one concern:
- `store.OutboxStore`: the SQL. A pass claims every shard that has waiting rows and that no
  other pass holds, under transaction-scoped advisory locks, so one key is only ever relayed by
  one pass at a time and in id order; it marks the rows sent and counts the backlog.
- `sender.OutboxSender`: Kafka. Every row of a pass goes to the producer before any
  acknowledgement is awaited, as whole batches on the partition `send()` would pick.
- `loop.OutboxRelay`: when passes run (woken by commits in this process, a poll, or a pass
  that may have left rows behind, `schedule`), backing off while the broker is away, and the
  metrics. It is what a service runs, as a worker.
"""

from contact_common.bus.relay.loop import OutboxRelay

__all__ = ["OutboxRelay"]
