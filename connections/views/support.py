"""Shared by the support pages: lookups that fetch what a page shows in one query, and a pager.

The pages themselves live in support_dashboard, support_companies, support_connections,
support_pulls and support_records.
"""

from dataclasses import dataclass

from django.shortcuts import get_object_or_404

from ..models import Connection


def connection_or_404(pk):
    return get_object_or_404(Connection.objects.select_related("company", "integration"), pk=pk)


@dataclass
class Window:
    """One page of a list, found without counting the whole list unless the count is known.

    Big tables (every pull ever run) are paged by LIMIT/OFFSET reading one extra row to
    know whether a next page exists, so a page costs the same whatever the table's size.
    """

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
        return max(1, -(-self.total // self.per_page))

    @property
    def start_index(self):
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def end_index(self):
        return (self.number - 1) * self.per_page + len(self.items)


MAX_PAGE = 10_000


def window(queryset, request, per_page, total=None) -> Window:
    try:
        number = max(1, min(int(request.GET.get("page", 1)), MAX_PAGE))
    except ValueError:
        number = 1
    offset = (number - 1) * per_page
    rows = list(queryset[offset : offset + per_page + 1])
    return Window(rows[:per_page], number, per_page, len(rows) > per_page, total)
