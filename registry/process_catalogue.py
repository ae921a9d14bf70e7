"""The processes as analysts see them: deploy, list versions, what runs where.

Deploying is audited and goes through every check the command line runs (registry.checks.check_all),
whether the files come from disk, from the browser's editors or from an upload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import deployments
from engine.deployments import Deployment, latest_version, snapshot, stored_sources
from engine.errors import NotFoundForActor, ProcessInvalid
from engine.library import Library
from engine.models import InstanceStatus, ProcessInstance, ProcessVersion, TaskRecord, TaskState
from registry.audit import record_event
from registry.checks import check_all
from registry.errors import NotPermitted
from registry.models import Role, User

#: The processes the catalogue shows, in order (the first is the one every case starts on).
PROCESSES = ("case_management", "complaints", "update_visit", "referral")
#: Process analysts own the process files; administrators manage people (registry.administration), not processes.
EDITORS = (Role.ANALYST.value,)


@dataclass(frozen=True)
class VersionKey:
    """Which version of a process is the latest deployed: enough to find its files and words in a cache."""

    id: int
    content_hash: str


def latest_version_key(session: Session, process_id: str) -> VersionKey | None:
    """The latest deployed version's id and content hash (None before any deployment).

    One small query, asked once per request, so every server sees a new deployment at once; what a version
    holds never changes, so anything worked out from it can be cached by its content hash.
    """
    row = session.execute(select(ProcessVersion.id, ProcessVersion.content_hash)
                          .where(ProcessVersion.process_id == process_id)
                          .order_by(ProcessVersion.version.desc()).limit(1)).first()
    return VersionKey(id=row.id, content_hash=row.content_hash) if row is not None else None


def deployed_library_of(session: Session, template: Library, key: VersionKey | None) -> Library:
    """The files of the version ``key`` names (the working files when none is deployed)."""
    if key is None:
        return template
    return deployments.library_for_hash(template, key.content_hash,
                                        lambda: session.get_one(ProcessVersion, key.id))


def _may_edit(actor: User | None) -> None:
    if actor is not None and actor.role not in EDITORS:
        raise NotPermitted("only process analysts change processes")


def _differences(before: ProcessVersion | None, after: ProcessVersion) -> dict[str, Any]:
    try:
        from engine.versions_diff import version_differences
    except ImportError:  # the comparison is optional: a deployment never fails for want of it
        return {}
    return version_differences(before, after) if before is not None else {}


def deploy(session: Session, *, library: Library, sources: Mapping[str, bytes], process_id: str,
           actor: User | None, now: dt.datetime, origin: str = "file", note: str | None = None) -> Deployment:
    """Check and deploy ``sources`` as the next version, audited; one unit of work.

    Raises ProcessInvalid (nothing stored) or NotPermitted.
    """
    _may_edit(actor)
    try:
        result = deployments.deploy_sources(session, sources, process_id=process_id, template=library,
                                            checker=check_all, deployed_by_id=actor.id if actor else None,
                                            origin=origin, note=note, differences=_differences)
        if result.created:
            result.version.deployed_at = now
            record_event(session, actor_id=actor.id if actor else None, case_id=None, action="process_deployed",
                         at=now, details={"process": process_id, "version": result.version.version,
                                          "origin": origin, "content_hash": result.version.content_hash})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def deploy_files(session: Session, *, library: Library, process_id: str = PROCESSES[0], actor: User | None = None,
                 now: dt.datetime) -> Deployment:
    """Deploy the working files on disk (the command line, ``make run``)."""
    return deploy(session, library=library, sources=snapshot(library), process_id=process_id, actor=actor, now=now)


def draft_sources(session: Session, *, library: Library, process_id: str,
                  changed: Mapping[str, bytes]) -> dict[str, bytes]:
    """The latest version's files (the working files if none is deployed) with ``changed`` put in."""
    latest = latest_version(session, process_id)
    base = stored_sources(latest) if latest is not None else snapshot(library)
    return {**base, **changed}


def check_draft(session: Session, *, library: Library, process_id: str,
                changed: Mapping[str, bytes]) -> dict[str, list[str]]:
    """What the checks say of the latest version with ``changed`` put in; changes nothing."""
    try:
        for name, data in changed.items():
            deployments.check_name(name)
            data.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as err:
        return {next(iter(changed), "?"): [str(err)]}
    return deployments.check_sources(draft_sources(session, library=library, process_id=process_id,
                                                   changed=changed), library, check_all)


def deploy_draft(session: Session, *, library: Library, process_id: str, changed: Mapping[str, bytes],
                 actor: User, now: dt.datetime, origin: str = "browser") -> Deployment:
    """Deploy the latest version with ``changed`` put in (from the browser's editors or an upload)."""
    _may_edit(actor)
    return deploy(session, library=library, sources=draft_sources(session, library=library, process_id=process_id,
                                                                  changed=changed),
                  process_id=process_id, actor=actor, now=now, origin=origin)


