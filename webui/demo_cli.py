"""``flask demo generate``: fill a demo database with a seeded synthetic registry (see registry.demo_registry)."""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from webui.db import db_session, document_storage, library

demo_cli = AppGroup("demo", help="Demonstration data.")


def _progress(text: str) -> None:
    click.echo(f"# {text}", err=True)


@demo_cli.command("generate")
@click.option("--households", type=click.IntRange(min=1), required=True, help="How many households to add.")
@click.option("--seed", type=int, default=7, show_default=True, help="The same seed gives the same households.")
@click.option("--directorates", default="", help="Directorate codes to spread households over, e.g. RBH,HEB "
              "(default: all 16).")
@click.option("--force", is_flag=True, help="Generate even outside demo mode or into a database with real data.")
@with_appcontext
def generate_command(households: int, seed: int, directorates: str, force: bool) -> None:
    """Add a seeded synthetic registry: households, people, cases at every stage, tasks, documents' metadata."""
    from registry import demo_registry

    session = db_session()
    if not force:
        if not current_app.config["DEMO_MODE"]:
            raise click.ClickException("not in demo mode (set DEMO_MODE=1), or give --force")
        real = demo_registry.real_data_found(session)
        if real:
            raise click.ClickException(f"the database holds real data ({real}); give --force to generate anyway")
    wanted = [code.strip().upper() for code in directorates.split(",") if code.strip()]
    started = time.perf_counter()
    try:
        counts, _real = demo_registry.fill(
            session, engine=current_app.extensions["db_engine"], library=library(),
            rules_dir=current_app.config["RULES_DIR"], households=households, seed=seed, say=_progress,
            started=started, directorates_wanted=wanted or None, storage=document_storage())
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    seconds = time.perf_counter() - started
    for name in ("households", "persons", "cases", "task_records", "documents", "audit_events"):
        click.echo(f"{name}: {counts.get(name, 0)}")
    click.echo(f"added {households} households in {seconds:.1f} s ({households / seconds:.0f} households/s)")
    sys.stdout.flush()
