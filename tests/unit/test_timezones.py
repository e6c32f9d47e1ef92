"""`is_timezone` answers exactly what membership in zoneinfo.available_timezones() would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.rules import available_timezones, is_timezone

ODD = [
    "",
    "UTC",
    "utc",
    "Europe",
    "Europe/",
    "europe/berlin",
    "posixrules",
    "posix/Europe/Berlin",
    "right/UTC",
    "../etc/passwd",
    "/etc/localtime",
    "Etc/GMT+5",
    "Factory",
    "zone.tab",
    "tzdata.zi",
    "Europe/Berlin\x00",
    "America/Argentina/Buenos_Aires",
    "US/Pacific",
]


def test_every_listed_zone_is_a_timezone() -> None:
    assert all(is_timezone(key) for key in available_timezones())


def test_odd_keys_agree_with_the_listing() -> None:
    for key in ODD:
        assert is_timezone(key) == (key in available_timezones()), key


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcEuropeAmerica/_+-0123456789.GMTUC", max_size=24))
def test_generated_keys_agree_with_the_listing(key: str) -> None:
    assert is_timezone(key) == (key in available_timezones())
