"""KPIs, the score card, SLA compliance, call waits and channel shift, from the read models."""
