"""A report's period: a month, a quarter or any run of days, counted in the ministry's days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from registry.operations import MINISTRY_TIMEZONE

#: The longest custom period a report reads (ten years), so a typo cannot ask for centuries.
MAX_DAYS = 3660


class PeriodInvalid(ValueError):
    """The period cannot be read: ``reason`` is month, quarter, dates, order or length."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"period invalid: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Period:
    """From ``first`` to ``last`` (both included), ministry days; ``kind`` is month, quarter or custom."""

    first: dt.date
    last: dt.date
    kind: str = "custom"

    @property
    def starts_at(self) -> dt.datetime:
        return local_midnight(self.first)

    @property
    def ends_at(self) -> dt.datetime:
        """The first moment after the period (UTC)."""
        return local_midnight(self.last + dt.timedelta(days=1))

    @property
    def month_key(self) -> str:
        return f"{self.first.year:04d}-{self.first.month:02d}"

    @property
    def quarter_key(self) -> str:
        return f"{self.first.year:04d}-Q{(self.first.month - 1) // 3 + 1}"


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=MINISTRY_TIMEZONE).astimezone(dt.UTC)


def month(year: int, number: int) -> Period:
    first = dt.date(year, number, 1)
    following = dt.date(year + number // 12, number % 12 + 1, 1)
    return Period(first, following - dt.timedelta(days=1), "month")


def parse_month(text: str) -> Period:
    """``yyyy-mm``."""
    try:
        year, number = (int(part) for part in text.split("-"))
        return month(year, number)
    except ValueError:
        raise PeriodInvalid("month") from None


def parse_quarter(text: str) -> Period:
    """``yyyy-Qn``."""
    try:
        year_text, quarter_text = text.upper().split("-Q")
        year, quarter = int(year_text), int(quarter_text)
        if not 1 <= quarter <= 4:
            raise ValueError(text)
        first = month(year, quarter * 3 - 2)
        return Period(first.first, month(year, quarter * 3).last, "quarter")
    except ValueError:
        raise PeriodInvalid("quarter") from None


def custom(first: dt.date, last: dt.date) -> Period:
    if first > last:
        raise PeriodInvalid("order")
    if (last - first).days > MAX_DAYS:
        raise PeriodInvalid("length")
    return Period(first, last, "custom")


def this_month(now: dt.datetime) -> Period:
    today = now.astimezone(MINISTRY_TIMEZONE).date()
    return month(today.year, today.month)
