"""Consumers of metrics-api: decode an event, call a service, nothing more."""
