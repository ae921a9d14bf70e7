"""Command-line tools: database migrations, process checks, demo data, registry re-scoring."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from webui.db import db_session, deployed_library, library, ministry_sources, now

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.orm import Session

db_cli = AppGroup("db", help="Database schema (Alembic).")
processes_cli = AppGroup("processes", help="Process, form and rule files.")
registry_cli = AppGroup("registry", help="The social registry.")

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str, *, script_location: str | Path | None = None) -> Config:
    """Alembic's configuration for the database at ``url`` (no alembic.ini: the app's config is the source)."""
    from alembic.config import Config

    config = Config(stdout=sys.stdout)  # the stream of the moment, so a CLI runner captures what Alembic prints
    config.set_main_option("script_location", str(script_location or ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "head", *, script_location: str | Path | None = None) -> None:
    from alembic import command

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url, script_location=script_location), revision)


def _app_alembic_config() -> Config:
    # MIGRATIONS_DIR lets a maintainer (or a test) work on another copy of the migrations.
    return alembic_config(current_app.config["DATABASE_URL"], script_location=_migrations_dir())


def _migrations_dir() -> str:
    return str(current_app.config.get("MIGRATIONS_DIR") or ROOT / "migrations")


@contextmanager
def _alembic_errors() -> Iterator[None]:
    """Alembic's refusals (unknown revision, database behind head, several heads) as CLI errors, not tracebacks."""
    from alembic.util import CommandError

    try:
        yield
    except CommandError as error:
        raise click.ClickException(str(error)) from error


def _next_revision_id(heads: tuple[str, ...]) -> str | None:
    """Revisions are numbered 0001, 0002, ...: the next number after the head (Alembic's random id otherwise)."""
    if not heads:
        return "0001"
    if len(heads) == 1 and heads[0].isdigit():
        return f"{int(heads[0]) + 1:04d}"
    return None


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: head, the latest schema)."""
    with _alembic_errors():
        upgrade_database(current_app.config["DATABASE_URL"], revision, script_location=_migrations_dir())
    click.echo("database is at the latest schema" if revision == "head" else f"database upgraded to {revision}")


@db_cli.command("downgrade", context_settings={"ignore_unknown_options": True})  # so that "-1" is a revision
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (a revision id, -1 for one step, or base for an empty database)."""
    from alembic import command

    with _alembic_errors():
        command.downgrade(_app_alembic_config(), revision)
    click.echo(f"database downgraded to {revision}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes (also its file name).")
@click.option("--autogenerate", is_flag=True,
              help="Write the differences between the models and the database (at head) into it; review them.")
