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
        # A local copy of each deployed version's files, rebuilt from the database whenever it is missing.
        "VERSIONS_DIR": str(instance / "deployed"),
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
        # Document bytes: a folder ("filesystem") or S3-compatible storage ("s3", with the S3_* keys).
        "DOCUMENT_STORAGE": "filesystem",
        "DOCUMENT_STORAGE_DIR": str(instance / "documents"),
        # Server-side staff sessions end after this long unused, and this long after login in any case.
        "SESSION_IDLE_MINUTES": 30,
        "SESSION_LIFETIME_HOURS": 12,
        # Failed logins (page and API together), per address and per address and username; see webui/security.py.
        "LOGIN_LIMIT_PER_ADDRESS": "60/minute;600/hour",
        "LOGIN_LIMIT_PER_ACCOUNT": "10/minute;50/hour",
        "RATELIMIT_STORAGE_URI": "memory://",  # redis://host:6379/0 to share the counts between servers
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_KEY_PREFIX": "mosd",
        # Redis down: count in this process's memory meanwhile, never refuse a login with a server error.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "TRUSTED_PROXIES": 0,  # how many reverse proxies set X-Forwarded-For/-Proto in front of the app
        # The citizens' portal (webui/portal/throttle.py): wrong codes, and codes asked for (each sends a text
        # message), per address and per address and national ID. Its logins share the staff login limits above.
        "PORTAL_CODE_GUESSES_PER_ADDRESS": "30/hour",
        "PORTAL_CODE_GUESSES_PER_ACCOUNT": "10/hour",
        "PORTAL_CODE_REQUESTS_PER_ADDRESS": "100/hour",
        "PORTAL_CODE_REQUESTS_PER_ACCOUNT": "5/hour",
        # Messages to households (registry.notifications): "log" writes them to the log; "http" posts SMS to
        # SMS_GATEWAY_URL, "smtp" sends e-mail through SMTP_HOST; "http,smtp" both, by channel.
        "NOTIFY_SENDER": "log",
        "SMTP_PORT": 25,
        "NOTIFY_TIMEOUT": 10.0,
        "NOTIFY_MAX_ATTEMPTS": 6,
        "NOTIFY_BACKOFF_SECONDS": 60,
    }


def _from_environment() -> dict[str, Any]:
    env: dict[str, Any] = {}
    for key in ("DATABASE_URL", "SECRET_KEY", "DOCUMENT_STORAGE",
                "DOCUMENT_STORAGE_DIR", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY",
                "S3_REGION", "S3_PREFIX", "RATELIMIT_STORAGE_URI", "LOGIN_LIMIT_PER_ADDRESS",
                "LOGIN_LIMIT_PER_ACCOUNT", "NOTIFY_SENDER", "SMS_GATEWAY_URL", "SMS_GATEWAY_TOKEN", "SMTP_HOST",
                "SMTP_FROM", "SMTP_USER", "SMTP_PASSWORD", "NOTIFY_EMAIL_SUBJECT", "INTEROP_REGISTRY_ID",
                "INTEROP_RATE_LIMIT", "INTEROP_SIGNING_KEY_FILE"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    # The ministries' exchange: backends per ministry, URLs, credentials, timeouts (registry/ministries/config.py
    # names each key and converts numbers itself).
    env.update({key: value for key, value in os.environ.items() if key.startswith("MINISTRY_") and value})
    for key in ("SESSION_IDLE_MINUTES", "SESSION_LIFETIME_HOURS", "TRUSTED_PROXIES", "SMTP_PORT",
                "NOTIFY_MAX_ATTEMPTS", "NOTIFY_BACKOFF_SECONDS"):
        if os.environ.get(key):
            env[key] = int(os.environ[key])
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
    environment = _from_environment()
    app.config.update(environment)
    app.config.update(config or {})
    if "SESSION_COOKIE_SECURE" not in environment and "SESSION_COOKIE_SECURE" not in (config or {}):
        app.config["SESSION_COOKIE_SECURE"] = not app.config["DEMO_MODE"]  # demo mode runs over plain http
    lifetime = app.config["SESSION_LIFETIME_HOURS"] * 3600
    app.config["PERMANENT_SESSION_LIFETIME"] = lifetime
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", lifetime)  # a form outlives no session
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(Path(app.instance_path))

    from registry.operations import register_all
    from webui import init_app

    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Arabic stays readable in API answers
    register_all()
    init_app(app)
    _register_cli(app)
    if not app.testing and click.get_current_context(silent=True) is None:  # a server, not a command
        _say_if_working_files_are_broken(app)
    return app


def _say_if_working_files_are_broken(app: Flask) -> None:
    """Broken files on disk never stop the server (cases run on deployed versions), but it says so."""
    from registry.checks import check_all
    from webui.db import library

    with app.app_context():
        report = check_all(library())
    problems = [f"{Path(name).name}: {problem}" for name, items in sorted(report.items()) for problem in items]
    if problems:
        app.logger.warning("the process files on disk have %d problem(s) and cannot be deployed; cases go on with "
                           "the last deployed version: %s", len(problems), "; ".join(problems[:10]))


def _register_cli(app: Flask) -> None:
    from webui.cli import db_cli, processes_cli, registry_cli, seed_command, worker_command

    app.cli.add_command(db_cli)
    app.cli.add_command(processes_cli)
    app.cli.add_command(registry_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(seed_command)
    from webui.demo_cli import demo_cli

    app.cli.add_command(demo_cli)
    from webui.spdci_cli import interop_cli

    app.cli.add_command(interop_cli)

    @app.cli.command("print-logins")
    def print_logins() -> None:
        """Print the demo logins."""
        from registry.seed import DEMO_CITIZEN, DEMO_LOGINS

        click.echo("Demo logins (password: demo):")
        for username, description in DEMO_LOGINS:
            click.echo(f"  {username:<14} {description}")
        click.echo(f"Citizen portal (/portal/login): national ID {DEMO_CITIZEN[0]}, password demo")
