"""Build the ministry sources from configuration (read once at start-up by the application factory).

Keys: ``MINISTRY_BACKEND`` ("file" default, "http", or "none" to exchange nothing);
``MINISTRY_SOURCES`` (comma-separated subset of interior,education,health; default all);
``MINISTRY_DATA_DIR`` (file backend; default ``data/ministries`` in the repository);
``MINISTRY_INTERIOR_URL``, ``MINISTRY_EDUCATION_URL``, ``MINISTRY_HEALTH_URL`` (http backend, required
for every selected ministry); ``MINISTRY_TIMEOUT`` seconds per attempt (3), ``MINISTRY_RETRIES``
extra attempts (2), ``MINISTRY_BACKOFF`` first pause between attempts in seconds (0.2, doubling);
``MINISTRY_XROAD_CLIENT`` (optional, sent as the ``X-Road-Client`` header).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from registry.ministries.files import EducationFileSource, HealthFileSource, InteriorFileSource
from registry.ministries.records import MinistrySource
from registry.ministries.remote import (
    EducationHttpSource,
    HealthHttpSource,
    InteriorHttpSource,
    JsonHttpClient,
)

MINISTRIES = ("interior", "education", "health")
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "ministries"
#: Each ministry's name in English and Arabic, as the pre-filled form and the case page cite it.
NAMES_FILE = Path(__file__).resolve().parents[2] / "data" / "ministries.csv"


@functools.lru_cache(maxsize=1)
def _names() -> dict[str, dict[str, str]]:
    with open(NAMES_FILE, encoding="utf-8") as handle:
        return {row["key"]: {"en": row["name_en"], "ar": row["name_ar"]} for row in csv.DictReader(handle)}


def ministry_name(key: str, lang: str) -> str:
    """A ministry's name in ``lang`` (English when that is missing, the key for an unknown ministry)."""
    names = _names().get(key) or {}
    return names.get(lang) or names.get("en") or key

_FILE_SOURCES: dict[str, Callable[[Path], MinistrySource]] = {
    "interior": InteriorFileSource, "education": EducationFileSource, "health": HealthFileSource,
}
_HTTP_SOURCES: dict[str, Callable[[JsonHttpClient], MinistrySource]] = {
    "interior": InteriorHttpSource, "education": EducationHttpSource, "health": HealthHttpSource,
}


def _number(config: Mapping[str, Any], key: str, default: float, kind: Callable[[Any], float]) -> float:
    raw = config.get(key)
    try:
        value = kind(raw) if raw not in (None, "") else default
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, not {raw!r}") from None
    if value < 0 or (key == "MINISTRY_TIMEOUT" and value == 0):
        raise ValueError(f"{key} must be positive, not {raw!r}")
    return value


def _file_sources(names: list[str], config: Mapping[str, Any]) -> list[MinistrySource]:
    data_dir = Path(config.get("MINISTRY_DATA_DIR") or DEFAULT_DATA_DIR)
    return [_FILE_SOURCES[name](data_dir) for name in names]


def _http_sources(names: list[str], config: Mapping[str, Any]) -> list[MinistrySource]:
    missing = [f"MINISTRY_{n.upper()}_URL" for n in names if not config.get(f"MINISTRY_{n.upper()}_URL")]
    if missing:
        raise ValueError(f"MINISTRY_BACKEND=http needs {', '.join(missing)}")
    client_id = config.get("MINISTRY_XROAD_CLIENT")
    headers = {"X-Road-Client": str(client_id)} if client_id else {}
    timeout = _number(config, "MINISTRY_TIMEOUT", 3.0, float)
    retries = int(_number(config, "MINISTRY_RETRIES", 2, int))
    backoff = _number(config, "MINISTRY_BACKOFF", 0.2, float)
    return [
        _HTTP_SOURCES[name](JsonHttpClient(str(config[f"MINISTRY_{name.upper()}_URL"]), timeout=timeout,
                                           retries=retries, backoff=backoff, headers=headers))
        for name in names
    ]


_BACKENDS: dict[str, Callable[[list[str], Mapping[str, Any]], list[MinistrySource]]] = {
    "file": _file_sources,
    "http": _http_sources,
    "none": lambda names, config: [],
}


def sources_from_config(config: Mapping[str, Any]) -> list[MinistrySource]:
    """The configured ministry sources, Interior first; ValueError names any bad or missing key."""
    backend = str(config.get("MINISTRY_BACKEND") or "file").strip().lower()
    if backend not in _BACKENDS:
        raise ValueError(f"MINISTRY_BACKEND must be one of {', '.join(sorted(_BACKENDS))}, not {backend!r}")
    selected = config.get("MINISTRY_SOURCES") or MINISTRIES
    if isinstance(selected, str):
        selected = [part.strip() for part in selected.split(",") if part.strip()]
    unknown = [name for name in selected if name not in MINISTRIES]
    if unknown:
        raise ValueError(f"MINISTRY_SOURCES: unknown ministries {', '.join(map(str, unknown))}")
    return _BACKENDS[backend]([name for name in MINISTRIES if name in selected], config)
