"""The read models: daily counters built from contact.events and sla.events."""
