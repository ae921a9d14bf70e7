"""Deploying: files become a version only by an explicit act that checks them first.

A deployment is a snapshot of every analyst-edited file (diagrams, decision tables, rule data, forms,
the vocabulary), checked as a whole and stored on the version row. New cases start on the latest
version; nothing on disk touches a running or new case until it is deployed. Running cases read their
version's files from a local copy made from the database (any server can rebuild it), never from the
working files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ProcessInvalid
from engine.library import Library, check_library
from engine.models import ProcessVersion
from engine.state import load_spec, spec_to_json

#: The files a deployment takes, by folder: (library attribute, folder name in sources, patterns).
_FOLDERS = (("processes_dir", "processes", ("*.bpmn", "*.yaml")),
            ("rules_dir", "rules", ("*.dmn", "*.yaml", "*.csv")),
            ("forms_dir", "forms", ("*.yaml",)))
#: How a deployment came about, shown in the process catalogue.
ORIGINS = ("file", "browser", "upload")

Sources = Mapping[str, bytes]
Checker = Callable[[Library], dict[str, list[str]]]


def snapshot(library: Library) -> dict[str, bytes]:
    """Every file a deployment takes, by its path relative to the project (``forms/registration.yaml``)."""
    files: dict[str, bytes] = {}
    for attribute, folder, patterns in _FOLDERS:
        base = Path(getattr(library, attribute))
        for pattern in patterns:
            for path in sorted(base.glob(pattern)):
                files[f"{folder}/{path.name}"] = path.read_bytes()
    return files


def stored_sources(version: ProcessVersion) -> dict[str, bytes]:
    """A version's files under their relative paths (early versions stored diagrams and tables bare)."""
    sources: dict[str, bytes] = {}
    for name, text in (version.sources or {}).items():
        if "/" not in name:
            name = f"{'rules' if name.endswith('.dmn') else 'processes'}/{name}"
        sources[name] = text.encode("utf-8")
    return sources


def content_hash(process_id: str, sources: Sources) -> str:
    digest = hashlib.sha256(process_id.encode() + b"\0")
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name] + b"\0")
    return digest.hexdigest()


def check_name(name: str) -> PurePosixPath:
    """A source's path, refused unless it is one file directly inside one of the known folders."""
    path = PurePosixPath(name)
    folders = {folder for _a, folder, _p in _FOLDERS}
    if len(path.parts) != 2 or path.parts[0] not in folders or path.name.startswith(".") or "\\" in name:
        raise ValueError(f"not a process, rule or form file: {name!r}")
    return path


def write_sources(sources: Sources, root: Path, template: Library) -> Library:
    """Write ``sources`` under ``root`` and return a Library reading them (same roles and timezone)."""
    for _attribute, folder, _patterns in _FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name, data in sources.items():
        path = root / check_name(name)
        path.write_bytes(data)
    return library_at(root, template)


def library_at(root: Path, template: Library) -> Library:
    return Library(processes_dir=root / "processes", forms_dir=root / "forms", rules_dir=root / "rules",
                   roles=template.roles, timezone=template.timezone, versions_dir=template.versions_dir)


def check_sources(sources: Sources, template: Library, checker: Checker = check_library) -> dict[str, list[str]]:
    """Problems per file (keyed by relative path) of a set of sources, checked as they would be deployed."""
    with tempfile.TemporaryDirectory(prefix="mosd-check-") as tmp:
        report = checker(write_sources(sources, Path(tmp), template))
        result: dict[str, list[str]] = {}
        for path, problems in report.items():
            relative = Path(path).resolve().relative_to(Path(tmp).resolve()) \
                if Path(path).resolve().is_relative_to(Path(tmp).resolve()) else Path(path)
            result[relative.as_posix()] = problems
    return result


def problem_list(report: Mapping[str, list[str]]) -> list[str]:
    return [f"{name}: {problem}" for name, problems in sorted(report.items()) for problem in problems]


def latest_version(session: Session, process_id: str) -> ProcessVersion | None:
    """The version new cases start on: the last one deployed."""
    return session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                           .order_by(ProcessVersion.version.desc()).limit(1)).first()


@dataclass
class Deployment:
    """What a deploy did: the version new cases now start on, and whether this call created it."""

    version: ProcessVersion
    created: bool
    problems: list[str] = field(default_factory=list)


def deploy_sources(session: Session, sources: Sources, *, process_id: str, template: Library,
                   checker: Checker = check_library, deployed_by_id: int | None = None, origin: str = "file",
                   note: str | None = None,
                   differences: Callable[[ProcessVersion | None, ProcessVersion], dict[str, Any]] | None = None
                   ) -> Deployment:
    """Check ``sources`` and store them as the next version of ``process_id`` (only flushes).

    Sources equal to the latest version's deploy nothing. Raises ProcessInvalid listing every problem,
    each naming its file; nothing is stored then.
    """
    if origin not in ORIGINS:
        raise ValueError(f"unknown origin {origin!r}")
    hashed = content_hash(process_id, sources)
    latest = latest_version(session, process_id)
    if latest is not None and latest.content_hash == hashed:
        return Deployment(version=latest, created=False)
    try:
        for name in sources:
            check_name(name)
    except ValueError as err:
        raise ProcessInvalid([str(err)]) from None
    with tempfile.TemporaryDirectory(prefix="mosd-deploy-") as tmp:
        staged = write_sources(sources, Path(tmp), template)
        problems = problem_list(check_sources(sources, template, checker))
        problems += [f"{name}: not UTF-8 text" for name in sorted(sources) if not _is_utf8(sources[name])
                     and not any(p.startswith(f"{name}: ") for p in problems)]
        if problems:
            raise ProcessInvalid(problems)
        spec, subprocess_specs = _parsed(staged, process_id)
    version = ProcessVersion(
        process_id=process_id,
        version=(latest.version if latest is not None else 0) + 1,
        content_hash=hashed,
        spec_json=spec_to_json(spec, subprocess_specs),
        sources={name: data.decode("utf-8") for name, data in sorted(sources.items())},
        deployed_by_id=deployed_by_id,
        origin=origin,
        note=note,
    )
    if differences is not None:
        version.changes = differences(latest, version)
    session.add(version)
    session.flush()
    load_spec(version.content_hash, lambda: version.spec_json)
    return Deployment(version=version, created=True)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parsed(library: Library, process_id: str) -> tuple[Any, dict[str, Any]]:
    from engine.library import _parse

    parser = _parse(library.process_files())
    return parser.get_spec(process_id), parser.get_subprocess_specs(process_id)


def version_library(template: Library, version: ProcessVersion) -> Library:
    """The files of a deployed version as a Library (see ``library_for_hash``)."""
    return library_for_hash(template, version.content_hash, lambda: version)


def library_for_hash(template: Library, hashed: str, load: Callable[[], ProcessVersion]) -> Library:
    """A deployed version's files as a Library, copied once from the database into a local folder.

    The folder is a cache named by content hash: any server rebuilds it from the version row (``load``
    is called only then), and a half-written copy is never seen (it is written aside, then renamed).
    """
    root = template.deployed_root() / hashed[:40]
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root.parent))
        try:
            write_sources(stored_sources(load()), staging, template)
            os.rename(staging, root)
        except OSError:
            if not root.is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return library_at(root, template)


def current_library(session: Session, template: Library, process_id: str) -> Library:
    """The files new cases of ``process_id`` run with: its latest version's, or the working files if none."""
    latest = latest_version(session, process_id)
    return version_library(template, latest) if latest is not None else template