def db_revision(message: str, autogenerate: bool) -> None:
    """Create a new migration file after the current head."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _app_alembic_config()
    with _alembic_errors():
        rev_id = _next_revision_id(tuple(ScriptDirectory.from_config(config).get_heads()))
        created = command.revision(config, message=message, autogenerate=autogenerate, rev_id=rev_id)
    for script in created if isinstance(created, list) else [created]:
        if script is not None:
            click.echo(f"created revision {script.revision}: {script.path}")


@db_cli.command("current")
@click.option("-v", "--verbose", is_flag=True, help="Show each revision's details.")
def db_current(verbose: bool) -> None:
    """Show the revision the database is at."""
    from alembic import command

    with _alembic_errors():
        command.current(_app_alembic_config(), verbose=verbose)


@db_cli.command("history")
@click.option("-r", "--rev-range", default=None, help="Revisions to show, e.g. 0002:head.")
@click.option("-v", "--verbose", is_flag=True, help="Show each revision's details.")
def db_history(rev_range: str | None, verbose: bool) -> None:
    """List the migrations, marking the one the database is at."""
    from alembic import command

    with _alembic_errors():
        command.history(_app_alembic_config(), rev_range=rev_range, verbose=verbose, indicate_current=True)


@processes_cli.command("check")
def processes_check() -> None:
    """Report problems in process, form and rule files; exit 1 if there are any."""
    from registry.checks import check_all

    report = check_all(library())
    failed = False
    for path, problems in sorted(report.items()):
        name = Path(path).resolve().relative_to(ROOT) if Path(path).resolve().is_relative_to(ROOT) else path
        if problems:
            failed = True
            click.echo(f"{name}: {len(problems)} problem(s)")
            for problem in problems:
                click.echo(f"  - {problem}")
        else:
            click.echo(f"{name}: ok")
    sys.exit(1 if failed else 0)


@processes_cli.command("deploy")
def processes_deploy() -> None:
    """Check the process, form and rule files and deploy them as a new version if they changed.

    New cases start on the latest deployed version; running cases stay on theirs. Exits 1, deploying
    nothing, when the files have problems (listed per file).
    """
    from engine.errors import ProcessInvalid
    from registry import process_catalogue

    failed = False
    for process_id in process_catalogue.PROCESSES:
        try:
            deployed = process_catalogue.deploy_files(db_session(), library=library(), process_id=process_id,
                                                      now=now())
        except ProcessInvalid as err:
            click.echo(f"{process_id}: not deployed; the files have {len(err.problems)} problem(s):")
            for problem in err.problems:
                click.echo(f"  - {problem}")
            failed = True
            continue
        version = deployed.version
        if deployed.created:
            click.echo(f"{process_id}: deployed version {version.version} ({version.content_hash[:12]}); "
                       "new cases start on it")
        else:
            click.echo(f"{process_id}: the files are those of version {version.version} already; nothing deployed")
    if failed:
        sys.exit(1)


#: Why a case cannot move, in words (the reasons are engine.migration.Blocked values).
_CANNOT_MOVE = {
    "not_found": "no such case",
    "other_process": "it runs another process",
    "already_on_target": "it is on that version already",
    "newer_than_target": "it is on a newer version",
    "completed": "it is finished",
    "waiting_task_removed": "a task it waits at is not in the new version",
    "waiting_task_changed_kind": "a task it waits at is of another kind in the new version",
    "passed_element_removed": "a step it has taken is not in the new version",
    "inside_removed_element": "it is inside a subprocess the new version does not have",
    "failed": "the workflow could not be moved",
}


@processes_cli.command("migrate")
@click.option("--to", "to_version", type=int, required=True, help="The version to move the cases to.")
@click.option("--from", "from_version", type=int, default=None, help="Move every running case of this version.")
@click.option("--case", "case_ids", type=int, multiple=True, help="A case id to move (repeat for several).")
@click.option("--dry-run", is_flag=True, help="Only say which cases would move and why the others cannot.")
@click.option("--user", "username", default="analyst", show_default=True,
              help="The process analyst the moves are recorded under.")
def processes_migrate(to_version: int, from_version: int | None, case_ids: tuple[int, ...], dry_run: bool,
                      username: str) -> None:
    """Move running cases to a newer version: the chosen cases (all or none), or every case of a version that can.

    Prints each case: moved, or cannot move and why. Exits 0 when every case moved (or would, with
    --dry-run), 1 when any could not (chosen cases: then none moved).
    """
    from registry import process_migration
    from registry.errors import FormInvalid, NotPermitted

    if bool(case_ids) == (from_version is not None):
        raise click.UsageError("give either --from VERSION or one or more --case ID")
    session = db_session()
    actor = process_migration.user_named(session, username)
    if actor is None:
        raise click.BadParameter(f"no user named {username!r}", param_hint="--user")
    chosen = {"case_ids": list(case_ids)} if case_ids else {"from_version": from_version}
    try:
        if dry_run:
            report = process_migration.plan_migration(session, actor=actor, to_version=to_version, **chosen)
        else:
            report = process_migration.migrate_cases(session, actor=actor, to_version=to_version, now=now(),
                                                     library=library(), **chosen)
    except process_migration.CasesCannotMove as refused:
        report = refused.report
    except NotPermitted as err:
        raise click.ClickException(str(err)) from None
    except FormInvalid as err:
        raise click.ClickException("; ".join(f"{k}: {', '.join(v)}" for k, v in err.errors.items())) from None
    for move in report.cases:
        name = move.reference or f"case {move.case_id}"
        waits = ", ".join(t.spec_id for t in move.waiting_after) or "nothing"
        if move.movable:
            click.echo(f"  {name}: {'moved' if move.moved else 'can move'} (waits at {waits})")
        else:
            elements = f" ({', '.join(move.elements)})" if move.elements else ""
            detail = f": {move.plan.detail}" if move.plan.detail else ""
            click.echo(f"  {name}: cannot move: {_CANNOT_MOVE.get(str(move.reason), str(move.reason))}"
                       f"{elements}{detail}")
    movable, blocked = len(report.movable), len(report.cannot_move)
    if dry_run:
        click.echo(f"dry run: {movable} case(s) can move to version {to_version}, {blocked} cannot; nothing changed")
    elif report.applied:
        click.echo(f"moved {len(report.moved)} case(s) to version {to_version}; {blocked} cannot move")
    else:
        click.echo(f"nothing moved to version {to_version}: {blocked} case(s) cannot move"
                   if blocked else f"no running cases to move to version {to_version}")
    sys.exit(1 if blocked else 0)


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Load reference data and the demo users and households (idempotent)."""
    from registry.seed import seed_demo

    seed_demo(db_session(), library=library(), progress=click.echo, sources=ministry_sources())


