"""The authorisation matrix of every endpoint of every service (issue 7).

For each operation in a service's OpenAPI document: no key is 401 (problem+json, with
WWW-Authenticate), a revoked key is 401, every key without the operation's scope is 403
(problem+json), and a key with it (or admin) gets past authorisation. The scope each operation
needs is read from its route's dependencies (`require_scope` names its dependency
`require_<scope>`), so the matrix follows the code; an operation that is neither public nor
guarded by a scope fails the test.

Open311 authenticates in its own way (the form's `api_key`, errors in the GeoReport format) and
is tested on its own below.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import iter_route_contexts

from complaints_api.config import Settings as ComplaintsSettings
from complaints_api.main import create_app as complaints_app
from contact_common.auth import SCOPES, require_scope, revoke_key
from contact_common.errors import PROBLEM_JSON
from contact_devtools.testing import running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app
from metrics_api.config import Settings as MetricsSettings
from metrics_api.main import create_app as metrics_app
from sla_monitor.config import Settings as SlaSettings
from sla_monitor.main import create_app as sla_app

SERVICES: dict[str, tuple[Callable[..., FastAPI], type[Any], dict[str, Any]]] = {
    "enquiry-api": (enquiry_app, EnquirySettings, {}),
    "complaints-api": (complaints_app, ComplaintsSettings, {}),
    "sla-monitor": (sla_app, SlaSettings, {}),
    # The dashboard's data is open by default (aggregates only, for an internal network); a
    # council that closes it relies on the metrics:read gate, which is what is tested here.
    "metrics-api": (metrics_app, MetricsSettings, {"dashboard_public": False}),
}

PUBLIC = {
    "/healthz": "liveness probe",
    "/readyz": "readiness probe",
    "/metrics": "Prometheus scrape, no personal data",
    "/openapi.json": "the API's own description",
    "/docs": "the API's own description",
    "/docs/oauth2-redirect": "the API's own description",
    "/redoc": "the API's own description",
    "/dashboard": "a public page holding no figures; its data needs a key when closed",
    "/dashboard/static/{name}": "the dashboard page's script and style sheet",
    # Its rows need a metrics:read key when the dashboard is closed (a key refused is 401/403,
    # services/metrics-api/tests/integration/test_worklist_page.py); without one the page says so.
    "/dashboard/worklist": "the worklist page, holding no rows without a key when closed",
}
OPEN311 = "/open311/"
"""GeoReport v2 authenticates writes with the form's api_key, not the Authorization header."""

REQUIRE = {f"require_{scope.replace(':', '_')}": scope for scope in SCOPES}
STANDBY_SCOPE = "standby:write"