# --- what the catalogue shows -------------------------------------------------------------------

@dataclass
class VersionRow:
    version: ProcessVersion
    running: int
    completed: int
    #: The deploying user's name in each language (none for a command on the server).
    deployed_by: dict[str, str] | None


@dataclass
class ProcessSummary:
    process_id: str
    versions: list[VersionRow] = field(default_factory=list)
    disk_problems: dict[str, list[str]] = field(default_factory=dict)
    disk_differs: bool = False

    @property
    def latest(self) -> VersionRow | None:
        return self.versions[0] if self.versions else None


def catalogue(session: Session, *, actor: User, library: Library) -> list[ProcessSummary]:
    """Every process with its versions (newest first), the cases on each, and the state of the working files."""
    _may_see(actor)
    disk_report = check_all(library)
    disk = snapshot(library)
    summaries = []
    for process_id in PROCESSES:
        summary = ProcessSummary(process_id=process_id, versions=version_rows(session, process_id),
                                 disk_problems={k: v for k, v in disk_report.items() if v})
        summary.disk_differs = bool(summary.versions) and summary.versions[0].version.content_hash != \
            deployments.content_hash(process_id, disk)
        summaries.append(summary)
    return summaries


def version_rows(session: Session, process_id: str) -> list[VersionRow]:
    """The versions of a process, newest first, with how many cases run and finished on each."""
    versions = list(session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                                    .order_by(ProcessVersion.version.desc())))
    counts: dict[tuple[int, str], int] = {
        (version_id, status): count for version_id, status, count in session.execute(
            select(ProcessInstance.process_version_id, ProcessInstance.status, func.count())
            .where(ProcessInstance.process_version_id.in_([v.id for v in versions]))
            .group_by(ProcessInstance.process_version_id, ProcessInstance.status)).tuples()}
    names = {u.id: {lang: u.display_name(lang) for lang in ("en", "ar")} for u in session.scalars(
        select(User).where(User.id.in_({v.deployed_by_id for v in versions if v.deployed_by_id})))}
    return [VersionRow(version=v, running=counts.get((v.id, InstanceStatus.RUNNING.value), 0),
                       completed=counts.get((v.id, InstanceStatus.COMPLETED.value), 0),
                       deployed_by=names.get(v.deployed_by_id) if v.deployed_by_id else None)
            for v in versions]


def _may_see(actor: User) -> None:
    if actor.role not in EDITORS:
        raise NotFoundForActor("processes")


def version_for(session: Session, *, actor: User, process_id: str, number: int) -> ProcessVersion:
    _may_see(actor)
    version = session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id,
                                                          ProcessVersion.version == number))
    if version is None:
        raise NotFoundForActor(f"{process_id} v{number}")
    return version


def waiting_per_task(session: Session, version: ProcessVersion) -> dict[str, int]:
    """How many cases wait at each task of a version (by the diagram's element id), from the task index."""
    return dict(session.execute(
        select(TaskRecord.spec_id, func.count()).join(ProcessInstance, ProcessInstance.id == TaskRecord.instance_id)
        .where(ProcessInstance.process_version_id == version.id, TaskRecord.state == TaskState.READY.value)
        .group_by(TaskRecord.spec_id)).tuples().all())


def source_text(version: ProcessVersion, name: str) -> str:
    """One file of a deployed version (``processes/case_management.bpmn``)."""
    text = stored_sources(version).get(name)
    if text is None:
        raise NotFoundForActor(name)
    return text.decode("utf-8")


def diagram_name(version: ProcessVersion) -> str:
    """The diagram file of a version that holds its process."""
    for name, data in sorted(stored_sources(version).items()):
        if name.endswith(".bpmn") and f'id="{version.process_id}"'.encode() in data:
            return name
    raise ProcessInvalid([f"{version.process_id}: no diagram in version {version.version}"])


@dataclass
class CaseDiagram:
    """A case's diagram: the version it runs on, the elements it passed through, and where it waits now."""

    version: ProcessVersion
    diagram: str
    path: list[str]
    waiting: list[str]


def case_diagram(session: Session, *, actor: User, case_id: int) -> CaseDiagram | None:
    """The diagram of a case the actor may see (None for a case without a process instance)."""
    from engine.runtime import visited_elements
    from registry.cases import case_for_actor

    case = case_for_actor(session, actor=actor, case_id=case_id)
    instance = session.get(ProcessInstance, case.instance_id) if case.instance_id else None
    if instance is None:
        return None
    path, waiting = visited_elements(session, instance)
    return CaseDiagram(version=instance.process_version, diagram=diagram_name(instance.process_version),
                       path=path, waiting=waiting)
