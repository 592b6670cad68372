"""Tests for the settings every service shares: its prefix, the shared variables, `.env` files."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from contact_common.commitments import PolicyError
from contact_common.settings import IntakeSettings, ServiceSettings


class TestServiceSettings(ServiceSettings):
    """A service of the tests' own, configured like the real ones."""

    __test__ = False  # a settings class, not a test class

    model_config = SettingsConfigDict(env_prefix="TESTSVC_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "test-service"
    database_schema: ClassVar[str] = "testsvc"

    port: int = 8099


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable or `.env` file of the machine running the tests leaks in."""
    for name in (
        "DATABASE_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "KAFKA_FETCH_MAX_WAIT_MS",
        "API_KEYS_FILE",
        "PORT",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"TESTSVC_{name}", raising=False)
    for name in ("POLICY", "OFFICE_OPENS", "OFFICE_CLOSES", "OFFICE_TIMEZONE", "CLOSURE_DAYS"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"TESTSVC_{name}", raising=False)
    for name in ("HOLIDAY_COUNTRY", "HOLIDAY_SUBDIVISION"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"TESTSVC_{name}", raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_without_any_configuration() -> None:
    settings = TestServiceSettings()

    assert settings.database_url == ""
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.port == 8099
    assert settings.effective_client_id == "test-service"
    assert settings.closure_days == []


def test_prefixed_variables_configure_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTSVC_PORT", "9001")
    monkeypatch.setenv("TESTSVC_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("TESTSVC_DATABASE_URL", "postgresql+asyncpg://svc@db/contact")

    settings = TestServiceSettings()

    assert settings.port == 9001
    assert settings.log_level == "DEBUG"
    assert settings.database_url == "postgresql+asyncpg://svc@db/contact"


def test_another_services_prefix_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHERSVC_PORT", "9002")
    monkeypatch.setenv("OTHERSVC_DATABASE_URL", "postgresql+asyncpg://other@db/contact")

    settings = TestServiceSettings()

    assert settings.port == 8099
    assert settings.database_url == ""


def test_shared_variables_apply_unprefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://shared@db/contact")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("API_KEYS_FILE", "/run/secrets/api-keys.json")

    settings = TestServiceSettings()

    assert settings.database_url == "postgresql+asyncpg://shared@db/contact"
    assert settings.effective_database_url == "postgresql+asyncpg://shared@db/contact"
    assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.api_keys_file == Path("/run/secrets/api-keys.json")


def test_prefixed_variables_win_over_shared_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://shared@db/contact")
    monkeypatch.setenv("TESTSVC_DATABASE_URL", "postgresql+asyncpg://own@db/contact")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "shared:9092")
    monkeypatch.setenv("TESTSVC_KAFKA_BOOTSTRAP_SERVERS", "own:9092")
    monkeypatch.setenv("API_KEYS_FILE", "/shared/keys.json")
    monkeypatch.setenv("TESTSVC_API_KEYS_FILE", "/own/keys.json")

    settings = TestServiceSettings()

    assert settings.database_url == "postgresql+asyncpg://own@db/contact"
    assert settings.kafka_bootstrap_servers == "own:9092"
    assert settings.api_keys_file == Path("/own/keys.json")


def test_other_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # PORT, LOG_LEVEL and the like belong to whichever program set them, not to this service.
    monkeypatch.setenv("PORT", "1234")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")

    settings = TestServiceSettings()

    assert settings.port == 8099
    assert settings.log_level == "INFO"


def test_dotenv_file_configures_the_service(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "TESTSVC_PORT=9003\n"
        "TESTSVC_KAFKA_BOOTSTRAP_SERVERS=dotenv-kafka:9092\n"
        "DATABASE_URL=postgresql+asyncpg://dotenv@db/contact\n"
        "PORT=1234\n"
    )

    settings = TestServiceSettings()

    assert settings.port == 9003
    assert settings.kafka_bootstrap_servers == "dotenv-kafka:9092"
    # A deployment's one `.env` may point every service at the database unprefixed, too.
    assert settings.database_url == "postgresql+asyncpg://dotenv@db/contact"


def test_a_settings_object_told_to_read_no_dotenv_file_reads_none(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "TESTSVC_PORT=9003\nDATABASE_URL=postgresql+asyncpg://dotenv@db/contact\n"
    )

    settings = TestServiceSettings(_env_file=None)

    assert settings.port == 8099
    assert settings.database_url == ""  # the shared variables' source reads no file either


def test_environment_wins_over_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "TESTSVC_PORT=9003\nDATABASE_URL=postgresql+asyncpg://dotenv@db/contact\n"
    )
    monkeypatch.setenv("TESTSVC_PORT", "9004")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://environment@db/contact")

    settings = TestServiceSettings()

    assert settings.port == 9004
    assert settings.database_url == "postgresql+asyncpg://environment@db/contact"


def test_dotenv_prefixed_shared_variable_wins_over_dotenv_unprefixed(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "DATABASE_URL=postgresql+asyncpg://shared@db/contact\n"
        "TESTSVC_DATABASE_URL=postgresql+asyncpg://own@db/contact\n"
    )

    assert TestServiceSettings().database_url == "postgresql+asyncpg://own@db/contact"


def test_closure_days_from_json_feed_the_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    # 24 December 2026 is a Thursday, an ordinary working day unless the council closes.
    monkeypatch.setenv("CLOSURE_DAYS", '["2026-12-24"]')

    settings = TestServiceSettings()

    assert settings.closure_days == [date(2026, 12, 24)]
    assert not settings.calendar.is_working_day(date(2026, 12, 24))
    assert settings.calendar.is_working_day(date(2026, 12, 23))
    assert not TestServiceSettings.model_validate({}).calendar.is_working_day(date(2026, 12, 25))


def test_without_closure_days_the_day_is_a_working_day() -> None:
    assert TestServiceSettings().calendar.is_working_day(date(2026, 12, 24))


def test_invalid_closure_days_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOSURE_DAYS", '["24/12/2026"]')

    with pytest.raises(ValueError, match="closure_days"):
        TestServiceSettings()


# -- the council's policy and calendar: once, unprefixed --


def test_the_policy_and_calendar_are_given_once_for_every_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLICY", "complaint-handling-code-2024")
    monkeypatch.setenv("OFFICE_CLOSES", "16:30")
    monkeypatch.setenv("HOLIDAY_SUBDIVISION", "SCT")

    settings = TestServiceSettings()

    assert settings.commitments.name == "complaint-handling-code-2024"
    assert settings.calendar.office_hours.closes == time(16, 30)
    # 2 January is a bank holiday in Scotland only.
    assert not settings.calendar.is_working_day(date(2026, 1, 2))


@pytest.mark.parametrize("name", ["POLICY", "OFFICE_CLOSES", "CLOSURE_DAYS", "HOLIDAY_SUBDIVISION"])
def test_a_prefixed_copy_of_the_councils_settings_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # One service with a calendar of its own would publish due dates the others do not keep.
    monkeypatch.setenv(f"TESTSVC_{name}", "anything")

    with pytest.raises(ValueError, match=f"TESTSVC_{name}: the council's policy and calendar"):
        TestServiceSettings()


def test_a_prefixed_copy_in_the_dotenv_file_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TESTSVC_POLICY=default\n")

    with pytest.raises(ValueError, match="TESTSVC_POLICY"):
        TestServiceSettings()


def test_the_dotenv_file_gives_the_councils_settings_unprefixed(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POLICY=complaint-handling-code-2024\nOFFICE_OPENS=08:30\n")

    settings = TestServiceSettings()

    assert settings.commitments.name == "complaint-handling-code-2024"
    assert settings.calendar.office_hours.opens == time(8, 30)


def test_an_unknown_policy_fails_naming_it() -> None:
    settings = TestServiceSettings(policy="nonesuch.yaml")

    with pytest.raises(PolicyError, match="'nonesuch.yaml' is neither a shipped policy"):
        _ = settings.commitments


class TestIntakeSettings(IntakeSettings):
    """A service recording clients' contacts, naming only its prefix as the real ones do."""

    __test__ = False  # a settings class, not a test class

    model_config = SettingsConfigDict(env_prefix="TESTSVC_")

    service_name: ClassVar[str] = "test-intake"


def test_intake_settings_default_the_skew_and_the_idempotency_window() -> None:
    settings = TestIntakeSettings()

    assert settings.clock_skew_seconds == 300
    assert settings.idempotency_retention_hours == 48
    assert settings.idempotency_lease_seconds == 60


def test_intake_settings_read_the_prefix_from_the_environment_and_the_dotenv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The subclass names only env_prefix: `.env` and the rest come from ServiceSettings.
    (tmp_path / ".env").write_text("TESTSVC_IDEMPOTENCY_LEASE_SECONDS=90\nUNKNOWN_LINE=1\n")
    monkeypatch.setenv("TESTSVC_CLOCK_SKEW_SECONDS", "30")

    settings = TestIntakeSettings()

    assert settings.clock_skew_seconds == 30
    assert settings.idempotency_lease_seconds == 90


def test_intake_settings_keep_an_idempotency_key_a_day_at_least(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TESTSVC_IDEMPOTENCY_RETENTION_HOURS", "23")

    with pytest.raises(ValidationError, match="greater than or equal to 24"):
        TestIntakeSettings()


def test_the_fetch_wait_is_50_ms_unless_set_and_refuses_nonsense(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert TestServiceSettings().kafka_fetch_max_wait_ms == 50

    monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "500")
    assert TestServiceSettings().kafka_fetch_max_wait_ms == 500

    monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "0")
    with pytest.raises(ValidationError, match="kafka_fetch_max_wait_ms"):
        TestServiceSettings()


def test_the_one_service_area_check_names_the_areas_in_the_services_wording() -> None:
    settings = TestServiceSettings(service_areas=["housing", "waste"])

    assert settings.unknown_service_area("waste") is None
    assert settings.unknown_service_area(None) is None
    assert settings.unknown_service_area("parks") == (
        "'parks' is not a service area; use one of housing, waste"
    )
    assert (
        settings.unknown_service_area(
            "parks", wording="'{service_area}' is not a service area here; one of: {known}"
        )
        == "'parks' is not a service area here; one of: housing, waste"
    )
