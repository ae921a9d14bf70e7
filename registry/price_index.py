"""The price index the money poverty lines are brought to the scoring month's prices by (rules/price_index.csv).

The file is a table an analyst keeps: ``year,month,index,source``, one row per month, in order, no month
missing; lines starting with ``#`` are notes. The lines of poverty_measure.yaml are set at the prices of a
reference year; a scoring multiplies them by the price factor: the index of the scoring month (or of the
latest month the table has before it) divided by the average index of the reference year's 12 months.
Pure: no Flask, no database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from fractions import Fraction

PRICE_INDEX_FILE = "price_index.csv"
COLUMNS = ("year", "month", "index", "source")


@dataclass(frozen=True)
class IndexMonth:
    year: int
    month: int
    index: Fraction
    source: str

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class PriceFactor:
    """The factor a scoring's lines are multiplied by, and the month of the table it was read from."""

    factor: Fraction
    month: str
    source: str
    #: True when the scoring date is before the table's first month (the first month is used then).
    before_table: bool = False


@dataclass(frozen=True)
class PriceIndex:
    months: tuple[IndexMonth, ...]
    base_year: int
    base: Fraction

    def factor_on(self, day: dt.date) -> PriceFactor:
        """The factor for a scoring on ``day``: its month's index, or the latest month before it."""
        wanted = (day.year, day.month)
        chosen = None
        for month in self.months:  # in order: the last one not after the scoring month wins
            if (month.year, month.month) > wanted:
                break
            chosen = month
        before = chosen is None
        if chosen is None:
            chosen = self.months[0]
        return PriceFactor(factor=chosen.index / self.base, month=chosen.label, source=chosen.source,
                           before_table=before)


def parse(source: bytes | None, *, base_year: int | None) -> tuple[PriceIndex | None, list[str]]:
    """The table, or None with every problem found (each starting with the file's name and its line)."""
    problems: list[str] = []

    def problem(line: int | None, message: str) -> None:
        problems.append(f"{PRICE_INDEX_FILE}: line {line}: {message}" if line else f"{PRICE_INDEX_FILE}: {message}")

    if source is None:
        problem(None, "file not found (the money poverty lines are indexed by it)")
        return None, problems
    try:
        text = source.decode("utf-8-sig")
    except UnicodeDecodeError:
        problem(None, "is not UTF-8 text")
        return None, problems
    numbered = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        problem(None, f"needs a header line {','.join(COLUMNS)} and one row per month")
        return None, problems
    header_line, header = numbered[0]
    if tuple(cell.strip() for cell in next(csv.reader([header]))) != COLUMNS:
        problem(header_line, f"the header must be {','.join(COLUMNS)} (found {header.strip()!r})")
        return None, problems
    months: list[IndexMonth] = []
    for number, line in numbered[1:]:
        cells = [cell.strip() for cell in next(csv.reader([line]))]
        if len(cells) != len(COLUMNS):
            problem(number, f"needs {len(COLUMNS)} values ({','.join(COLUMNS)}), found {len(cells)}")
            continue
        year_text, month_text, index_text, source_text = cells
        if not year_text.isdigit() or not 1900 <= int(year_text) <= 2200:
            problem(number, f"year must be a year such as 2017 (found {year_text!r})")
            continue
        if not month_text.isdigit() or not 1 <= int(month_text) <= 12:
            problem(number, f"month must be a number from 1 to 12 (found {month_text!r})")
            continue
        try:
            index = Fraction(index_text)
        except (ValueError, ZeroDivisionError):
            problem(number, f"index must be a number such as 104.25 (found {index_text!r})")
            continue
        if index <= 0:
            problem(number, f"index must be above 0 (found {index_text})")
            continue
        if not source_text:
            problem(number, "source must say where the figure comes from (e.g. the PCBS release), "
                    "or 'placeholder'")
        entry = IndexMonth(int(year_text), int(month_text), index, source_text)
        if months:
            previous = months[-1]
            expected = (previous.year + previous.month // 12, previous.month % 12 + 1)
            if (entry.year, entry.month) <= (previous.year, previous.month):
                problem(number, f"{entry.label} is out of order: it comes after {previous.label}; "
                        "keep one row per month, oldest first")
                continue
            if (entry.year, entry.month) != expected:
                problem(number, f"month {expected[0]:04d}-{expected[1]:02d} is missing between "
                        f"{previous.label} and {entry.label}")
        months.append(entry)
    if not months and not problems:
        problem(None, "has no rows: one row per month is needed")
    if base_year is None:
        problem(None, "the base year (parameter reference_year of poverty_measure.yaml) is not set")
    elif months:
        in_base = [m for m in months if m.year == base_year]
        if len(in_base) != 12:
            problem(None, f"needs all 12 months of the reference year {base_year} (the lines' prices); "
                    f"found {len(in_base)}")
    if problems:
        return None, problems
    assert base_year is not None
    base = sum((m.index for m in months if m.year == base_year), Fraction(0)) / 12
    return PriceIndex(months=tuple(months), base_year=base_year, base=base), []


def read(text: str) -> list[dict[str, str]]:
    """The rows as written (for pages and the README's examples); no checking."""
    rows = [line for line in io.StringIO(text) if line.strip() and not line.lstrip().startswith("#")]
    return list(csv.DictReader(rows))
