"""Command-line tools: database migrations, process checks, demo data, registry re-scoring."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from webui.db import db_session, library, ministry_sources, now

db_cli = AppGroup("db", help="Database schema (Alembic).")
processes_cli = AppGroup("processes", help="Process, form and rule files.")
registry_cli = AppGroup("registry", help="The social registry.")

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    from alembic import command

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")  # type: ignore[arg-type]


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    upgrade_database(current_app.config["DATABASE_URL"])
    click.echo("database is at the latest schema")


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
    """Deploy the process files as a new version if they changed."""
    from engine.library import deploy
    from registry.cases import CASE_PROCESS

    session = db_session()
    version = deploy(session, library(), CASE_PROCESS)
    session.commit()
    click.echo(f"{CASE_PROCESS}: version {version.version} ({version.content_hash[:12]})")


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Load reference data and the demo users and households (idempotent)."""
    from registry.seed import seed_demo

    seed_demo(db_session(), library=library(), progress=click.echo, sources=ministry_sources())


@registry_cli.command("rescore")
@click.option("--directorate", default=None, help="Directorate code (e.g. RBH); all directorates when left out.")
def rescore_command(directorate: str | None) -> None:
    """Re-score households with the current rule files; earlier scores are kept."""
    from registry import households

    session = db_session()
    if directorate and not households.directorate_exists(session, directorate):
        raise click.BadParameter(f"no directorate with code {directorate!r}", param_hint="--directorate")
    total = households.count_households(session, directorate=directorate)
    with click.progressbar(length=total, label="Re-scoring households", show_pos=True) as bar:
        summary = households.rescore(session, rules_dir=current_app.config["RULES_DIR"], now=now(),
                                     directorate=directorate, progress=bar.update)
    click.echo(f"{summary.households} households re-scored with rules {summary.rule_version or '-'}; "
               f"{summary.changed} changed category")
    for transition, count in sorted(summary.transitions.items()):
        click.echo(f"  {transition}: {count}")
