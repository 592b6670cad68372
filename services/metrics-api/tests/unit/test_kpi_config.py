"""The KPI configuration takes the commitments it counts against from the policy in force."""

from __future__ import annotations

from pathlib import Path

from metrics_api.config import Settings
from metrics_api.kpis.domain import SCORECARD
from metrics_api.kpis.service import KpiConfig

SLOWER = """
name: slower-phones
extends: default
commitments:
  - id: phone-wait-max
    description: No caller waits more than 15 minutes to be answered in office hours.
    contact_type: call
    applies_to: {channels: [phone], office_hours_only: true}
    start_events: [call.offered]
    stop_events: [call.answered]
    abandon_events: [call.abandoned]
    target: {seconds: 900}
"""


def test_the_longest_wait_is_held_to_the_phone_wait_max_commitment_every_year(
    tmp_path: Path,
) -> None:
    shipped = KpiConfig.from_settings(Settings(_env_file=None, policy="default"))
    assert shipped.target("call-wait-max", "2031-32") == (600.0, "2031-32")
    assert "phone-wait-max" in (shipped.sla_commitments or ())
    policy = tmp_path / "slower.yaml"
    policy.write_text(SLOWER)
    slower = KpiConfig.from_settings(Settings(_env_file=None, policy=str(policy)))
    assert slower.target("call-wait-max", "2026-27") == (900.0, "2026-27")
    # A target the council set for the KPI itself wins over the commitment's.
    own = KpiConfig.from_settings(
        Settings(_env_file=None, policy="default", targets={"call-wait-max": {"2026-27": 480.0}})
    )
    assert own.target("call-wait-max", "2027-28") == (480.0, "2026-27")


def test_the_shipped_score_card_sets_a_target_for_every_row_from_2025_26() -> None:
    shipped = KpiConfig.from_settings(Settings(_env_file=None, policy="default"))
    for year in ("2025-26", "2026-27", "2028-29", "2030-31"):
        missing = [kpi.kpi for kpi in SCORECARD if shipped.target(kpi.kpi, year)[0] is None]
        assert missing == [], f"{year}: no target for {missing}"
    # The seed's call-wait targets: 1m30s, then 1m20s from 2027-28.
    assert shipped.target("call-wait-mean", "2025-26") == (90.0, "2025-26")
    assert shipped.target("call-wait-mean", "2028-29") == (80.0, "2027-28")
    assert shipped.target("SLA", "2026-27") == (95.0, "2025-26")
