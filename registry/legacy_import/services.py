"""The import itself: read and check the whole export, then write the valid households in chunks.

Transactions: each chunk of households (with all their members) commits together with the batch's
counts, so a household is in the registry whole or not at all. A crash keeps the chunks already
committed and leaves the batch ``running``; running the same file again skips every household whose
number is already a ``legacy_id`` and imports the rest, so nothing is imported twice. One transaction
for 750,000 people would hold locks for minutes and lose everything to a late failure; chunks cost
nothing in correctness because the household number is the resume point.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import String, Table, any_, insert, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from engine.errors import FormInvalid
from registry.audit import record_event
from registry.legacy_import.models import BatchStatus, ImportBatch
from registry.legacy_import.reader import file_hash, read_rows
from registry.legacy_import.spec import ExportSpec, load_spec
from registry.legacy_import.validation import (
    LegacyHousehold,
    Rejection,
    RowChecker,
    check_households,
    group_rows,
    reject_registered,
)
from registry.models import Household, Person, User
from registry.names import search_key
from registry.online.services import directorate_for_address
from registry.operations import governorates

#: Households written per transaction (with their members: about 5.5 times as many rows).
CHUNK = 2_000
#: IDs per lookup query (well under every driver's parameter limit).
_LOOKUP = 5_000
#: What ``progress`` is told: the stage (``reading`` rows, ``importing`` households), done so far, total if known.
Progress = Callable[[str, int, int | None], None]
T = TypeVar("T")


@dataclass
class ImportReport:
    file_name: str
    file_hash: str
    dry_run: bool
    rows: int = 0
    households_in_file: int = 0
    households_imported: int = 0
    people_imported: int = 0
    households_already_imported: int = 0
    households_rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    batch_id: int | None = None
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "households_in_file": self.households_in_file,
                "households_imported": self.households_imported, "people_imported": self.people_imported,
                "households_already_imported": self.households_already_imported,
                "households_rejected": self.households_rejected, "rows_rejected": len(self.rejections)}


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _already_imported(session: Session, numbers: list[str]) -> set[str]:
    found: set[str] = set()
    for part in _chunks(numbers, _LOOKUP):
        found.update(n for n in session.scalars(select(Household.legacy_id).where(
            _among(session, Household.legacy_id, part))) if n is not None)
    return found


def _among(session: Session, column: Any, values: list[str]) -> Any:
    """``column IN values``; on PostgreSQL as one array parameter, much cheaper to send than thousands."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(values, ARRAY(String)))
    return column.in_(values)


def _registered(session: Session, national_ids: list[str]) -> dict[str, str]:
    """National ID -> the registry household it is active in, described for a person to read."""
    found: dict[str, str] = {}
    for part in _chunks(national_ids, _LOOKUP):
        rows = session.execute(select(Person.national_id, Household.id, Household.legacy_id)
                               .join(Household, Household.id == Person.household_id)
                               .where(_among(session, Person.national_id, part), Person.active)).tuples()
        for national_id, household_id, legacy_id in rows:
            found[national_id] = (f"household {household_id} (old number {legacy_id})" if legacy_id
                                  else f"household {household_id}")
    return found


def _directorates(session: Session, codes: Iterable[str]) -> dict[str, int | None]:
    """Each governorate's directorate, by the rule registration uses (None: no directorate serves it)."""
    found: dict[str, int | None] = {}
    for code in codes:
        try:
            found[code] = directorate_for_address(session, governorate=code).id
        except FormInvalid:
            found[code] = None
    return found


def import_export(session: Session, *, path: Path, now: dt.datetime, actor: User | None = None,
                  dry_run: bool = False, spec: ExportSpec | None = None, chunk: int = CHUNK,
                  progress: Progress | None = None) -> ImportReport:
    """Import the old system's export at ``path``; a dry run checks everything and writes nothing.

    Raises ``ExportUnreadable`` when the file cannot be read as an export (nothing is imported).
    """
    started = time.perf_counter()
    spec = spec or load_spec()
    report = ImportReport(file_name=path.name, file_hash=file_hash(path), dry_run=dry_run)
    valid, serving = _check(session, report, path=path, spec=spec, now=now, progress=progress)
    if dry_run:
        report.households_imported = len(valid)
        report.people_imported = sum(len(h.members) for h in valid)
        report.seconds = time.perf_counter() - started
        return report
    batch = ImportBatch(file_name=path.name[:250], file_hash=report.file_hash, actor_id=actor.id if actor else None,
                        status=BatchStatus.RUNNING.value, started_at=now, counts=report.counts)
    session.add(batch)
    session.commit()
    report.batch_id = batch.id
    sources = _Sources({**spec.source, "as_of": now.date().isoformat(), "batch": batch.id},
                       as_text=session.connection().dialect.name == "postgresql")
    for part in _chunks(valid, chunk):
        report.people_imported += _write(session, part, directorates=serving, sources=sources, now=now)
        report.households_imported += len(part)
        batch.counts = report.counts
        session.commit()
        if progress:
            progress("importing", report.households_imported, len(valid))
    batch.status = BatchStatus.DONE.value
    batch.finished_at = now
    report.seconds = time.perf_counter() - started
    batch.counts = report.counts
    record_event(session, actor_id=actor.id if actor else None, case_id=None, action="legacy_import", at=now,
                 details={"batch": batch.id, "file": path.name, "file_hash": report.file_hash, **report.counts})
    session.commit()
    return report


