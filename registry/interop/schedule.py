"""A subscription's ``frequency``: the standard's cron expression, read as when its notifications may go out.

The standard writes ``{"start_time", "end_time", "frequency": "<cron>"}`` with a Quartz example
(``0 0 0 5,15 * ? *``: seconds, minutes, hours, day of month, month, day of week, year). We accept that
form (6 or 7 fields) and the Unix one (5 fields: minutes to day of week). A field is ``*``, ``?``, a number
or name, ``a-b``, lists of those, and ``/step``; Quartz's ``L``, ``W`` and ``#`` are refused. Seconds are
ignored (the worker runs every few seconds anyway) and the year field must be ``*`` or absent. Times are the
ministry's (Asia/Hebron), like every date the registry shows. Day of week counts Sunday as 0 (or 7) in the
Unix form and as 1 in the Quartz form; ``SUN``..``SAT`` are the same in both. When day of month and day of
week are both restricted, either one matching is enough, as cron does.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from registry.operations import MINISTRY_TIMEZONE

_MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_DAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_PART = re.compile(r"^(\*|[0-9A-Z]+(?:-[0-9A-Z]+)?)(?:/([0-9]+))?$")
#: Far enough ahead for any valid expression (29 February comes within four years and a day).
_HORIZON_DAYS = 4 * 366 + 1


class CronInvalid(ValueError):
    """A frequency this registry cannot read: the subscription is refused with ``rjct.notify_details.invalid``."""


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # Python's weekday(): Monday 0 .. Sunday 6
    any_day: bool
    any_weekday: bool

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first whole minute strictly after ``moment`` that the expression allows (an aware UTC time)."""
        local = moment.astimezone(MINISTRY_TIMEZONE)
        start = local.replace(second=0, microsecond=0, tzinfo=None) + dt.timedelta(minutes=1)
        for offset in range(_HORIZON_DAYS):
            day = start.date() + dt.timedelta(days=offset)
            if day.month not in self.months or not self._day_matches(day):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    wall = dt.datetime.combine(day, dt.time(hour, minute))
                    if wall >= start:
                        return wall.replace(tzinfo=MINISTRY_TIMEZONE).astimezone(dt.UTC)
        raise CronInvalid("the frequency never comes round (no such date)")

    def _day_matches(self, day: dt.date) -> bool:
        by_day, by_weekday = day.day in self.days, day.weekday() in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday


def parse(expression: object) -> Cron:
    """Read a cron expression (5, 6 or 7 fields); raises CronInvalid."""
    if not isinstance(expression, str) or len(expression) > 120:
        raise CronInvalid("frequency must be a cron expression")
    fields = expression.upper().split()
    if len(fields) == 5:
        minute, hour, day, month, weekday = fields
        sunday = 0
    elif len(fields) in (6, 7):
        _seconds, minute, hour, day, month, weekday = fields[:6]
        if len(fields) == 7 and fields[6] not in ("*", "?"):
            raise CronInvalid("the year field must be * or absent")
        sunday = 1
    else:
        raise CronInvalid("a cron expression has 5, 6 or 7 fields")
    cron_weekdays = _field(weekday, 0, 7, _DAYS, offset=sunday)
    return Cron(minutes=_field(minute, 0, 59), hours=_field(hour, 0, 23), days=_field(day, 1, 31),
                months=_field(month, 1, 12, _MONTHS),
                weekdays=frozenset((d - 1) % 7 for d in cron_weekdays),  # cron Sunday 0 → Python 6
                any_day=day in ("*", "?"), any_weekday=weekday in ("*", "?"))


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None, *, offset: int = 0) -> frozenset[int]:
    """The values one field allows. ``offset`` shifts Quartz's day of week (Sunday 1) to cron's (Sunday 0)."""
    if text in ("*", "?"):
        return frozenset(range(low, high + 1)) if not offset else frozenset(range(0, 7))
    values: set[int] = set()
    for part in text.split(","):
        match = _PART.match(part)
        if match is None:
            raise CronInvalid(f"cannot read {part!r} in the frequency")
        span, step = match.group(1), int(match.group(2) or 1)
        if span == "*":
            first, last = low, high
        else:
            first_text, _dash, last_text = span.partition("-")
            first = _value(first_text, names, offset)
            last = _value(last_text, names, offset) if last_text else (high if match.group(2) else first)
        if not (low <= first <= high and low <= last <= high) or first > last or step < 1:
            raise CronInvalid(f"{part!r} is outside {low}-{high} in the frequency")
        values.update(range(first, last + 1, step))
    return frozenset(v % 7 for v in values) if names is _DAYS else frozenset(values)


def _value(text: str, names: dict[str, int] | None, offset: int) -> int:
    if names is not None and text in names:
        return names[text]
    if not text.isdigit():
        raise CronInvalid(f"cannot read {text!r} in the frequency")
    return int(text) - offset
