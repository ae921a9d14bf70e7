"""``flask --app app interop client ...``: register and list the partner systems of the SPDCI API."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from registry.interop.clients import ClientInvalid, register_client, set_callback_token
from registry.interop.models import InteropClient, Scope
from registry.interop.records import FIELD_GROUPS
from webui.db import db_session, now

interop_cli = AppGroup("interop", help="Partner systems of the SPDCI Social Registry API.")
client_cli = AppGroup("client", help="Registered partner systems (clients).")
interop_cli.add_command(client_cli)


@client_cli.command("add")
@click.argument("client_id")
@click.option("--name", required=True, help="Who the partner system is, for people reading the records.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice([s.value for s in Scope]),
              help="What it may ask (repeat for several).")
@click.option("--field", "fields", multiple=True, required=True, type=click.Choice(sorted(FIELD_GROUPS)),
              help="A field group of records it may see (repeat for several).")
@click.option("--callback-url", default=None, help="Base URL of its /registry/on-search, /registry/notify, ...")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PEM file of its Ed25519 or RSA public key: its envelopes must then be signed.")
@click.option("--partner", "partner_code", default=None,
              help="A referral partner's organisation code: it then sees only households referred to it.")
@click.option("--callback-token", default=None, envvar="INTEROP_CALLBACK_TOKEN",
              help="The partner's bearer token for its callback endpoints (better: set INTEROP_CALLBACK_TOKEN "
                   "or use 'callback-token', so it stays out of the shell history).")
@with_appcontext
def add_client(client_id: str, name: str, scopes: tuple[str, ...], fields: tuple[str, ...], callback_url: str | None,
               public_key: Path | None, partner_code: str | None, callback_token: str | None) -> None:
    """Register a partner system and print its secret (shown this once only)."""
    try:
        secret = register_client(db_session(), client_id=client_id, name=name, scopes=scopes, fields=fields,
                                 callback_url=callback_url, partner_code=partner_code, now=now(),
                                 callback_token=callback_token,
                                 public_key=public_key.read_text(encoding="utf-8") if public_key else None)
    except ClientInvalid as refused:
        raise click.ClickException(str(refused)) from None
    click.echo(f"client {client_id} registered; its secret (shown once, keep it safe): {secret}")


@client_cli.command("callback-token")
@click.argument("client_id")
@click.option("--clear", is_flag=True, help="Forget the token: callbacks go without Authorization.")
@with_appcontext
def callback_token(client_id: str, clear: bool) -> None:
    """Keep the bearer token (asked for, not echoed) sent with the client's callbacks and notifications."""
    token = None if clear else click.prompt("The partner's token for its callback endpoints", hide_input=True)
    try:
        set_callback_token(db_session(), client_id=client_id, token=token)
    except ClientInvalid as refused:
        raise click.ClickException(str(refused)) from None
    click.echo(f"client {client_id}: callback token {'forgotten' if clear else 'kept'}")


@client_cli.command("list")
@with_appcontext
def list_clients() -> None:
    """The registered partner systems, their scopes and field groups."""
    for client in db_session().scalars(select(InteropClient).order_by(InteropClient.client_id)):
        state = "active" if client.active else "inactive"
        click.echo(f"{client.client_id:<20} {state:<8} scopes: {','.join(client.scopes)}; "
                   f"fields: {','.join(client.fields)}; signed: {'yes' if client.public_key else 'no'}; "
                   f"callback token: {'yes' if client.callback_token else 'no'}")
