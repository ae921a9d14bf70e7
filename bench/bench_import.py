"""Importing the old system's export: households per second through `registry import`'s code path.

Writes a synthetic export (CSV, one row per person, ~5.5 people per household, valid national IDs and
a few bad rows), then runs ``registry.legacy_import.services.import_export`` on a new PostgreSQL
database (SQLite in a temporary folder when PostgreSQL does not answer), then runs it again (every
household already imported). Prints ``bench import_rate: N households/s`` and the times. Full size:
136,000 households (~750,000 people); ``--smoke`` (or ``BENCH_SMOKE=1``): 300 households.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for place in (str(ROOT), str(BENCH)):
    if place not in sys.path:
        sys.path.insert(0, place)

from generate_registry import create_database, drop_database, postgres_available, smoke_requested  # noqa: E402

from tests.factories import with_check_digit  # noqa: E402

HOUSEHOLDS = 136_000
SMOKE_HOUSEHOLDS = 300
XLSX_ROWS = 50_000  # XLSX is read more slowly than CSV: its rate is measured on this many rows
COLUMNS = ["HH_NO", "MEMBER_ID", "NAME_AR", "NAME_EN", "RELATION", "SEX", "BIRTH_DATE", "PROGRAMME", "STATUS",
           "GOV_CODE", "LOCALITY", "ADDRESS", "PHONE"]
GIVEN = ["محمد", "أحمد", "خليل", "يوسف", "سامي", "عمر", "فاطمة", "مريم", "ليلى", "هدى", "نور", "سلمى"]
FAMILY = ["الأحمد", "الخطيب", "أبو علي", "النجار", "الشريف", "عبد الله", "حمدان", "الزعبي"]
LATIN = ["Mohammad", "Ahmad", "Khalil", "Yousef", "Sami", "Omar", "Fatima", "Maryam", "Layla", "Huda", "Nour",
         "Salma"]


def write_export(path: Path, households: int, *, seed: int = 12) -> int:
    """A synthetic export; about one household in 200 has a bad row. Returns the row count."""
    from registry.operations import governorates

    rnd = random.Random(seed)
    codes = [code for code, _label in governorates()]
    serial = 10_000_000
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for number in range(households):
            size = max(1, min(12, round(rnd.gauss(5.5, 2.2))))
            governorate = rnd.choice(codes)
            locality = f"بلدة {rnd.randint(1, 40)}"
            status = rnd.choices(["ACTIVE", "WAITING", "SUSPENDED"], weights=[80, 15, 5])[0]
            family = rnd.choice(FAMILY)
            for position in range(size):
                serial += 1
                national_id = with_check_digit(f"{serial:08d}")
                if rnd.random() < 0.001:
                    national_id = national_id[:-1] + str((int(national_id[-1]) + 1) % 10)  # a wrong check digit
                relation = "HEAD" if position == 0 else ("WIFE" if position == 1 else rnd.choice(["SON", "DAUGHTER"]))
                born = dt.date(1950, 1, 1) + dt.timedelta(days=rnd.randint(0, 26_000))
                given = rnd.randrange(len(GIVEN))
                writer.writerow([f"H{number:07d}", national_id, f"{GIVEN[given]} {family}", f"{LATIN[given]} X",
                                 relation, "F" if relation in ("WIFE", "DAUGHTER") else "M", born.isoformat(), "CTP",
                                 status, governorate, locality, f"شارع {rnd.randint(1, 99)}",
                                 f"059{rnd.randint(1_000_000, 9_999_999)}"])
                rows += 1
    return rows


def csv_to_xlsx(source: Path, target: Path, *, limit: int) -> int:
    """The first ``limit`` rows of the CSV export as an XLSX workbook with shared strings, as Excel writes them
    (openpyxl's streaming writer stores inline strings instead, several times slower to read)."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    count = 0
    with open(source, encoding="utf-8", newline="") as handle:
        for count, row in enumerate(csv.reader(handle)):
            if count > limit:
                break
            sheet.append(row)
    workbook.save(target)
    return min(count, limit)


def measure(url: str, households: int, folder: Path) -> None:
    from app import create_app
    from registry.legacy_import.services import import_export
    from registry.seed import seed_reference, seed_users
    from webui.cli import upgrade_database
    from webui.db import db_session

    export = folder / "export.csv"
    started = time.perf_counter()
    rows = write_export(export, households)
    print(f"# export written: {rows} rows, {households} households in {time.perf_counter() - started:.1f} s")
    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        session = db_session()
        seed_reference(session)
        seed_users(session)
        session.commit()

        def progress(stage: str, done: int, total: int | None) -> None:
            if stage == "reading" or done == total or done % 20_000 < 2_000:
                print(f"# {stage}: {done}{'/' + str(total) if total else ''} "
                      f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)

        started = time.perf_counter()
        dry = import_export(session, path=export, now=now, dry_run=True)
        print(f"bench import_dry_run_time: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        report = import_export(session, path=export, now=now, progress=progress)
        seconds = time.perf_counter() - started
        if report.households_imported != dry.households_imported or not report.households_imported:
            raise SystemExit(f"imported {report.households_imported} households, the dry run said "
                             f"{dry.households_imported}")
        print(f"bench import_households: {report.households_imported} households "
              f"({report.people_imported} people, {report.households_rejected} rejected)")
        print(f"bench import_time: {seconds:.1f} s")
        print(f"bench import_rate: {report.households_imported / seconds:.0f} households/s")
        started = time.perf_counter()
        again = import_export(session, path=export, now=now)
        if again.households_imported:
            raise SystemExit(f"the second run imported {again.households_imported} households again")
        print(f"bench import_rerun_time: {time.perf_counter() - started:.1f} s")
        workbook = folder / "export.xlsx"
        xlsx_rows = csv_to_xlsx(export, workbook, limit=XLSX_ROWS)
        started = time.perf_counter()
        import_export(session, path=workbook, now=now, dry_run=True)
        print(f"bench import_xlsx_check_rate: {xlsx_rows / (time.perf_counter() - started):.0f} rows/s "
              f"(a dry run of the first {xlsx_rows} rows as XLSX)")
    app.extensions["db_engine"].dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--households", type=int, default=None)
    args = parser.parse_args(argv)
    households = args.households or (SMOKE_HOUSEHOLDS if args.smoke or smoke_requested(sys.argv) else HOUSEHOLDS)
    with tempfile.TemporaryDirectory(prefix="bench_import_") as folder:
        if postgres_available():
            url = create_database("mosd_bench_import")
            print(f"# PostgreSQL, {households} households")
            try:
                measure(url, households, Path(folder))
            finally:
                drop_database(url)
        else:
            print(f"# PostgreSQL does not answer: SQLite file instead, {households} households")
            measure(f"sqlite:///{Path(folder) / 'import.sqlite3'}", households, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