@dataclass(frozen=True)
class Operation:
    """One method on one path, and the scope it needs (None if none was found)."""

    method: str
    path: str
    scope: str | None

    def url(self) -> str:
        # Any well-formed identifier: authorisation is decided before the resource is looked up.
        return re.sub(r"{(\w+)}", lambda m: str(uuid.uuid4()), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _guards(call: Callable[..., Any]) -> Iterator[str]:
    """The scopes `call` demands: its own name, or scope dependencies it calls by global name."""
    name = getattr(call, "__name__", "")
    if name in REQUIRE:
        yield REQUIRE[name]
        return
    # A gate like the dashboard's (open or closed by a setting) awaits a require_* it holds.
    code = getattr(inspect.unwrap(call), "__code__", None)
    namespace = getattr(call, "__globals__", {})
    for global_name in code.co_names if code else ():
        held = namespace.get(global_name)
        if callable(held) and getattr(held, "__name__", "") in REQUIRE:
            yield REQUIRE[held.__name__]


def _scopes(dependant: Any) -> set[str]:
    """Every scope demanded anywhere in a route's dependency tree."""
    found: set[str] = set()
    for dependency in dependant.dependencies:
        found |= set(_guards(dependency.call))
        found |= _scopes(dependency)
    return found


def route_scopes(app: FastAPI) -> dict[tuple[str, str], set[str]]:
    """(method, path) -> the scopes its dependencies demand, for every route of `app`."""
    scopes: dict[tuple[str, str], set[str]] = {}
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        for method in route.methods or ():
            scopes[(method, route.path)] = _scopes(dependant) if dependant else set()
    return scopes


def operations(app: FastAPI) -> tuple[list[Operation], list[str]]:
    """The guarded operations of `app`'s OpenAPI document, and any that have no guard."""
    scopes = route_scopes(app)
    documented = app.openapi()["paths"]
    guarded: list[Operation] = []
    # A route left out of the document would escape the matrix: it counts as unguarded.
    unguarded = [
        f"{method} {path}: not in the OpenAPI document"
        for method, path in scopes
        if not (path in PUBLIC or path.startswith(OPEN311))
        and method.lower() not in documented.get(path, {})
    ]
    for path, methods in documented.items():
        if path in PUBLIC or path.startswith(OPEN311):
            continue
        for method in methods:
            needed = scopes.get((method.upper(), path))
            assert needed is not None, f"{method.upper()} {path} is documented but not routed"
            if len(needed) != 1:
                unguarded.append(f"{method.upper()} {path}: scopes {sorted(needed) or 'none'}")
                continue
            guarded.append(Operation(method.upper(), path, next(iter(needed))))
    return guarded, unguarded


def assert_problem(response: httpx.Response, status: int, operation: Operation, who: str) -> None:
    assert response.status_code == status, f"{operation} with {who}: {response.status_code}"
    assert response.headers["content-type"] == PROBLEM_JSON, f"{operation} with {who}"
    assert response.json()["status"] == status


@dataclass
class Keys:
    """The keys of the matrix: one per scope, admin, and a revoked key per scope."""

    by_scope: dict[str, str]
    revoked: dict[str, str]


def issue_keys(issue_api_key: Callable[..., str], api_keys_file: Path) -> Keys:
    by_scope = {scope: issue_api_key(scope, name=f"only-{scope}") for scope in SCOPES}
    revoked = {}
    for scope in SCOPES:
        token = issue_api_key(scope, name=f"revoked-{scope}")
        assert revoke_key(api_keys_file, token.split("_")[1])
        revoked[scope] = token
    return Keys(by_scope, revoked)


async def _send(
    client: httpx.AsyncClient, operation: Operation, token: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # An empty JSON body: a request the route could parse, so only authorisation decides.
    body = {} if operation.method in ("POST", "PUT", "PATCH") else None
    return await client.request(operation.method, operation.url(), headers=headers, json=body)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_operation_needs_its_scope_and_nothing_else(
    service: str,
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
    security_summary: list[str],
) -> None:
    create_app, settings_class, overrides = SERVICES[service]
    keys = issue_keys(issue_api_key, api_keys_file)
    apps: list[FastAPI] = []

    def create_and_keep(settings: Any) -> FastAPI:
        apps.append(create_app(settings))
        return apps[-1]

    async with (
        running_service(
            create_and_keep,
            settings_class,
            service=service,
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
            **overrides,
        ) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        guarded, unguarded = operations(apps[0])
        assert not unguarded, f"operations without exactly one scope: {unguarded}"
        assert guarded, f"{service} documents no guarded operation"
        for operation in guarded:
            anonymous = await _send(client, operation, None)
            assert_problem(anonymous, 401, operation, "no key")
            assert anonymous.headers["www-authenticate"].startswith("Bearer")

            garbage = await _send(client, operation, "cc_000000000000_not-a-key")
            assert_problem(garbage, 401, operation, "an unknown key")

            revoked = await _send(client, operation, keys.revoked[operation.scope])
            assert_problem(revoked, 401, operation, f"a revoked {operation.scope} key")

            for scope, token in keys.by_scope.items():
                response = await _send(client, operation, token)
                if scope in (operation.scope, "admin"):
                    assert response.status_code not in (401, 403), (
                        f"{operation} refused a {scope} key: {response.text}"
                    )
                else:
                    assert_problem(response, 403, operation, f"a {scope} key")
                    assert operation.scope in response.json()["detail"]

    security_summary.append(
        f"{service}: {len(guarded)} guarded operations, each refused without a key, with a "
        f"revoked key and with each of {len(SCOPES) - 2} other scopes"
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_the_standby_contractor_reads_nothing(
    service: str,
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> None:
    create_app, settings_class, overrides = SERVICES[service]
    standby = issue_api_key(STANDBY_SCOPE, name="standby-contractor")
    apps: list[FastAPI] = []

    def create_and_keep(settings: Any) -> FastAPI:
        apps.append(create_app(settings))
        return apps[-1]

    async with (
        running_service(
            create_and_keep,
            settings_class,
            service=service,
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
            **overrides,
        ) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
    ):
        guarded, _ = operations(apps[0])
        reads = [operation for operation in guarded if operation.method == "GET"]
        for operation in reads:
            response = await _send(client, operation, standby)
            assert_problem(response, 403, operation, "the standby contractor's key")
        writes = [operation for operation in guarded if operation.scope == STANDBY_SCOPE]
        # Only enquiry-api takes its records; it may do nothing else anywhere.
        assert [str(w) for w in writes] == (
            ["POST /v1/standby/call-records"] if service == "enquiry-api" else []
        )
        if service != "enquiry-api":
            assert reads, f"{service} has no guarded reads to refuse"


def _open311_error(response: httpx.Response, status: int) -> str:
    """The description of a GeoReport error list of `status`."""
    assert response.status_code == status, response.text
    errors = response.json()
    assert isinstance(errors, list) and errors[0]["code"] == status, errors
    return errors[0]["description"]


async def test_open311_writes_need_an_enquiries_write_api_key(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> None:
    writer = issue_api_key("enquiries:write", name="fixmystreet")
    reader = issue_api_key("enquiries:read", name="reader")
    standby = issue_api_key(STANDBY_SCOPE, name="standby-contractor")
    revoked = issue_api_key("enquiries:write", name="revoked")
    assert revoke_key(api_keys_file, revoked.split("_")[1])
    async with (
        running_service(
            enquiry_app,
            EnquirySettings,
            service="enquiry-api",
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
        ) as server,
        httpx.AsyncClient(base_url=f"{server.url}/open311/v2", timeout=30) as client,
    ):
        catalogue = (await client.get("/services.json")).json()
        # A service that asks no questions, so the form below is complete.
        service_code = next(s["service_code"] for s in catalogue if not s["metadata"])
        form = {
            "service_code": service_code,
            "lat": "52.63",
            "long": "1.29",
            "description": "Fly-tipping by the bus stop",
            "email": "resident@example.org",
        }
        for fmt in ("json", "xml"):
            # No api_key, or one the service cannot verify: the spec's 403, never a 401 page.
            for api_key in (None, "", "not-a-key", revoked):
                data = form if api_key is None else form | {"api_key": api_key}
                response = await client.post(f"/requests.{fmt}", data=data)
                assert response.status_code == 403, (fmt, api_key, response.text)
                if fmt == "xml":
                    assert response.headers["content-type"].startswith("text/xml")
                    assert "<errors>" in response.text
                else:
                    assert "api_key" in _open311_error(response, 403)
            # A valid key without enquiries:write is refused as well.
            for api_key in (reader, standby):
                response = await client.post(f"/requests.{fmt}", data=form | {"api_key": api_key})
                assert response.status_code == 403, (fmt, response.text)
                if fmt == "json":
                    assert "may not create" in _open311_error(response, 403)

        # The right key may create (and the Authorization header alone is not how Open311 signs).
        header_only = await client.post(
            "/requests.json", data=form, headers={"Authorization": f"Bearer {writer}"}
        )
        assert header_only.status_code == 403, header_only.text
        created = await client.post("/requests.json", data=form | {"api_key": writer})
        assert created.status_code == 200, created.text
        assert created.json()[0]["service_request_id"]

        # Reading is open, as GeoReport v2 has it: nothing about the reporter is returned.
        request_id = created.json()[0]["service_request_id"]
        for path in (
            "/discovery.json",
            "/services.json",
            f"/services/{service_code}.json",
            "/requests.json",
            f"/requests/{request_id}.json",
            "/servicerequestupdates.json",
        ):
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)
            assert "resident@example.org" not in response.text, path


def test_the_matrix_notices_an_endpoint_without_a_scope() -> None:
    guarded = APIRouter(prefix="/v1/guarded", dependencies=[Depends(require_scope("sla:read"))])
    guarded.add_api_route("/things", lambda: [], methods=["GET"])
    app = FastAPI()
    app.include_router(guarded)
    app.add_api_route("/v1/open", lambda: [], methods=["POST"])
    app.add_api_route("/v1/hidden", lambda: [], methods=["GET"], include_in_schema=False)

    found, unguarded = operations(app)
    assert found == [Operation("GET", "/v1/guarded/things", "sla:read")]
    assert sorted(unguarded) == [
        "GET /v1/hidden: not in the OpenAPI document",
        "POST /v1/open: scopes none",
    ]