@registry_cli.command("rescore")
@click.option("--directorate", default=None, help="Directorate code (e.g. RBH); all directorates when left out.")
def rescore_command(directorate: str | None) -> None:
    """Re-score households with the latest deployed rule files; earlier scores are kept."""
    from registry import households

    session = db_session()
    if directorate and not households.directorate_exists(session, directorate):
        raise click.BadParameter(f"no directorate with code {directorate!r}", param_hint="--directorate")
    total = households.count_households(session, directorate=directorate)
    with click.progressbar(length=total, label="Re-scoring households", show_pos=True) as bar:
        summary = households.rescore(session, rules_dir=str(deployed_library().rules_dir), now=now(),
                                     directorate=directorate, progress=bar.update)
    click.echo(f"{summary.households} households re-scored with rules {summary.rule_version or '-'}; "
               f"{summary.changed} changed category")
    for transition, count in sorted(summary.transitions.items()):
        click.echo(f"  {transition}: {count}")
    if summary.reasons:
        click.echo("what changed since each household's score before: " + ", ".join(
            f"{reason} {count}" for reason, count in sorted(summary.reasons.items())))


@registry_cli.command("recompute")
@click.option("--score", "score_ids", type=int, multiple=True, help="A stored score's id (repeat for several).")
@click.option("--all", "every", is_flag=True, help="Every stored score.")
def recompute_command(score_ids: tuple[int, ...], every: bool) -> None:
    """Recompute stored scores from their stored inputs and the stored rules of their version (the database
    alone, no rule files), and confirm each or show what differs. Exits 1 if any score cannot be confirmed.
    """
    from registry import scores

    if bool(score_ids) == every:
        raise click.UsageError("give either --all or one or more --score ID")
    session = db_session()
    confirmed = unconfirmed = 0
    for result in scores.recompute_all(session, score_ids=list(score_ids) if score_ids else None):
        if result.confirmed:
            confirmed += 1
            if score_ids:
                click.echo(f"score {result.score_id}: confirmed (rules {result.rule_version}, {result.as_of})")
            continue
        unconfirmed += 1
        click.echo(f"score {result.score_id}: {result.outcome.value.replace('_', ' ')} "
                   f"(rules {result.rule_version}, {result.as_of}){': ' + result.problem if result.problem else ''}")
        for difference in result.differences:
            click.echo(f"  - {difference.what}: stored {difference.stored!r}, recomputed {difference.recomputed!r}")
    missing = sorted(set(score_ids) - set(_found_scores(session, score_ids))) if score_ids else []
    for score_id in missing:
        click.echo(f"score {score_id}: no such score")
    click.echo(f"{confirmed} score(s) confirmed, {unconfirmed + len(missing)} not confirmed")
    sys.exit(1 if unconfirmed or missing else 0)


