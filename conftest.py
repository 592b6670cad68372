"""The repository's shared fixtures live in contact_devtools.testing; contact_devtools.hermetic
keeps the session to itself (no developer settings in, no process left running after)."""

pytest_plugins = ["contact_devtools.hermetic", "contact_devtools.testing"]
