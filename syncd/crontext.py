"""A cron expression in plain words ("At 03:00, Monday through Friday"), for people reading
a plan, `next`, `list` or a pull-request comment.

The words come from cron-descriptor (a well-kept port of the .NET cron-expression
descriptor). Two things it does not settle as syncd's cron does are settled here: the
`@daily` macros (expanded the way the beat expands them), and Vixie cron's rule for the day
fields: when day-of-month and day-of-week are both restricted (neither starts with `*`), a
day matching *either* fires, and the words say "or"; otherwise both must match.

Pure: no I/O. A description is a courtesy, never a verdict: an expression the library
cannot word gets None, and validation (rules.py) stays the judge of what is valid.
"""

from __future__ import annotations

from functools import lru_cache

from cron_descriptor import ExpressionDescriptor, Options

from celeryapp.schedules import CronError, expand_cron


def _options() -> Options:
    options = Options()
    options.locale_code = "en_US"
    # Set after the locale: choosing a locale resets the time format.
    options.use_24hour_time_format = True
    return options


_OPTIONS = _options()


@lru_cache(maxsize=4096)
def describe(expr: str) -> str | None:
    """The expression in words, or None when it cannot be worded."""
    try:
        fields = expand_cron(expr).upper()
    except CronError:
        return None
    parts = fields.split()
    if len(parts) != 5:
        return None
    try:
        words = ExpressionDescriptor(fields, _OPTIONS)
        either = not parts[2].startswith("*") and not parts[4].startswith("*")
        text = (
            words.get_time_of_day_description()
            + words.get_day_of_month_description()
            + _day_of_week(words.get_day_of_week_description(), either=either)
            + words.get_month_description()
        )
        text = words.transform_verbosity(text, use_verbose_format=_OPTIONS.verbose)
        return str(ExpressionDescriptor.transform_case(text, _OPTIONS.casing_type))
    except Exception:  # noqa: BLE001 - words are a courtesy: never fail a plan for them
        return None


def _day_of_week(text: str, *, either: bool) -> str:
    """The day-of-week words joined by Vixie's rule. The library says "or" whenever
    day-of-month is not a bare `*` (so also for `*/2`, which cron reads as unrestricted)
    and only for a single day (not for `mon-fri`)."""
    if not text:
        return text
    core = text.removeprefix(", ").removeprefix("or ").removeprefix("only ")
    if either:
        return f", or {core}"
    return f", only {core}" if text.startswith(", or on ") else text
