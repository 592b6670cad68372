"""Mass assignment (issue 7): a client cannot set what the service decides.

Ids, references, statuses, stages, audit fields (created_at, recorded_by, ...) and the key that
acted are the service's to set. Every JSON body of enquiry-api and complaints-api is refused
whole with a 422 problem naming each field it does not take (`extra="forbid"`, documented as
`additionalProperties: false`), and nothing changes. Two bodies come from other systems and
ignore what they do not know instead, by design: the standby contractor's records (its CSV may
carry columns of its own) and Open311's form (GeoReport clients send fields of their own); for
them, the same fields are sent and must change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from complaints_api.config import Settings as ComplaintsSettings
from complaints_api.main import create_app as complaints_app
from contact_common.errors import PROBLEM_JSON
from contact_devtools.testing import running_service
from enquiry_api.config import Settings as EnquirySettings
from enquiry_api.main import create_app as enquiry_app

SERVICES: dict[str, tuple[Callable[..., FastAPI], type[Any]]] = {
    "enquiry-api": (enquiry_app, EnquirySettings),
    "complaints-api": (complaints_app, ComplaintsSettings),
}

LONG_AGO = "2001-01-01T00:00:00+00:00"
# What a client might try to set, with values a service would never choose.
PROTECTED: dict[str, Any] = {
    "id": "00000000-0000-4000-8000-000000000001",
    "reference": "ENQ-2001-000001",
    "status": "closed",
    "stage": "ombudsman",
    "created_at": LONG_AGO,
    "updated_at": LONG_AGO,
    "recorded_at": LONG_AGO,
    "recorded_by": "someone-else",
    "actor_key_id": "000000000000",
    "created_by": "someone-else",
    "erased_at": LONG_AGO,
    "source": "open311",
}

# Bodies that ignore unknown fields on purpose (module docstring): tested below for no effect.
IGNORING = {("enquiry-api", "POST /v1/standby/call-records")}

_RECEIVED = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)


def _at(hours: float) -> str:
    return (_RECEIVED + timedelta(hours=hours)).isoformat()


# A valid body for each operation that takes JSON; {id} is a resource that exists.
VALID: dict[str, dict[str, dict[str, Any]]] = {
    "enquiry-api": {
        "POST /v1/enquiries": {
            "channel": "email",
            "service_area": "waste",
            "received_at": _at(0),
            "description": "The bin was not collected.",
        },
        "POST /v1/enquiries/{enquiry_id}/acknowledge": {"at": _at(1)},
        "POST /v1/enquiries/{enquiry_id}/assign": {"service_area": "waste", "at": _at(1)},
        "POST /v1/enquiries/{enquiry_id}/respond": {"at": _at(1)},
        "POST /v1/enquiries/{enquiry_id}/resolve": {"at": _at(1)},
        "POST /v1/enquiries/{enquiry_id}/reopen": {"at": _at(1)},
        "PATCH /v1/enquiries/{enquiry_id}": {"channel": "letter", "reason": "Keyed wrongly"},
        "POST /v1/enquiries/{enquiry_id}/void": {"reason_code": "test", "reason": "A test"},
        "POST /v1/calls": {
            "call_id": "tel-mass-1",
            "offered_at": _at(1),
            "answered_at": _at(1.01),
            "ended_at": _at(1.1),
        },
        "POST /v1/visits": {"visit_id": "kiosk-mass-1", "arrived_at": _at(1)},
        "POST /v1/feedback": {"score": 4, "channel": "phone", "service_area": "waste"},
        "POST /v1/customers/erase": {"enquiry_ids": ["{enquiry_id}"]},
    },
    "complaints-api": {
        "POST /v1/complaints": {
            "received_at": _at(0),
            "channel": "email",
            "description": "Nobody answered my enquiry.",
        },
        "POST /v1/complaints/{complaint_id}/acknowledge": {"officer": "CMP-1", "at": _at(1)},
        "POST /v1/complaints/{complaint_id}/extend": {"working_days": 5, "reason": "Site visit"},
        "POST /v1/complaints/{complaint_id}/respond": {
            "officer": "CMP-1",
            "outcome": "upheld",
            "summary": "We are sorry.",
            "at": _at(2),
        },
        "POST /v1/complaints/{complaint_id}/escalate": {"reason": "Not satisfied", "at": _at(3)},
        "POST /v1/complaints/{complaint_id}/close": {"officer": "CMP-1", "at": _at(3)},
        "PATCH /v1/complaints/{complaint_id}": {"channel": "letter", "reason": "Keyed wrongly"},
        "POST /v1/complaints/{complaint_id}/void": {"reason_code": "spam", "reason": "Spam"},
        "POST /v1/complaints/{complaint_id}/ombudsman-decision": {
            "outcome": "upheld",
            "decided_at": _at(4),
        },
    },
}


def _json_operations(document: dict[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }


def _object_schemas(schema: Any, document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object schema a request body may hold, $refs followed, nested ones included."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                walk(document["components"]["schemas"][name])
            return
        if "properties" in node:
            found.append(node)
        for key in ("properties", "items", "anyOf", "oneOf", "allOf", "additionalProperties"):
            value = node.get(key)
            walk(list(value.values()) if key == "properties" and value else value)

    walk(schema)
    return found


def _fill(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, str):
        return ids.get(body.strip("{}"), body) if body.startswith("{") else body
    if isinstance(body, list):
        return [_fill(item, ids) for item in body]
    if isinstance(body, dict):
        return {key: _fill(value, ids) for key, value in body.items()}
    return body


@pytest.mark.parametrize("service", SERVICES)
async def test_fields_the_service_decides_are_refused_and_change_nothing(
    service: str,
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> None:
    create_app, settings_class = SERVICES[service]
    token = issue_api_key("admin", name="mass-assignment")
    key_id = token.split("_")[1]
    async with (
        running_service(
            create_app,
            settings_class,
            service=service,
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
        ) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        document = (await client.get("/openapi.json")).json()
        operations = _json_operations(document)
        # Every operation that takes JSON is tested here: a new one must join the table.
        assert operations == VALID[service].keys() | {o for s, o in IGNORING if s == service}

        # The documents say so: every object of every refusing body forbids other properties.
        for operation in sorted(operations - {o for s, o in IGNORING if s == service}):
            method, path = operation.split(" ", 1)
            body = document["paths"][path][method.lower()]["requestBody"]
            schemas = _object_schemas(body["content"]["application/json"]["schema"], document)
            assert schemas, operation
            for schema in schemas:
                assert schema.get("additionalProperties") is False, (operation, schema.get("title"))

        # A resource to aim the steps at, created by this key: the service set what it decides.
        collection = "/v1/enquiries" if service == "enquiry-api" else "/v1/complaints"
        create = f"POST {collection}"
        created = await client.post(collection, json=VALID[service][create])
        assert created.status_code == 201, created.text
        resource = created.json()
        assert resource["id"] != PROTECTED["id"] and resource["reference"] != PROTECTED["reference"]
        ids = {"enquiry_id": resource["id"], "complaint_id": resource["id"]}
        before = (await client.get(f"{collection}/{resource['id']}")).json()
        # The audit names the key that acted (enquiry-api by id, complaints-api by name).
        actors = {h.get("actor_key_id") or h.get("recorded_by") for h in before["history"]}
        assert actors == {key_id if service == "enquiry-api" else "mass-assignment"}, actors

        for operation, valid in VALID[service].items():
            method, path = operation.split(" ", 1)
            url = _fill(path, ids)
            body = _fill(valid, ids) | PROTECTED
            refused = await client.request(method, url, json=body)
            assert refused.status_code == 422, f"{operation}: {refused.text}"
            assert refused.headers["content-type"] == PROBLEM_JSON
            errors = {e["field"]: e["message"] for e in refused.json()["errors"]}
            for name in PROTECTED:
                named = [f for f in errors if f == f"body.{name}" or f.endswith(f".{name}")]
                assert named, f"{operation} did not name {name}: {errors}"
                assert all("not permitted" in errors[f] for f in named), errors
            # Nested objects forbid them as well: a customer cannot carry an id of its own.
            if operation == create:
                nested = _fill(valid, ids) | {"customer": {"name": "A Resident"} | PROTECTED}
                inner = await client.request(method, url, json=nested)
                assert inner.status_code == 422, inner.text
                assert "body.customer.id" in {e["field"] for e in inner.json()["errors"]}

        # Nothing was applied: one resource, as it was.
        after = (await client.get(f"{collection}/{resource['id']}")).json()
        assert after == before
        listing = (await client.get(collection)).json()
        assert [item["id"] for item in listing["items"]] == [resource["id"]]


async def test_bodies_that_ignore_unknown_fields_take_nothing_from_them(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
) -> None:
    token = issue_api_key("admin", name="contractor")
    injected_enquiry = str(uuid.uuid4())
    async with (
        running_service(
            enquiry_app,
            EnquirySettings,
            service="enquiry-api",
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            api_keys_file=api_keys_file,
        ) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        record = {
            "record_id": "SB-mass-1",
            "call_started_at": _at(14),
            "answered_at": _at(14.01),
            "ended_at": _at(14.1),
            "category": "housing_repair",
            "service_area": "housing",
            "action_taken": "Plumber sent",
            "requires_follow_up": True,
        }
        answer = await client.post(
            "/v1/standby/call-records",
            json=[record | PROTECTED | {"enquiry_id": injected_enquiry, "status": "rejected"}],
        )
        assert answer.status_code == 200, answer.text
        (result,) = answer.json()["results"]
        assert result["status"] == "created"
        assert result["enquiry_id"] not in (None, injected_enquiry)
        follow_up = (await client.get(f"/v1/enquiries/{result['enquiry_id']}")).json()
        assert follow_up["source"] == "standby"
        assert follow_up["status"] != PROTECTED["status"]
        assert follow_up["reference"] != PROTECTED["reference"]
        assert follow_up["created_at"] > LONG_AGO

        services = (await client.get("/open311/v2/services.json")).json()
        service_code = next(s["service_code"] for s in services if not s["metadata"])
        form = {
            "api_key": token,
            "service_code": service_code,
            "lat": "52.63",
            "long": "1.29",
            "description": "Graffiti on the underpass",
            "service_request_id": PROTECTED["reference"],
            "token": PROTECTED["id"],
            "status": "closed",
            "agency_responsible": "someone-else",
            "requested_datetime": LONG_AGO,
        }
        reported = await client.post("/open311/v2/requests.json", data=form)
        assert reported.status_code == 200, reported.text
        (request,) = reported.json()
        assert PROTECTED["reference"] not in request.values()
        assert PROTECTED["id"] not in request.values()
        (mine,) = [
            e
            for e in (await client.get("/v1/enquiries")).json()["items"]
            if e["source"] == "open311"
        ]
        assert mine["status"] == "open" and mine["created_at"] > LONG_AGO
        assert mine["reference"] != PROTECTED["reference"]
