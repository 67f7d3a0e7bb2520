"""One pager for every list: a page of rows, found without counting the list unless told its size.

A big table (every pull ever run) is paged by LIMIT/OFFSET reading one extra row to know
whether a next page exists, so a page costs the same whatever the table's size. A list
whose size the page shows anyway ("Page 2 of 7") passes `total` and reads no extra row.
"""

from dataclasses import dataclass

MAX_PAGE = 10_000  # deeper than anyone pages by hand; keeps OFFSET bounded


@dataclass
class Window:
    items: list
    number: int
    per_page: int
    has_next: bool
    total: int | None = None

    @property
    def has_previous(self):
        return self.number > 1

    @property
    def previous_page_number(self):
        return self.number - 1

    @property
    def next_page_number(self):
        return self.number + 1

    @property
    def num_pages(self):
        if self.total is None:
            return None
        return pages_for(self.total, self.per_page)

    @property
    def start_index(self):
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def end_index(self):
        return (self.number - 1) * self.per_page + len(self.items)


def pages_for(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def page_number(value, last=MAX_PAGE) -> int:
    """The page asked for, as a number from 1 to `last`; anything else is page 1."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return max(1, min(number, last))


def window(rows, request, per_page, total=None) -> Window:
    """The page of `rows` (a queryset or a list) named by the request's `page` parameter.

    With `total`, a page past the end shows the last page (as a bookmark to a list that
    has since shrunk should); without it, past the end is simply empty.
    """
    last = MAX_PAGE if total is None else min(MAX_PAGE, pages_for(total, per_page))
    number = page_number(request.GET.get("page", 1), last)
    offset = (number - 1) * per_page
    if total is None:
        found = list(rows[offset : offset + per_page + 1])
        return Window(found[:per_page], number, per_page, len(found) > per_page)
    found = list(rows[offset : offset + per_page]) if total else []
    return Window(found, number, per_page, offset + per_page < total, total)
