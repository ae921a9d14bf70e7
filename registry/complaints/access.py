"""Who may see and handle a complaint: decided here once, for lists, pages and completions alike.

Complaint tasks live in the task index with the complaint's reference as business key and a scope of
their own (``complaints:<directorate>``), so the case inboxes and task pages, which match a staff member's
directorate code, never list nor open them. A complaint about a staff member never reaches that person,
whatever role they hold.
"""

from __future__ import annotations

from engine.models import TaskRecord
from registry.complaints.models import Complaint
from registry.models import Role, User

SCOPE_PREFIX = "complaints:"
#: Roles that work on complaints: the directorate's handlers and supervisors, and the ministry's unit.
HANDLING_ROLES = frozenset({Role.COMPLAINTS_HANDLER.value, Role.SUPERVISOR.value, Role.COMPLAINTS_UNIT.value})


def complaint_scope(directorate_code: str) -> str:
    return f"{SCOPE_PREFIX}{directorate_code}"


def ministry_wide(actor: User) -> bool:
    """The complaints unit sees every directorate's complaints."""
    return actor.role == Role.COMPLAINTS_UNIT.value


def may_see(actor: User, complaint: Complaint) -> bool:
    """Handlers and supervisors of the complaint's directorate, the ministry's unit; never its subject."""
    if actor.role not in HANDLING_ROLES or not actor.active:
        return False
    if complaint.about_user_id is not None and complaint.about_user_id == actor.id:
        return False
    return ministry_wide(actor) or (actor.directorate_id is not None
                                    and actor.directorate_id == complaint.directorate_id)


def may_act(actor: User, complaint: Complaint, record: TaskRecord) -> bool:
    """A complaint task is the work of its lane's role, for those who may see the complaint."""
    return record.lane == actor.role and record.business_key == complaint.reference and may_see(actor, complaint)
