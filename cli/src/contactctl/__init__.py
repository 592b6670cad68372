"""contactctl: the operator's command line."""
