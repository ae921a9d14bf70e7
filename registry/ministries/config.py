"""Build the ministry sources from configuration (read once at start-up by the application factory).

Keys: ``MINISTRY_BACKEND`` ("file" default, "http", or "none" to exchange nothing);
``MINISTRY_SOURCES`` (comma-separated subset of interior,education,health; default all);
``MINISTRY_DATA_DIR`` (file backend; default ``data/ministries`` in the repository);
``MINISTRY_INTERIOR_URL``, ``MINISTRY_EDUCATION_URL``, ``MINISTRY_HEALTH_URL`` (http backend, required
for every selected ministry); ``MINISTRY_TIMEOUT`` seconds per attempt (3), ``MINISTRY_RETRIES``
extra attempts (2), ``MINISTRY_BACKOFF`` first pause between attempts in seconds (0.2, doubling);
``MINISTRY_XROAD_CLIENT`` (optional, sent as the ``X-Road-Client`` header).

``MINISTRY_INTERIOR_BACKEND``, ``MINISTRY_EDUCATION_BACKEND``, ``MINISTRY_HEALTH_BACKEND``: one
ministry's backend instead of ``MINISTRY_BACKEND``; Interior may also be "spdci-crvs", its civil
registry through the SPDCI CRVS API (``crvs``), which reads: ``MINISTRY_CRVS_URL`` (required: the
API's base, where ``/registry/sync/search`` lives); either ``MINISTRY_CRVS_TOKEN`` (a bearer token)
or ``MINISTRY_CRVS_TOKEN_URL`` with ``MINISTRY_CRVS_CLIENT_ID`` and ``MINISTRY_CRVS_CLIENT_SECRET``
(OAuth 2.0 client credentials); ``MINISTRY_CRVS_SENDER_ID`` (our ``sender_id``, default
"mosd-social-registry"), ``MINISTRY_CRVS_RECEIVER_ID`` (optional), ``MINISTRY_CRVS_REG_TYPE``
("ns:org:RegistryType:Civil"), ``MINISTRY_CRVS_RECORD_TYPE`` ("Person"), ``MINISTRY_CRVS_ID_TYPE``
("UIN"); ``MINISTRY_CRVS_SIGNING_KEY_FILE`` (optional: a PEM Ed25519 or RSA private key that signs
every envelope, as ``registry.interop.envelope`` describes; needs the ``cryptography`` package) with
``MINISTRY_CRVS_SIGNING_KEY_ID`` (default: the sender id). Timeout, retries, backoff and the X-Road
header are the ``MINISTRY_*`` ones above.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from registry.ministries.crvs import ClientCredentialsToken, InteriorCrvsSource, Signer, StaticToken
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


def _client(url: str, config: Mapping[str, Any]) -> JsonHttpClient:
    client_id = config.get("MINISTRY_XROAD_CLIENT")
    return JsonHttpClient(url, timeout=_number(config, "MINISTRY_TIMEOUT", 3.0, float),
                          retries=int(_number(config, "MINISTRY_RETRIES", 2, int)),
                          backoff=_number(config, "MINISTRY_BACKOFF", 0.2, float),
                          headers={"X-Road-Client": str(client_id)} if client_id else {})


def _http_sources(names: list[str], config: Mapping[str, Any]) -> list[MinistrySource]:
    missing = [f"MINISTRY_{n.upper()}_URL" for n in names if not config.get(f"MINISTRY_{n.upper()}_URL")]
    if missing:
        raise ValueError(f"MINISTRY_BACKEND=http needs {', '.join(missing)}")
    return [_HTTP_SOURCES[name](_client(str(config[f"MINISTRY_{name.upper()}_URL"]), config)) for name in names]


def _crvs_sources(names: list[str], config: Mapping[str, Any]) -> list[MinistrySource]:
    if names != ["interior"]:
        others = ", ".join(n for n in names if n != "interior")
        raise ValueError(f"spdci-crvs serves Interior only; choose another backend for {others}"
                         " (MINISTRY_<NAME>_BACKEND)")
    if not config.get("MINISTRY_CRVS_URL"):
        raise ValueError("MINISTRY_INTERIOR_BACKEND=spdci-crvs needs MINISTRY_CRVS_URL")
    token: StaticToken | ClientCredentialsToken
    credentials = [config.get(f"MINISTRY_CRVS_{key}") for key in ("TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET")]
    if config.get("MINISTRY_CRVS_TOKEN"):
        token = StaticToken(str(config["MINISTRY_CRVS_TOKEN"]))
    elif all(credentials):
        token_url, client_id, secret = map(str, credentials)
        token = ClientCredentialsToken(_client(token_url, config), client_id=client_id, client_secret=secret)
    else:
        raise ValueError("spdci-crvs needs MINISTRY_CRVS_TOKEN, or MINISTRY_CRVS_TOKEN_URL with"
                         " MINISTRY_CRVS_CLIENT_ID and MINISTRY_CRVS_CLIENT_SECRET")
    sender_id = str(config.get("MINISTRY_CRVS_SENDER_ID") or "mosd-social-registry")
    return [InteriorCrvsSource(
        _client(str(config["MINISTRY_CRVS_URL"]), config), token=token, sender_id=sender_id,
        signer=_crvs_signer(config, sender_id),
        receiver_id=str(config["MINISTRY_CRVS_RECEIVER_ID"]) if config.get("MINISTRY_CRVS_RECEIVER_ID") else None,
        reg_type=str(config.get("MINISTRY_CRVS_REG_TYPE") or "ns:org:RegistryType:Civil"),
        record_type=str(config.get("MINISTRY_CRVS_RECORD_TYPE") or "Person"),
        id_type=str(config.get("MINISTRY_CRVS_ID_TYPE") or "UIN"),
    )]


def _crvs_signer(config: Mapping[str, Any], sender_id: str) -> Signer | None:
    path = config.get("MINISTRY_CRVS_SIGNING_KEY_FILE")
    if not path:
        return None
    try:
        pem = Path(str(path)).read_text(encoding="utf-8")
    except OSError:
        raise ValueError(f"MINISTRY_CRVS_SIGNING_KEY_FILE cannot be read: {path}") from None
    from registry.interop.envelope import sign

    key_id = str(config.get("MINISTRY_CRVS_SIGNING_KEY_ID") or sender_id)
    return lambda header, message: sign(pem, key_id=key_id, header=dict(header), message=dict(message),
                                        now=dt.datetime.now(dt.UTC))


_BACKENDS: dict[str, Callable[[list[str], Mapping[str, Any]], list[MinistrySource]]] = {
    "file": _file_sources,
    "http": _http_sources,
    "spdci-crvs": _crvs_sources,
    "none": lambda names, config: [],
}


def _backend(config: Mapping[str, Any], key: str, default: str) -> str:
    backend = str(config.get(key) or default).strip().lower()
    if backend not in _BACKENDS:
        raise ValueError(f"{key} must be one of {', '.join(sorted(_BACKENDS))}, not {backend!r}")
    return backend


def sources_from_config(config: Mapping[str, Any]) -> list[MinistrySource]:
    """The configured ministry sources, Interior first; ValueError names any bad or missing key."""
    default = _backend(config, "MINISTRY_BACKEND", "file")
    selected = config.get("MINISTRY_SOURCES") or MINISTRIES
    if isinstance(selected, str):
        selected = [part.strip() for part in selected.split(",") if part.strip()]
    unknown = [name for name in selected if name not in MINISTRIES]
    if unknown:
        raise ValueError(f"MINISTRY_SOURCES: unknown ministries {', '.join(map(str, unknown))}")
    by_backend: dict[str, list[str]] = {}
    for name in MINISTRIES:
        if name in selected:
            by_backend.setdefault(_backend(config, f"MINISTRY_{name.upper()}_BACKEND", default), []).append(name)
    built: dict[str, MinistrySource] = {}
    for backend, names in by_backend.items():
        # Every backend but "none" gives one source per ministry, in the order asked.
        built.update(zip(names, _BACKENDS[backend](names, config), strict=backend != "none"))
    # In the ministries' order whatever the backends: Interior's family gives the IDs the others are asked about.
    return [built[name] for name in MINISTRIES if name in built]
