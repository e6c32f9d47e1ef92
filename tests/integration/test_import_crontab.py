"""`syncd import --from crontab` through the real CLI: a file and stdin, --out, exit codes.

Cron's semantics are syncd's own (Vixie cron: day fields OR, Debian's DST rules), so the
fire times below are cron's, written out by hand from the calendar.
"""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.integration.importing import SYNCD, round_trip, syncd, syncd_fire_times

pytestmark = pytest.mark.integration

CRONTAB = """\
SHELL=/bin/bash
PGPASSWORD=hunter2
30 2 * * *   /usr/local/bin/backup --full
0 9 1 * mon  /opt/report
CRON_TZ=America/New_York
30 1 * * *   /opt/fallback
@reboot      /opt/start
"""


def test_crontab_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "crontab"
    source.write_text(CRONTAB)
    out = tmp_path / "schedules"
    done = syncd(
        "import",
        "--from",
        "crontab",
        str(source),
        "--task",
        "jobs.shell",
        "--timezone",
        "Europe/Berlin",
        "--out",
        str(out),
        check=1,
    )
    assert "hunter2" not in done.stdout + done.stderr
    assert (
        "environment lines not carried (set them where the task runs): PGPASSWORD, SHELL"
        in done.stderr
    )
    assert f"warning[import.skipped]: {source}:7: @reboot" in done.stderr
    round_trip(out, f"sqlite:///{tmp_path / 'syncd.db'}")

    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    after = datetime(2026, 10, 31, 12, 0, tzinfo=berlin)
    assert syncd_fire_times("backup-full", out, after, 2) == [
        datetime(2026, 11, 1, 2, 30, tzinfo=berlin),
        datetime(2026, 11, 2, 2, 30, tzinfo=berlin),
    ]
    # day 1 OR Monday: Sun Nov 1, Mon Nov 2, Mon Nov 9
    assert [t.day for t in syncd_fire_times("report", out, after, 3)] == [1, 2, 9]
    # 01:30 on the fall-back night in New York fires once, on its first pass (EDT)
    first = syncd_fire_times("fallback", out, after.astimezone(new_york), 2)
    assert first[0] == datetime(2026, 11, 1, 1, 30, tzinfo=new_york)
    assert first[0].utcoffset().total_seconds() == -4 * 3600
    assert first[1] == datetime(2026, 11, 2, 1, 30, tzinfo=new_york)


def test_stdin_force_and_usage_errors(tmp_path: Path) -> None:
    line = "*/10 * * * * /bin/true\n"
    done = subprocess.run(
        [SYNCD, "import", "--from", "crontab", "-", "--task", "jobs.shell"],
        input=line,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "cron: '*/10 * * * *'" in done.stdout
    out = tmp_path / "o"
    source = tmp_path / "c"
    source.write_text(line)
    syncd("import", "--from", "crontab", str(source), "--task", "t.a", "--out", str(out))
    done = syncd(
        "import", "--from", "crontab", str(source), "--task", "t.a", "--out", str(out), check=64
    )
    assert "exists; pass --force" in done.stderr
    syncd("import", "--from", "crontab", str(source), "--task", "t.a", "--out", str(out), "--force")
    assert "needs --task" in syncd("import", "--from", "crontab", str(source), check=64).stderr
    bad_zone = syncd(
        "import",
        "--from",
        "crontab",
        str(source),
        "--task",
        "t.a",
        "--timezone",
        "Mars/Olympus",
        check=64,
    )
    assert "--timezone='Mars/Olympus' is not an IANA time zone" in bad_zone.stderr
    syncd("import", "--from", "cron", str(source), check=64)
    missing = syncd("import", "--from", "crontab", str(tmp_path / "nope"), "--task", "t.a", check=3)
    assert "cannot read" in missing.stderr
