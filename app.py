"""Application factory, configuration from the environment, and CLI commands."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import click
from flask import Flask

ROOT = Path(__file__).resolve().parent


def default_config() -> dict[str, Any]:
    instance = ROOT / "instance"
    return {
        "DATABASE_URL": f"sqlite:///{instance / 'mosd.sqlite3'}",
        "DEMO_MODE": False,
        "PROCESSES_DIR": str(ROOT / "processes"),
        "FORMS_DIR": str(ROOT / "forms"),
        "RULES_DIR": str(ROOT / "rules"),
        "MINISTRY_BACKEND": "file",
        "MINISTRY_DATA_DIR": str(ROOT / "data" / "ministries"),
        "MINISTRY_TIMEOUT": 3.0,
        "MINISTRY_RETRIES": 2,
        "BABEL_DEFAULT_LOCALE": "ar",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Hebron",
        "LANGUAGES": ("ar", "en"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
    }


def _from_environment() -> dict[str, Any]:
    env: dict[str, Any] = {}
    for key in ("DATABASE_URL", "SECRET_KEY", "MINISTRY_BACKEND", "MINISTRY_DATA_DIR", "MINISTRY_INTERIOR_URL",
                "MINISTRY_EDUCATION_URL", "MINISTRY_HEALTH_URL"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    if os.environ.get("DEMO_MODE"):
        env["DEMO_MODE"] = os.environ["DEMO_MODE"].lower() in ("1", "true", "yes")
    if os.environ.get("SESSION_COOKIE_SECURE"):
        env["SESSION_COOKIE_SECURE"] = os.environ["SESSION_COOKIE_SECURE"] == "1"
    return env


def _secret_key(instance_path: Path) -> str:
    """A random key kept in the instance folder, so sessions survive restarts of a local run."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Defaults, then the environment, then ``config``; then each extension and blueprint."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"), template_folder="webui/templates",
                static_folder="webui/static")
    app.config.update(default_config())
    app.config.update(_from_environment())
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(Path(app.instance_path))

    from registry.operations import register_all
    from webui import init_app

    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Arabic stays readable in API answers
    register_all()
    init_app(app)
    _register_cli(app)
    return app


def _register_cli(app: Flask) -> None:
    from webui.cli import db_cli, processes_cli, registry_cli, seed_command

    app.cli.add_command(db_cli)
    app.cli.add_command(processes_cli)
    app.cli.add_command(registry_cli)
    app.cli.add_command(seed_command)

    @app.cli.command("print-logins")
    def print_logins() -> None:
        """Print the demo logins."""
        from registry.seed import DEMO_LOGINS

        click.echo("Demo logins (password: demo):")
        for username, description in DEMO_LOGINS:
            click.echo(f"  {username:<14} {description}")
