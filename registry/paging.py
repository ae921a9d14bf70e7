"""Pages of a list: a page of rows and the total, so no page's cost grows with the registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

PER_PAGE = 50
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class PageInfo:
    """Where a page sits in its list (pages count from 1)."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    info: PageInfo = field(default_factory=lambda: PageInfo(page=1, per_page=PER_PAGE, total=0))

    @property
    def total(self) -> int:
        return self.info.total


def bounded(page: int | None, per_page: int | None) -> tuple[int, int]:
    """A page number of at least 1 and a page size between 1 and MAX_PER_PAGE."""
    size = PER_PAGE if not per_page or per_page < 1 else min(per_page, MAX_PER_PAGE)
    return max(1, page or 1), size


def page_info(session: Session, query: Select[Any], *, page: int | None,
              per_page: int | None) -> PageInfo:
    """Count what ``query`` selects, and place the page asked for in it."""
    total = int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    return page_of(total, page=page, per_page=per_page)


def page_of(total: int, *, page: int | None, per_page: int | None) -> PageInfo:
    """The page asked for in a list of ``total`` rows; a page past the end is read as the last page."""
    number, size = bounded(page, per_page)
    pages = max(1, -(-total // size))
    return PageInfo(page=min(number, pages), per_page=size, total=total)
