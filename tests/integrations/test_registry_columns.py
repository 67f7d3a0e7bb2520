"""A data type declares its record browser's columns; a wrong declaration fails at import, not on a page."""

import pytest

from integrations import registry
from integrations.registry import OWED, Column, ColumnKind, DataType


def test_every_clear_books_data_type_declares_columns_that_fit_it():
    provider = registry.get("jhch")
    columns = {dt.name: [c.key for c in dt.columns] for dt in provider.data_types}
    assert columns["customers"] == columns["suppliers"] == ["name", "email", "balance"]
    assert columns["invoices"] == columns["bills"] == ["number", "date", "due", "status", "amount", "balance"]
    assert provider.data_type("invoices").sort == "-date"  # newest first
    assert provider.data_type("customers").sort == "name"
    assert provider.data_type("customers").documents == "invoices"
    assert provider.data_type("suppliers").documents == "bills"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Column("x", "X", "colour"), "unknown field"),
        (
            lambda: DataType("a", "A", "s", columns=(Column("n", "N", "name"), Column("n", "M", "number"))),
            "share a key",
        ),
        (lambda: DataType("a", "A", "s", default_sort="-date"), "not one of its columns"),
        (lambda: DataType("a", "A", "s", columns=(Column("b", "B", OWED, ColumnKind.MONEY),)), "documents"),
    ],
)
def test_it_refuses_a_column_declaration_that_cannot_work(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_column_of_a_field_as_received_names_it():
    assert Column("email", "E-mail", "attributes.email").attribute == "email"
    assert Column("name", "Name", "name").attribute == ""