def _check(session: Session, report: ImportReport, *, path: Path, spec: ExportSpec, now: dt.datetime,
           progress: Progress | None) -> tuple[list[LegacyHousehold], dict[str, int | None]]:
    """Read and check the whole file (filling ``report``): the households to import and their directorates."""
    checker = RowChecker(spec, governorates=[code for code, _label in governorates()], today=now.date())
    households, orphans, report.rows = group_rows(_counted(read_rows(path, spec), progress), checker)
    report.households_in_file = len(households)
    done = _already_imported(session, list(households))
    report.households_already_imported = len(done)
    fresh = {number: h for number, h in households.items() if number not in done}
    check_households(fresh)
    reject_registered(fresh.values(), _registered(session, [m.national_id for h in fresh.values() if h.valid
                                                             for m in h.members]))
    serving = _directorates(session, {str(h.values["governorate"]) for h in fresh.values() if h.valid})
    for household in fresh.values():
        code = household.values.get("governorate")
        if household.valid and serving.get(str(code)) is None:
            household.problems.append(f"no directorate serves governorate {code}")
    valid = [h for h in fresh.values() if h.valid]
    rejected = [h for h in fresh.values() if not h.valid]
    report.households_rejected = len(rejected)
    report.rejections = sorted(orphans + [r for h in rejected for r in h.rejections()], key=lambda r: r.row)
    return valid, serving


def _counted(rows: Iterator[tuple[int, Any]], progress: Progress | None, every: int = 50_000
             ) -> Iterator[tuple[int, Any]]:
    count = 0
    for item in rows:
        count += 1
        if progress and count % every == 0:
            progress("reading", count, None)
        yield item


_HOUSEHOLD_SOURCED = ("governorate", "locality", "address", "phone", "programme", "programme_status")
_PERSON_SOURCED = ("national_id", "name_ar", "name_latin", "relation", "sex", "birth_date")
_HOUSEHOLD_COLUMNS = ("id", "legacy_id", "directorate_id", "governorate_code", "locality", "address", "phone",
                      "programme", "programme_status", "reasons", "reasons_details", "living_conditions",
                      "consent_data_exchange", "consent_at", "created_at", "updated_at", "sources")
_PERSON_COLUMNS = ("household_id", "position", "national_id", "name_ar", "name_latin", "name_search", "relation",
                   "sex", "birth_date", "marital_status", "disability", "chronic_illness", "health_insurance",
                   "schooling", "work", "active", "sources")


class _Sources:
    """The ``sources`` value of a row with these fields set, built once per distinct set of fields."""

    def __init__(self, source: dict[str, Any], *, as_text: bool) -> None:
        self.source, self.as_text = source, as_text
        self.cache: dict[tuple[str, ...], Any] = {}

    def __call__(self, names: tuple[str, ...]) -> Any:
        found = self.cache.get(names)
        if found is None:
            value = {name: self.source for name in names}
            found = self.cache[names] = json.dumps(value, ensure_ascii=False) if self.as_text else value
        return found


def _rows(households: list[LegacyHousehold], ids: list[int], *, directorates: dict[str, int | None],
          sources: _Sources, now: dt.datetime, empty: tuple[Any, Any]) -> tuple[list[tuple[Any, ...]],
                                                                                 list[tuple[Any, ...]]]:
    """Household and person rows, in the order of ``_HOUSEHOLD_COLUMNS`` and ``_PERSON_COLUMNS``."""
    no_reasons, no_conditions = empty
    household_rows, person_rows = [], []
    for household_id, h in zip(ids, households, strict=True):
        v = h.values
        household_rows.append((
            household_id, h.number, directorates[v["governorate"]], v["governorate"], v["locality"],
            v.get("address"), v.get("phone"), v.get("programme"), v.get("programme_status"), no_reasons, None,
            no_conditions, False, None, now, now,
            sources(tuple(name for name in _HOUSEHOLD_SOURCED if v.get(name) is not None))))
        ordered = sorted(h.members, key=lambda m: m.relation != "head")  # the head first, then as in the file
        for position, m in enumerate(ordered):
            person_rows.append((
                household_id, position, m.national_id, m.name_ar, m.name_latin,
                search_key(f"{m.name_ar} {m.name_latin or ''}"), m.relation, m.sex, m.birth_date,
                None, None, None, None, None, None, True,
                sources(("national_id", "name_ar", "relation", "sex")
                        + (("name_latin",) if m.name_latin else ()) + (("birth_date",) if m.birth_date else ()))))
    return household_rows, person_rows


def _write(session: Session, households: list[LegacyHousehold], *, directorates: dict[str, int | None],
           sources: _Sources, now: dt.datetime) -> int:
    """Insert a chunk of households and their members in bulk; only flushes (the caller commits).

    PostgreSQL: ids drawn from the households' sequence, rows sent with COPY. Elsewhere: multi-row INSERTs.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        ids = list(session.scalars(text("SELECT nextval(pg_get_serial_sequence('households', 'id')) "
                                        "FROM generate_series(1, :n)"), {"n": len(households)}))
        household_rows, person_rows = _rows(households, ids, directorates=directorates, sources=sources, now=now,
                                            empty=("[]", "{}"))
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for table, columns, rows in (("households", _HOUSEHOLD_COLUMNS, household_rows),
                                     ("persons", _PERSON_COLUMNS, person_rows)):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return len(person_rows)
    household_table, person_table = cast(Table, Household.__table__), cast(Table, Person.__table__)
    first = [{c: v for c, v in zip(_HOUSEHOLD_COLUMNS[1:], row[1:], strict=True)} for row in _rows(
        households, [0] * len(households), directorates=directorates, sources=sources, now=now,
        empty=([], {}))[0]]
    ids = list(session.scalars(insert(household_table).returning(household_table.c.id,
                                                                 sort_by_parameter_order=True), first))
    person_rows = _rows(households, ids, directorates=directorates, sources=sources, now=now, empty=([], {}))[1]
    session.execute(insert(person_table), [dict(zip(_PERSON_COLUMNS, row, strict=True)) for row in person_rows])
    return len(person_rows)