@registry_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the whole file and report; change nothing.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the rejected rows (row, household, reason) to this CSV file.")
@click.option("--by", "username", default=None, help="The staff user the import is recorded as done by.")
def import_command(file: Path, dry_run: bool, report_path: Path | None, username: str | None) -> None:
    """Import the old system's export of beneficiaries (CSV or XLSX; columns in data/legacy_export.yaml)."""
    import csv
    import time

    from sqlalchemy import select

    from registry.legacy_import.reader import ExportUnreadable
    from registry.legacy_import.services import import_export
    from registry.models import User

    session = db_session()
    actor = session.scalar(select(User).where(User.username == username)) if username else None
    if username and actor is None:
        raise click.BadParameter(f"no staff user {username!r}", param_hint="--by")
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int | None) -> None:
        rate = done / max(time.perf_counter() - started, 1e-6)
        unit = "rows" if stage == "reading" else "households"
        of = f"/{total}" if total else ""
        click.echo(f"{stage}: {done}{of} {unit} ({rate:,.0f} {unit}/s)", err=True)

    try:
        result = import_export(session, path=file, now=now(), actor=actor, dry_run=dry_run, progress=progress)
    except ExportUnreadable as error:
        raise click.ClickException(f"{file.name}: {error}; nothing was imported") from error
    for rejection in result.rejections:
        click.echo(f"row {rejection.row}: {rejection.reason}")
    verb = "would import" if dry_run else "imported"
    click.echo(f"{'Dry run: nothing was changed. ' if dry_run else ''}{result.rows} rows, "
               f"{result.households_in_file} households in {file.name}")
    click.echo(f"  {verb}: {result.households_imported} households, {result.people_imported} people")
    click.echo(f"  already imported (skipped): {result.households_already_imported} households")
    click.echo(f"  rejected: {result.households_rejected} households, {len(result.rejections)} rows")
    if result.batch_id is not None:
        click.echo(f"  import batch {result.batch_id}, {result.seconds:.1f} s")
    if report_path is not None:
        with open(report_path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "household", "reason"])
            writer.writerows([r.row, r.household or "", r.reason] for r in result.rejections)
        click.echo(f"  rejected rows written to {report_path}")


def _found_scores(session: Session, score_ids: tuple[int, ...]) -> list[int]:
    from sqlalchemy import select

    from registry.models import EligibilityScore

    return list(session.scalars(select(EligibilityScore.id).where(EligibilityScore.id.in_(score_ids))))


def _worker_time(text: str) -> dt.datetime:
    """A moment given on the command line (ISO 8601); without a zone it is UTC."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r} (e.g. 2026-12-20T10:00:00Z)",
                                 param_hint="--now") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _work(at: dt.datetime) -> None:
    """One pass of the worker, one printed line per timer fired or failed and for the messages sent."""
    from registry.interop.services import Settings as InteropSettings
    from registry.notifications import NotifySettings
    from registry.worker import run_once

    report = run_once(current_app.extensions["sessionmaker"], now=at, library=library(),
                      notify_settings=NotifySettings.from_config(current_app.config),
                      interop_settings=InteropSettings.from_config(current_app.config))
    for fired in report.fired:
        click.echo(f"{at.isoformat()} timer fired: {fired.name or fired.element} ({fired.element}) "
                   f"of {fired.business_key}; next: {', '.join(fired.next_tasks) or 'nothing'}")
    for failed in report.failed:
        click.echo(f"{at.isoformat()} timer failed: {failed.element} of {failed.business_key} "
                   f"(attempt {failed.attempts}, retried at {failed.retry_at.isoformat()}): {failed.error}")
    if report.delivered:
        click.echo(f"{at.isoformat()} messages sent: {report.delivered}")
    if report.interop_delivered or report.interop_failed:
        click.echo(f"{at.isoformat()} partner systems' callbacks posted: {report.interop_delivered}, "
                   f"failed (retried later): {report.interop_failed}")


@click.command("worker")
@click.option("--once", is_flag=True, help="Do one pass and stop (for tests and demos).")
@click.option("--now", "at", default=None, metavar="ISO",
              help="With --once: the time to fire at, e.g. 2026-12-20T10:00:00Z (moves the clock).")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between passes.")
@with_appcontext
def worker_command(once: bool, at: str | None, interval: float) -> None:
    """Fire due BPMN timers and send due messages; any number of workers may run against PostgreSQL.

    Runs until stopped (SIGTERM or Ctrl+C, after the pass in hand), or one pass with --once.
    """
    import signal
    import threading

    if at is not None and not once:
        raise click.UsageError("--now moves the clock for one pass only: give it with --once")
    if once:
        _work(_worker_time(at) if at is not None else now())
        return
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    click.echo(f"worker: firing due timers every {interval:g}s (Ctrl+C to stop)")
    try:
        while not stop.is_set():
            _work(now())
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("worker: stopped")
