"""Kafka plumbing: topic names, the producer, the consumer loop and the outbox relay."""
