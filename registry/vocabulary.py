"""Which vocabulary applies: a case's own version's for what its tasks set, the latest deployed one for pages.

The words themselves live in ``processes/vocabulary.yaml`` (read by ``engine.vocabulary``); the
registry keeps no table of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.library import Library
from engine.models import ProcessVersion
from engine.vocabulary import CaseField, Vocabulary, load_vocabulary, vocabulary_from_sources

if TYPE_CHECKING:
    from registry.process_catalogue import VersionKey

#: Each deployed version's vocabulary, by the version's content hash (a deployed version never changes).
_OF_VERSION: dict[str, Vocabulary] = {}


def version_vocabulary(version: ProcessVersion, library: Library) -> Vocabulary:
    """The vocabulary deployed with ``version``; versions deployed before it existed read the working file."""
    return vocabulary_for_hash(version.content_hash, lambda: version, library)


def vocabulary_for_hash(content_hash: str, load: Callable[[], ProcessVersion], library: Library) -> Vocabulary:
    """The vocabulary of the version with ``content_hash``; ``load`` (the version row) is called only on a miss."""
    found = _OF_VERSION.get(content_hash)
    if found is None:
        stored = vocabulary_from_sources(load().sources or {})
        if stored is None:
            return load_vocabulary(library.processes_dir)
        found = _OF_VERSION.setdefault(content_hash, stored)
    return found


def has_own_vocabulary(content_hash: str) -> bool:
    """Whether the version with ``content_hash`` was read and carries its own words (older ones read the working
    file, which may change): only then may what is worked out from its words be kept by its hash."""
    return content_hash in _OF_VERSION


def current_vocabulary(session: Session, library: Library, process_id: str) -> Vocabulary:
    """The words pages use: those of the latest deployed version of ``process_id`` (the files before any)."""
    from registry.process_catalogue import latest_version_key

    return vocabulary_of_key(session, library, latest_version_key(session, process_id))


def vocabulary_of_key(session: Session, library: Library, key: VersionKey | None) -> Vocabulary:
    """The words of the version ``key`` names (the working files when none is deployed); read once per version."""
    if key is None:
        return load_vocabulary(library.processes_dir)
    return vocabulary_for_hash(key.content_hash, lambda: session.get_one(ProcessVersion, key.id), library)


def _stored(case_field: CaseField, value: Any) -> Any:
    """A case field's value as the case keeps it (JSON): dates as ISO days, numbers as numbers."""
    if case_field.type == "date":
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    if case_field.type == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else float(value)
    return str(value)


def case_fields_set(vocabulary: Vocabulary, data: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The case's fields after a step whose data is ``data``: each declared field the data holds, set."""
    fields = dict(current)
    for case_field in vocabulary.case_fields:
        value = data.get(case_field.name)
        if value not in (None, "", []):
            fields[case_field.name] = _stored(case_field, value)
    return fields


def shown_case_fields(vocabulary: Vocabulary, values: Mapping[str, Any]) -> list[tuple[CaseField, Any]]:
    """The declared case fields that have a value, in the vocabulary's order, dates as dates."""
    shown = []
    for case_field in vocabulary.case_fields:
        value = values.get(case_field.name)
        if value in (None, ""):
            continue
        shown.append((case_field, dt.date.fromisoformat(value) if case_field.type == "date" else value))
    return shown
