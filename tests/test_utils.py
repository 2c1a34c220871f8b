"""samovar.utils: atomic writes keep the old file on failure and get normal permissions;
deadlines given as a time of day are the next such time."""

import os
import stat
from datetime import datetime, timezone

import pytest

from samovar.utils import atomic_path, next_time_of_day, write_json_atomic


def test_atomic_write_replaces_and_failure_keeps_old(tmp_path):
    target = tmp_path / "a.json"
    write_json_atomic(target, {"x": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text().strip().startswith("{")
    assert '"x": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left behind


def test_atomic_write_uses_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "b.json", {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o644


@pytest.mark.parametrize("now, hhmm, expected", [
    ((2026, 11, 24, 23, 0, 0), "00:30", (2026, 11, 25, 0, 30)),   # past midnight: tomorrow
    ((2026, 11, 24, 21, 0, 0), "23:58", (2026, 11, 24, 23, 58)),  # later today
    ((2026, 11, 24, 10, 0, 30), "10:00", (2026, 11, 24, 10, 0)),  # this very minute: now, already reached
    ((2026, 11, 24, 10, 1, 0), "10:00", (2026, 11, 25, 10, 0)),   # a minute gone: tomorrow's
    ((2026, 12, 31, 23, 59, 0), "00:00", (2027, 1, 1, 0, 0)),     # across a year end
])
def test_next_time_of_day(now, hhmm, expected):
    now = datetime(*now, tzinfo=timezone.utc)
    assert next_time_of_day(hhmm, now) == datetime(*expected, tzinfo=timezone.utc)


@pytest.mark.parametrize("bad", ["2:30", " 2:30", "24:00", "10:60", "noon", "10-30", "1030"])
def test_next_time_of_day_refuses_what_is_not_hh_mm(bad):
    with pytest.raises(ValueError, match="HH:MM on the 24-hour clock"):
        next_time_of_day(bad, datetime(2026, 11, 24, tzinfo=timezone.utc))
