"""The one pager: a page of a list, counted or not."""

import pytest
from django.test import RequestFactory

from portal.web.paging import MAX_PAGE, Window, page_number, window

ROWS = list(range(1, 121))  # 120 rows: pages of 50 are 50, 50 and 20


def get(page=None):
    return RequestFactory().get("/", {} if page is None else {"page": page})


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 1), ("", 1), ("2", 2), ("0", 1), ("-3", 1), ("two", 1), ("99999999", MAX_PAGE)]
)
def test_it_reads_any_page_parameter_as_a_page_number(value, expected):
    assert page_number(value) == expected


def test_it_pages_without_a_count_by_reading_one_row_more():
    first = window(ROWS, get(), 50)
    assert (first.items[0], len(first.items), first.has_next, first.has_previous) == (1, 50, True, False)
    assert first.num_pages is None
    last = window(ROWS, get(3), 50)
    assert (last.items, last.has_next, last.has_previous) == (ROWS[100:], False, True)
    assert (last.start_index, last.end_index, last.previous_page_number) == (101, 120, 2)


def test_it_is_empty_past_the_end_when_it_does_not_know_the_size():
    past = window(ROWS, get(9), 50)
    assert past.items == [] and not past.has_next and past.start_index == 0


def test_it_shows_the_last_page_past_the_end_when_it_knows_the_size():
    past = window(ROWS, get(9), 50, total=len(ROWS))
    assert (past.number, past.num_pages, past.items) == (3, 3, ROWS[100:])
    assert not past.has_next


def test_it_knows_whether_a_next_page_exists_from_the_size():
    middle = window(ROWS, get(2), 50, total=len(ROWS))
    assert (middle.items[0], middle.has_next, middle.next_page_number) == (51, True, 3)


def test_it_has_one_empty_page_for_an_empty_list():
    empty = window([], get(), 25, total=0)
    assert (empty.number, empty.num_pages, empty.items, empty.has_next) == (1, 1, [], False)


def test_its_page_counts_round_up():
    assert Window([], 1, 25, False, total=26).num_pages == 2
    assert Window([], 1, 25, False, total=25).num_pages == 1
