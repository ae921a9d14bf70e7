"""Command-line tools: database migrations, process checks, demo data, registry re-scoring."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from webui.db import db_session, library

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
@click.option("--households", default=0, help="Also add this many synthetic registered households.")
def seed_command(households: int) -> None:
    """Load reference data and the demo users and households (idempotent)."""
    from registry.seed import seed_demo

    seed_demo(db_session(), library=library(), progress=click.echo, extra_households=households)
