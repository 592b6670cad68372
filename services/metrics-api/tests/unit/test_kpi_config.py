"""The KPI configuration takes the commitments it counts against from the policy in force."""

from __future__ import annotations

from pathlib import Path

from metrics_api.config import Settings
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
