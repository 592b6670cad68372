"""The repository's shared fixtures live in contact_common.testing."""

pytest_plugins = ["contact_common.testing"]
