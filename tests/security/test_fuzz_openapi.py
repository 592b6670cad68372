"""Property-based fuzzing of every service's OpenAPI document (issue 7).

Each service runs on a real port with PostgreSQL and the real broker; schemathesis generates
requests for every operation from the service's own `/openapi.json` (valid ones and invalid
ones) and sends them with an admin key, then again on a resource that exists. A response fails
when it is a 5xx, when its status is not documented for the operation, when its content type is
not documented for its status, or when its body breaks the schema documented for it. Generation
is derandomised, so a run in CI sends the same requests every time.

The fuzzing runs in a worker thread (schemathesis sends with `requests`, synchronously) while the
service serves in the test's event loop.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.formats import unregister_string_format

from complaints_api.config import Settings as ComplaintsSettings
from complaints_api.main import create_app as complaints_app
from contact_devtools.testing import running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app
from metrics_api.config import Settings as MetricsSettings
from metrics_api.main import create_app as metrics_app
from sla_monitor.config import Settings as SlaSettings
from sla_monitor.main import create_app as sla_app

# Schemathesis draws some values with the `random` module; Hypothesis seeds it per example under
# derandomize, so the run stays repeatable and the warning says nothing about this suite.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

SERVICES: dict[str, tuple[Callable[..., Any], type[Any]]] = {
    "enquiry-api": (enquiry_app, EnquirySettings),
    "complaints-api": (complaints_app, ComplaintsSettings),
    "sla-monitor": (sla_app, SlaSettings),
    "metrics-api": (metrics_app, MetricsSettings),
}

# Examples per operation and mode: enough to reach the validators' edges, small enough that the
# four services fuzz in a few minutes on two cores.
POSITIVE_EXAMPLES = 40
NEGATIVE_EXAMPLES = 20
SEEDED_EXAMPLES = 40

PATH_PARAMETER = re.compile(r"{(\w+)}")

_OFFSETS = [UTC] + [timezone(timedelta(hours=h)) for h in (14, -12, 5.5, -1)]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


# Instants as clients send them. Mostly the past year (so that creates and steps succeed and
# reach the rules behind them; it ends 14 hours ago so that no offset puts it in the future),
# and otherwise any instant from year 1 to 9999 in an extreme offset (which overflowed when moved
# to UTC or to the council's zone) or an edge itself. The values follow the clock; which branch
# is drawn, and so what is sent, is still derandomised.
_NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
_PAST_YEAR = st.datetimes(
    _NOW - timedelta(days=365), _NOW - timedelta(hours=14), timezones=st.sampled_from(_OFFSETS)
)
INSTANTS = st.one_of(
    _PAST_YEAR.map(_iso),
    _PAST_YEAR.map(_iso),
    _PAST_YEAR.map(_iso),
    st.datetimes(timezones=st.sampled_from(_OFFSETS)).map(_iso),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",
            "0001-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "9999-12-31T23:59:59-12:00",
            "9999-12-31T23:59:59.999999Z",
        ]
    ),
)
DATES = st.one_of(
    st.dates(date(2024, 4, 1), date(2025, 3, 31)),
    st.dates(),
    st.sampled_from([date.min, date.max]),
).map(date.isoformat)

# The one field whose valid values are the council's configuration, not the schema: half the
# generated bodies get a configured service area so they get past it to the rules behind.
CONFIGURED = {"service_area": "waste"}


def _configured(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: CONFIGURED.get(key, _configured(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [_configured(item) for item in value]
    return value


def _sometimes_configured(pair: tuple[schemathesis.Case, bool]) -> schemathesis.Case:
    case, configure = pair
    if configure and isinstance(case.body, dict | list):
        case.body = _configured(case.body)
    return case


# Nothing is excluded: both dependencies are up here, so /readyz must answer 200 like the rest.
EXCLUDED: set[tuple[str, str]] = set()

# Status-code conformance was off until bodies that are not UTF-8 got a documented 422 instead
# of FastAPI's bare 400; every status a service answers is now in its document.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class FuzzReport:
    """What fuzzing one service did: operations, requests sent, distinct failures."""

    service: str
    operations: int = 0
    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)

    def line(self) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"{self.service}: {self.operations} operations, {self.cases} cases "
            f"({statuses}), {len(self.failures)} failures"
        )


def _fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    report: FuzzReport,
    fixed: dict[str, str] | None = None,
    **call: Any,
) -> None:
    """Sends `examples` generated cases of one operation and records each distinct failure.

    `fixed` pins path parameters to a resource that exists, so the rest of the request (its
    body, its query) reaches the service's rules rather than stopping at a 404.
    """

    cases = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
    if mode is GenerationMode.POSITIVE:
        cases = st.tuples(cases, st.booleans()).map(_sometimes_configured)

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(**call)
        report.cases += 1
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=call["headers"])
        except (AssertionError, FailureGroup) as failure:
            label = f"{operation.label} [{mode.value}{', seeded' if fixed else ''}]"
            titles = [f.title for f in getattr(failure, "exceptions", [failure])]
            # One example per operation and kind of failure is enough to fix it.
            key = (label, f"{response.status_code} {sorted(titles)}")
            report.failures.setdefault(
                key, f"{label} -> {response.status_code}\n{failure}\n{case.as_curl_command()}"
            )

    try:
        fuzz()
    except Unsatisfiable:
        # An operation that takes no input has no invalid request to generate.
        if mode is not GenerationMode.NEGATIVE:
            raise


def fuzz_service(
    service: str, base_url: str, token: str, seeds: list[dict[str, str]]
) -> FuzzReport:
    """Fuzzes every operation of the service at `base_url`, then again on each seeded resource."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    schemathesis.openapi.format("date-time", INSTANTS)
    schemathesis.openapi.format("date", DATES)
    try:
        return _fuzz_schema(schema, service, base_url, token, seeds)
    finally:
        unregister_string_format("date-time")
        unregister_string_format("date")


