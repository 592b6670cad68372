"""The repository's shared fixtures live in contact_devtools.testing."""

pytest_plugins = ["contact_devtools.testing"]
