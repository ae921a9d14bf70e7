"""The complaint pages' own words (Babel): kinds, statuses and outcomes as the complainant reads them."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webui.messages import translate_errors

KINDS = {
    "decision": _l("A decision on my application"),
    "delay": _l("A delay"),
    "staff": _l("A staff member"),
}
STATUSES = {
    "received": _l("Received: waiting to be taken up"),
    "acknowledged": _l("Being looked into by the complaints officer"),
    "escalated": _l("Overdue: passed to a senior officer"),
    "resolved": _l("Resolved"),
}
OUTCOMES = {
    "upheld": _l("Your complaint was upheld"),
    "partly_upheld": _l("Your complaint was partly upheld"),
    "not_upheld": _l("Your complaint was not upheld"),
}
#: Error codes of the complaint services that the shared wording does not have.
OWN_ERRORS = {
    "unknown_case": _l("No case of yours has this reference."),
    "too_long": _l("This text is too long (at most 4000 characters)."),
}


def words() -> dict[str, Any]:
    return {"complaint_kinds": KINDS, "complaint_statuses": STATUSES, "complaint_outcomes": OUTCOMES}


def errors_in_words(errors: dict[str, list[str]]) -> dict[str, str]:
    """One message per field, in the page's language."""
    shared = translate_errors({f: [c for c in codes if c not in OWN_ERRORS] for f, codes in errors.items()})
    messages: dict[str, str] = {}
    for name, codes in errors.items():
        own = [str(OWN_ERRORS[c]) for c in codes if c in OWN_ERRORS]
        messages[name] = " ".join(own + shared.get(name, []))
    return messages


def not_found() -> str:
    return _("No complaint matches this reference and code. Check both and try again.")
