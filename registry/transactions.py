"""One service call, one transaction: commit everything it did, or roll all of it back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.errors import StaleState
from registry.errors import Conflict


@contextmanager
def unit_of_work(session: Session, *, changed: str | None = None) -> Iterator[None]:
    """Commit, or roll back and re-raise.

    With ``changed`` (what the caller guards, e.g. "the visit"), losing a race is answered in words: a stale
    version becomes ``StaleState`` ("<changed> changed meanwhile") and a broken unique key (the same thing sent
    twice at once) becomes ``Conflict``.
    """
    try:
        yield
        session.commit()
    except (StaleDataError, IntegrityError) as err:
        session.rollback()
        if changed is None:
            raise
        if isinstance(err, StaleDataError):
            raise StaleState(f"{changed} changed meanwhile") from None
        raise Conflict() from None
    except BaseException:
        session.rollback()
        raise
