"""Message texts from ``processes/notifications.yaml``: loading, rendering, and the checks an analyst's edit must pass.

Each template has an Arabic and an English text with ``{placeholders}``. A placeholder is a plain
name; those named ``code`` or ending in ``_code`` are one-time codes, hidden on the staff page.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.library import load_yaml_mapping

NOTIFICATIONS_FILE = "notifications.yaml"
LANGUAGES = ("ar", "en")
DEFAULT_LANGUAGE = "ar"
MASK = "••••••"
#: What a message is cut to: an SMS gateway splits longer texts, and nobody reads a novel by SMS.
MAX_LENGTH = 700

#: The templates the product's own code queues, with the placeholders it gives each one.
#: A text may use fewer of them, never others; templates only diagrams use are checked against the diagrams.
REQUIRED_TEMPLATES: dict[str, frozenset[str]] = {
    "signup_code": frozenset({"code"}),
    "password_reset_code": frozenset({"code"}),
    "application_received": frozenset({"reference"}),
    "documents_requested": frozenset({"reference", "missing", "due"}),
    "documents_reminder": frozenset({"reference", "missing", "due"}),
    "deadline_missed": frozenset({"reference"}),
    "decision_made": frozenset({"reference"}),
    "complaint_received": frozenset({"reference"}),
    "complaint_acknowledged": frozenset({"reference"}),
    "complaint_resolved": frozenset({"reference"}),
    "complaint_follow_up_code": frozenset({"reference", "code"}),
}


class TemplateError(ValueError):
    """A template that is missing, or a text whose placeholders the caller does not give."""


@dataclass(frozen=True)
class Template:
    key: str
    texts: Mapping[str, str]

    def placeholders(self) -> frozenset[str]:
        return frozenset(name for text in self.texts.values() for name in _fields(text))


def is_secret(placeholder: str) -> bool:
    return placeholder == "code" or placeholder.endswith("_code")


def default_path() -> Path:
    return Path(__file__).resolve().parents[2] / "processes" / NOTIFICATIONS_FILE


def _fields(text: str) -> list[str]:
    """The placeholder names of a text; raises TemplateError for anything but ``{name}``."""
    names = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as err:
        raise TemplateError(f"unbalanced braces: {err} (write {{{{ and }}}} for a brace itself)") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise TemplateError(f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                                "is not a placeholder: write a plain name such as {reference}")
        names.append(name)
    return names


def parse_templates(source: bytes) -> dict[str, Template]:
    """The file's templates; raises TemplateError (or ValueError for bad YAML) saying what is wrong."""
    raw = load_yaml_mapping(source)
    found: dict[str, Template] = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict):
            raise TemplateError(f"{key}: give an 'ar' and an 'en' text")
        texts = {lang: entry.get(lang) for lang in LANGUAGES}
        for lang, text in texts.items():
            if not isinstance(text, str) or not text.strip():
                raise TemplateError(f"{key}: the {lang!r} text is missing")
            try:
                _fields(text)
            except TemplateError as err:
                raise TemplateError(f"{key}.{lang}: {err}") from None
        unknown = sorted(set(entry) - set(LANGUAGES))
        if unknown:
            raise TemplateError(f"{key}: unknown entries {', '.join(map(str, unknown))} (only 'ar' and 'en')")
        found[str(key)] = Template(key=str(key), texts={k: str(v) for k, v in texts.items()})
    return found


@functools.lru_cache(maxsize=16)
def _cached(path: str, _stamp: tuple[int, int]) -> dict[str, Template]:
    return parse_templates(Path(path).read_bytes())


def load_templates(path: Path | None = None) -> dict[str, Template]:
    """The templates of ``path`` (the project's file by default), read again whenever the file changes."""
    target = path or default_path()
    stat = target.stat()
    return _cached(str(target), (stat.st_mtime_ns, stat.st_size))


def file_problems(path: Path) -> list[str]:
    """Everything wrong with a notifications file, for ``processes check`` and deployment."""
    if not path.exists():
        return ["the messages to households are missing (processes/notifications.yaml)"]
    try:
        templates = parse_templates(path.read_bytes())
    except ValueError as err:
        return [str(err)]
    problems = []
    for key, given in REQUIRED_TEMPLATES.items():
        template = templates.get(key)
        if template is None:
            problems.append(f"{key}: the product sends this message, and its template is missing")
            continue
        problems += [f"{key}: unknown placeholder {{{name}}} (this message has: "
                     f"{', '.join('{' + g + '}' for g in sorted(given))})"
                     for name in sorted(template.placeholders() - given)]
    return problems


def _value(value: Any, lang: str) -> str:
    if isinstance(value, list | tuple):
        return ("، " if lang == "ar" else ", ").join(_value(v, lang) for v in value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return "" if value is None else str(value)


def render(template: Template, params: Mapping[str, Any], lang: str) -> tuple[str, str]:
    """The text in ``lang`` (Arabic when there is none) and the same text with codes masked."""
    text = template.texts.get(lang) or template.texts[DEFAULT_LANGUAGE]
    missing = sorted(set(_fields(text)) - set(params))
    if missing:
        raise TemplateError(f"{template.key}: no value for {', '.join('{' + m + '}' for m in missing)}")
    body, masked = [], []
    for literal, name, _spec, _conversion in string.Formatter().parse(text):
        body.append(literal)
        masked.append(literal)
        if name is not None:
            value = _value(params[name], lang)
            if lang == "ar" and value:
                # Isolated, so a reference or a date keeps its own order inside the Arabic sentence.
                value = f"\u2068{value}\u2069"
            body.append(value)
            masked.append(MASK if is_secret(name) else value)
    return "".join(body)[:MAX_LENGTH], "".join(masked)[:MAX_LENGTH]
