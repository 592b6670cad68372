"""Consumers of sla-monitor: decode an event, call a service, nothing more."""