def _fuzz_schema(
    schema: Any, service: str, base_url: str, token: str, seeds: list[dict[str, str]]
) -> FuzzReport:
    report = FuzzReport(service)
    call = {
        "base_url": base_url,
        "headers": {"Authorization": f"Bearer {token}"},
        "timeout": 30,
    }
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in EXCLUDED:
                continue
            report.operations += 1
            for mode, examples in (
                (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
                (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
            ):
                _fuzz_operation(operation, mode, examples, report, session=session, **call)
            names = set(PATH_PARAMETER.findall(operation.path))
            for seed in seeds:
                if names and names <= seed.keys():
                    fixed = {name: seed[name] for name in names}
                    _fuzz_operation(
                        operation,
                        GenerationMode.POSITIVE,
                        SEEDED_EXAMPLES,
                        report,
                        fixed,
                        session=session,
                        **call,
                    )
    return report


async def _seed_enquiry_api(client: httpx.AsyncClient) -> list[dict[str, str]]:
    enquiry = await client.post("/v1/enquiries", json=_new_contact(service_area="waste"))
    assert enquiry.status_code == 201, enquiry.text
    services = await client.get("/open311/v2/services.json")
    assert services.status_code == 200, services.text
    seed = {
        "enquiry_id": enquiry.json()["id"],
        "service_request_id": enquiry.json()["reference"],
        "token": enquiry.json()["id"],
        "service_code": services.json()[0]["service_code"],
    }
    return [seed | {"fmt": "json"}, seed | {"fmt": "xml"}]


async def _seed_complaints_api(client: httpx.AsyncClient) -> list[dict[str, str]]:
    complaint = await client.post(
        "/v1/complaints", json=_new_contact(channel="email", service_area="waste")
    )
    assert complaint.status_code == 201, complaint.text
    return [{"complaint_id": complaint.json()["id"]}]


async def _seed_dashboard_assets(client: httpx.AsyncClient) -> list[dict[str, str]]:
    return [{"name": "dashboard.js"}, {"name": "dashboard.css"}]


async def _seed_nothing(client: httpx.AsyncClient) -> list[dict[str, str]]:
    return []


def _new_contact(**fields: str) -> dict[str, str]:
    # Before every instant INSTANTS draws from the past year, so generated steps may follow it.
    received_at = (datetime.now(UTC) - timedelta(days=366)).isoformat()
    return {"channel": "phone", "received_at": received_at, "description": "Fuzz seed"} | fields


SEEDS: dict[str, Callable[[httpx.AsyncClient], Awaitable[list[dict[str, str]]]]] = {
    "enquiry-api": _seed_enquiry_api,
    "complaints-api": _seed_complaints_api,
    "sla-monitor": _seed_nothing,
    "metrics-api": _seed_dashboard_assets,
}


@pytest.mark.parametrize("service", SERVICES)
async def test_fuzz_openapi(
    service: str,
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
    security_summary: list[str],
) -> None:
    create_app, settings_class = SERVICES[service]
    token = issue_api_key("admin", name="fuzzer")
    async with running_service(
        create_app,
        settings_class,
        service=service,
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        api_keys_file=api_keys_file,
    ) as server:
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            assert (await client.get("/readyz")).status_code == 200
            seeds = await SEEDS[service](client)
        report = await asyncio.to_thread(fuzz_service, service, server.url, token, seeds)

    security_summary.append(report.line())
    assert report.operations > 0 and report.cases > 0
    assert not report.failures, "\n\n".join(report.failures.values())
