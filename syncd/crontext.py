"""A cron expression in plain words ("At 03:00, Monday through Friday"), for people reading
a plan, `next`, `list` or a pull-request comment.

The words come from cron-descriptor (a well-kept port of the .NET cron-expression
descriptor). Two things it does not know about syncd's cron are settled here: the `@daily`
macros (expanded the way the beat expands them), and Vixie cron's rule for the day fields:
when day-of-month and day-of-week are both restricted, a day matching *either* fires, so the
words say "or" where the library would join them as if both had to match.

Pure: no I/O. A description is a courtesy, never a verdict: an expression the library
cannot word gets None, and validation (rules.py) stays the judge of what is valid.
"""

from __future__ import annotations

from functools import lru_cache

from cron_descriptor import ExpressionDescriptor, FormatException, Options

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
    # A list holding a step ("1,*/10") is worded wrongly by the library (the "1" is
    # dropped) or not at all: no words rather than wrong ones.
    if len(parts) != 5 or any("," in part and "/" in part for part in parts):
        return None
    try:
        words = ExpressionDescriptor(fields, _OPTIONS)
        if parts[2].startswith("*") or parts[4].startswith("*"):
            return str(words.get_description())
        return _either_day(words)
    except (FormatException, ValueError, IndexError, KeyError):
        return None


def _either_day(words: ExpressionDescriptor) -> str:
    """Both day fields restricted: cron fires on a day matching either of them."""
    day_of_month = words.get_day_of_month_description()
    day_of_week = words.get_day_of_week_description().removeprefix(", ").removeprefix("only ")
    text = (
        f"{words.get_time_of_day_description()}{day_of_month}, or {day_of_week}"
        f"{words.get_month_description()}"
    )
    return text[:1].upper() + text[1:]
