"""Reading the standby contractor's CSV batches, on plain values."""

from __future__ import annotations

import pytest

from enquiry_api.standby.domain import (
    BatchUnreadable,
    follow_up_description,
    read_csv,
    record_id_of,
)

HEADER = (
    "record_id,call_started_at,answered_at,ended_at,category,service_area,action_taken,"
    "requires_follow_up,caller_phone,notes"
)


def test_each_row_is_a_record_with_its_line_and_empty_cells_left_out() -> None:
    text = (
        HEADER + "\n"
        "SB-1,2026-03-07T22:15:00+00:00,2026-03-07T22:15:20+00:00,2026-03-07T22:21:00+00:00,"
        "repair,housing,Plumber sent,yes,,\n"
        "\n"
        'SB-2,2026-03-07T23:00:00+00:00,,,noise,environmental_health,"Advised, logged",no,,\n'
    )
    items = read_csv(text)
    assert [i.position for i in items] == [0, 1]
    assert [i.line for i in items] == [2, 4]
    assert items[0].fields["record_id"] == "SB-1"
    assert "caller_phone" not in items[0].fields
    assert items[1].fields["action_taken"] == "Advised, logged"
    assert "answered_at" not in items[1].fields


def test_header_names_are_read_without_case_or_spaces() -> None:
    text = HEADER.upper().replace(",", " , ") + "\nSB-1,a,b,c,d,e,f,g,h,i\n"
    (item,) = read_csv(text)
    assert item.fields["notes"] == "i"


def test_a_header_without_the_required_columns_makes_the_batch_unreadable() -> None:
    with pytest.raises(BatchUnreadable, match="lacks the columns: service_area, action_taken"):
        read_csv("record_id,call_started_at,answered_at,ended_at,category,requires_follow_up\n")


def test_a_row_with_more_cells_than_the_header_is_marked() -> None:
    (item,) = read_csv(HEADER + "\nSB-1,a,b,c,d,e,f,g,h,i,surplus\n")
    assert item.fields["_extra_cells"] == ["surplus"]


def test_an_empty_file_has_no_records() -> None:
    assert read_csv("") == []
    assert read_csv(HEADER + "\n") == []


def test_the_record_id_of_even_a_bad_record_is_reported() -> None:
    assert record_id_of({"record_id": "SB-9"}) == "SB-9"
    assert record_id_of({"record_id": 17}) == "17"
    assert record_id_of({"record_id": True}) is None
    assert record_id_of(["not", "an", "object"]) is None


def test_a_follow_up_describes_the_call() -> None:
    text = follow_up_description(category="repair", action_taken="Plumber sent", notes="Leak")
    assert text == "Out-of-hours standby call (repair). Action taken: Plumber sent Notes: Leak"
