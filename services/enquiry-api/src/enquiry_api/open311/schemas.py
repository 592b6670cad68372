"""Open311 GeoReport v2 documents: the resources as the spec names their fields, in XML or JSON."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import orjson
from fastapi import Response

from enquiry_api.enquiries.models import Enquiry, EnquiryHistory
from enquiry_api.open311.domain import (
    Open311Error,
    Open311Service,
    georeport_status,
    status_notes,
    update_status,
    w3c,
)
from enquiry_api.open311.models import ResidentUpdate

XML_MEDIA_TYPE = "text/xml; charset=utf-8"
JSON_MEDIA_TYPE = "application/json"

# In XML, a list is an element of the plural holding one element per item.
_ITEM_TAG = {
    "attributes": "attribute",
    "values": "value",
    "formats": "format",
    "endpoints": "endpoint",
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ElementTree.Element, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        child = ElementTree.SubElement(element, name)
        if isinstance(value, list):
            item_tag = _ITEM_TAG.get(name, "item")
            for item in value:
                grandchild = ElementTree.SubElement(child, item_tag)
                if isinstance(item, dict):
                    _fill(grandchild, item)
                else:
                    grandchild.text = _text(item)
        elif isinstance(value, dict):
            _fill(child, value)
        else:
            child.text = _text(value)


def _xml(root: ElementTree.Element) -> bytes:
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        root, encoding="unicode"
    ).encode("utf-8")


def render_list(
    fmt: str, root_tag: str, item_tag: str, items: list[dict[str, Any]], status: int = 200
) -> Response:
    """A list resource: a JSON array, or <root><item>...</item></root>."""
    if fmt == "json":
        return Response(orjson.dumps(items), status_code=status, media_type=JSON_MEDIA_TYPE)
    root = ElementTree.Element(root_tag)
    for item in items:
        _fill(ElementTree.SubElement(root, item_tag), item)
    return Response(_xml(root), status_code=status, media_type=XML_MEDIA_TYPE)


def render_object(fmt: str, root_tag: str, fields: dict[str, Any]) -> Response:
    """A single resource: a JSON object, or <root>...</root>."""
    if fmt == "json":
        return Response(orjson.dumps(fields), media_type=JSON_MEDIA_TYPE)
    root = ElementTree.Element(root_tag)
    _fill(root, fields)
    return Response(_xml(root), media_type=XML_MEDIA_TYPE)


def render_error(fmt: str, error: Open311Error) -> Response:
    """An error as the spec writes it: [{code, description}] or <errors><error>..."""
    return render_list(
        fmt,
        "errors",
        "error",
        [{"code": error.code, "description": error.description}],
        status=error.code,
    )


def service_fields(service: Open311Service) -> dict[str, Any]:
    """A service in GET services."""
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": service.metadata,
        "type": "realtime",
        "keywords": ", ".join(service.keywords),
        "group": service.group,
    }


def definition_fields(service: Open311Service) -> dict[str, Any]:
    """A service definition: the questions the service asks."""
    return {
        "service_code": service.code,
        "attributes": [
            {
                "variable": True,
                "code": attribute.code,
                "datatype": attribute.datatype,
                "required": attribute.required,
                "datatype_description": attribute.datatype_description,
                "order": attribute.order,
                "description": attribute.description,
                **(
                    {"values": [{"key": v.key, "name": v.name} for v in attribute.values]}
                    if attribute.values
                    else {}
                ),
            }
            for attribute in service.attributes
        ],
    }


def request_fields(enquiry: Enquiry, service_name: str | None) -> dict[str, Any]:
    """A service request as GET requests returns it; nothing about the reporter."""
    return {
        "service_request_id": enquiry.reference,
        "status": georeport_status(enquiry.status),
        "status_notes": status_notes(enquiry.status),
        "service_name": service_name,
        "service_code": enquiry.service_code,
        "description": enquiry.description,
        "agency_responsible": enquiry.service_area,
        "service_notice": None,
        "requested_datetime": w3c(enquiry.received_at),
        "updated_datetime": w3c(enquiry.updated_at),
        "expected_datetime": None,
        "address": enquiry.location_address,
        "address_id": (enquiry.attributes or {}).get("address_id"),
        "zipcode": None,
        "lat": enquiry.latitude,
        "long": enquiry.longitude,
        "media_url": enquiry.media_url,
        "token": str(enquiry.id),
    }


def update_fields(
    entry: EnquiryHistory, enquiry: Enquiry, posted: ResidentUpdate | None = None
) -> dict[str, Any]:
    """One update, as mySociety's servicerequestupdates extension writes it.

    A step of the council's is described by a sentence about its status; an update posted to
    us (`posted`) by what its writer said (nothing once erased), with its first photo link. Its
    status is, like every update's, the request's status after it.
    """
    description: str | None
    media_url: str | None
    if posted is None:
        description, media_url = status_notes(entry.to_status), None
    else:
        description = posted.description
        media_url = posted.media_urls[0] if posted.media_urls else None
    return {
        "update_id": str(entry.id),
        "service_request_id": enquiry.reference,
        "status": update_status(entry.to_status),
        "updated_datetime": w3c(entry.occurred_at),
        "description": description,
        "media_url": media_url,
    }


FORM_FIELDS = {
    "api_key": "An API key of this platform with the enquiries:write scope.",
    "jurisdiction_id": "Accepted and ignored: this endpoint serves one council.",
    "service_code": "The service's code, from GET services.",
    "lat": "WGS84 latitude; with long, or give address_string or address_id.",
    "long": "WGS84 longitude.",
    "address_string": "The place, in words.",
    "address_id": "The council's id of the address.",
    "email": "The reporter's email address.",
    "device_id": "Accepted and ignored.",
    "account_id": "Accepted and ignored.",
    "first_name": "The reporter's first name.",
    "last_name": "The reporter's last name.",
    "phone": "The reporter's telephone number.",
    "description": "What is wrong (at most 4,000 characters).",
    "media_url": "A link to a photo.",
    "attribute[code]": "The answer to the service's question `code` (see its definition).",
}

UPDATE_FORM_FIELDS = {
    "api_key": "An API key of this platform with the enquiries:write scope.",
    "jurisdiction_id": "Accepted and ignored: this endpoint serves one council.",
    "service_request_id": "The request's service_request_id (its reference) or token.",
    "update_id": "The sender's own id of the update (FixMyStreet's comment id): posting it "
    "again is recognised as the same update.",
    "updated_datetime": "When the update was made: a W3C datetime with a time zone.",
    "status": "The report's status by the sender's account: OPEN or CLOSED, or one of "
    "mySociety's extended statuses (FIXED, REOPEN, IN_PROGRESS, ...), in any case.",
    "description": "What the resident wrote (at most 10,000 characters).",
    "first_name": "The writer's first name.",
    "last_name": "The writer's last name ('-' for none, as FixMyStreet sends it).",
    "email": "The writer's email address.",
    "phone": "The writer's telephone number.",
    "media_url": "A link to a photo; repeat the field for several.",
}


def _form_body(fields: dict[str, str], required: list[str]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": required,
                        "properties": {
                            name: {"type": "string", "description": description}
                            for name, description in fields.items()
                        },
                    }
                }
            },
        }
    }


POST_REQUEST_BODY = _form_body(FORM_FIELDS, ["api_key", "service_code"])
POST_UPDATE_BODY = _form_body(
    UPDATE_FORM_FIELDS,
    ["api_key", "service_request_id", "update_id", "updated_datetime", "status"],
)


def spec_format(description: str) -> dict[str, Any]:
    """An OpenAPI response in the format of the path's extension: XML or JSON."""
    return {"description": description, "content": {"text/xml": {}, "application/json": {}}}


OPEN311_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: spec_format("The resource, in the format of the path's extension."),
    400: spec_format("Bad request: [{code, description}] or <errors><error>..."),
    404: spec_format("Not found, in the spec's error format."),
}
