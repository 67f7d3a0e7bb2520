"""The filters of the Companies page, the read history and the record browser (django-filter).

Every filter set is bound to the query string. A bad value is reported next to its field
in plain words and ignored; the other filters still apply (PageFilterSet). Each also
sorts: by the chosen key, else by its default.
"""

import uuid
from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from integrations import registry
from integrations.models import Integration
from integrations.registry import ColumnKind

from . import records
from .models import Connection, PullStatus

CHOOSE = {"invalid_choice": "Choose one of the listed values."}


class SortFilter(django_filters.ChoiceFilter):
    """Orders by one of `sorts` ({key: (field, label)}; '-field' is descending), by `default`
    when none or a bad one is chosen, then by `then` to break ties."""

    def __init__(self, *, sorts, default, then=("pk",), nulls_last=False, **kwargs):
        self.sorts, self.default, self.then, self.nulls_last = sorts, default, tuple(then), nulls_last
        kwargs.setdefault("error_messages", {"invalid_choice": "Choose one of the listed sort orders."})
        super().__init__(choices=[(key, label) for key, (_, label) in sorts.items()], empty_label=None, **kwargs)

    def set_sorts(self, sorts, default):
        """Sort by these instead (a filter set whose orders depend on what it lists)."""
        self.sorts, self.default = sorts, default
        self.extra["choices"] = [(key, label) for key, (_, label) in sorts.items()]

    def filter(self, qs, value):
        field = self.sorts.get(value or self.default, self.sorts[self.default])[0]
        order = field
        if self.nulls_last:  # rows without a value (never synced) go last, whichever the direction
            column = F(field.lstrip("-"))
            order = column.desc(nulls_last=True) if field.startswith("-") else column.asc(nulls_last=True)
        return qs.order_by(order, *self.then)


class CheckboxFilter(django_filters.Filter):
    """A yes/no box: unticked is no (not "either", as django-filter's BooleanFilter reads it)."""

    field_class = forms.BooleanField


class PageFilterSet(django_filters.FilterSet):
    """A page's filters: always bound (so defaults apply), bad values ignored, sorted by default."""

    def __init__(self, data, queryset, *, default_sort=None, **kwargs):
        super().__init__(data if data is not None else {}, queryset, **kwargs)
        self.data = self.data.copy()
        for name, filter_ in self.filters.items():
            if isinstance(filter_, SortFilter):
                filter_.default = default_sort or filter_.default
                if not self.data.get(name):
                    self.data[name] = filter_.default  # the select shows the order the page is in

    def filter_queryset(self, queryset):
        self.form.is_valid()  # keeps the valid fields' values in cleaned_data, reports the others
        values = self.form.cleaned_data
        for name, filter_ in self.filters.items():
            queryset = filter_.filter(queryset, values.get(name))
        return queryset

    def value(self, name):
        """A field's cleaned value, or None when it was missing or invalid."""
        self.form.is_valid()
        return self.form.cleaned_data.get(name)

    @property
    def filtered(self) -> bool:
        """Whether a filter (not a sort order) narrows the list."""
        return any(self.value(name) for name, f in self.filters.items() if not isinstance(f, SortFilter))


def _integration_choices():
    return [(integration.key, integration.name) for integration in Integration.objects.all()]


#
# Companies
#

S = Connection.Status

COMPANY_SORTS = {
    "name": ("name", "Name (A–Z)"),
    "-name": ("-name", "Name (Z–A)"),
    "-created": ("-created_at", "Newest first"),
    "created": ("created_at", "Oldest first"),
    "-last_sync": ("-last_synced_at", "Last sync (recent first)"),
    "last_sync": ("last_synced_at", "Last sync (oldest first)"),
}


class CompanyFilterSet(PageFilterSet):
    q = django_filters.CharFilter(
        label="Search",
        method="search",
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or id"}),
        error_messages={"max_length": "Search with at most 200 characters."},
    )
    status = django_filters.ChoiceFilter(
        label="Connection status",
        choices=S.choices,
        empty_label="Any status",
        method="with_connection",
        error_messages=CHOOSE,
    )
    integration = django_filters.ChoiceFilter(
        label="Integration", empty_label="Any integration", method="with_connection", error_messages=CHOOSE
    )
    sort = SortFilter(label="Sort by", sorts=COMPANY_SORTS, default="name", then=("name", "pk"), nulls_last=True)

    def __init__(self, data, queryset, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.filters["integration"].extra["choices"] = _integration_choices()

    def search(self, companies, name, text):
        match = Q(name__icontains=text)
        try:
            ident = uuid.UUID(text)
        except ValueError:
            return companies.filter(match)
        # Support pastes company ids and connection ids alike.
        return companies.filter(
            match | Q(pk=ident) | Q(Exists(Connection.objects.filter(company=OuterRef("pk"), pk=ident)))
        )

    def with_connection(self, companies, name, value):
        """Companies with a connection of this status, or to this integration (by its key)."""
        lookup = {"status": "status", "integration": "integration__key"}[name]
        return companies.filter(Exists(Connection.objects.filter(company=OuterRef("pk"), **{lookup: value})))


#
# Read history
#


def _data_type_choices():
    seen = {}
    for provider in registry.all_providers():
        for dt in provider.data_types:
            seen.setdefault(dt.name, dt.label)
    return sorted(seen.items(), key=lambda item: item[1])


class DateRangeForm(forms.Form):
    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", "The end date must be on or after the start date.")
        return data


def _day_start(day):
    """Midnight at the start of `day` in the viewer's time zone."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


class PullFilterSet(PageFilterSet):
    status = django_filters.ChoiceFilter(
        label="Status", choices=PullStatus.choices, empty_label="Any status", error_messages=CHOOSE
    )
    data_type = django_filters.ChoiceFilter(label="Data type", empty_label="Any data type", error_messages=CHOOSE)
    integration = django_filters.ChoiceFilter(
        label="Integration", empty_label="Any integration", method="of_integration", error_messages=CHOOSE
    )
    since = django_filters.DateFilter(
        label="From",
        method="requested_from",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2025-03-03."},
    )
    until = django_filters.DateFilter(
        label="To",
        method="requested_until",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2025-03-31."},
    )

    class Meta:
        form = DateRangeForm

    def __init__(self, data, queryset, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.filters["data_type"].extra["choices"] = _data_type_choices()
        self.filters["integration"].extra["choices"] = _integration_choices()

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset).order_by("-requested_at", "-id")

    def of_integration(self, pulls, name, key):
        # Checked per pull while walking the history newest first (stops at a page's worth)
        # instead of gathering every pull of the integration's connections and sorting them.
        return pulls.filter(Exists(Connection.objects.filter(pk=OuterRef("connection_id"), integration__key=key)))

    def requested_from(self, pulls, name, day):
        return pulls.filter(requested_at__gte=_day_start(day))

    def requested_until(self, pulls, name, day):
        return pulls.filter(requested_at__lt=_day_start(day + timedelta(days=1)))


#
# Record browser
#

# How each kind of column is sorted: (ascending words, descending words, first click descending).
SORT_WORDS = {
    ColumnKind.DATE: ("oldest first", "newest first", True),
    ColumnKind.MONEY: ("smallest first", "largest first", True),
}
TEXT_WORDS = ("A to Z", "Z to A", False)


def record_sorts(columns):
    """{sort key: (alias to order by, label)}: every column, both ways (see records.with_columns)."""
    sorts = {}
    for column in columns:
        up, down, _ = SORT_WORDS.get(column.kind, TEXT_WORDS)
        sorts[column.key] = (records.sort_key(column), f"{column.label}, {up}")
        sorts[f"-{column.key}"] = (f"-{records.sort_key(column)}", f"{column.label}, {down}")
    return sorts


class RecordFilterSet(PageFilterSet):
    """The records of one data type, searched, sorted on any of its columns (registry.DataType.columns)."""

    q = django_filters.CharFilter(
        label="Search", method="search", max_length=100, help_text="Number, name, e-mail or remote id."
    )
    sort = SortFilter(label="Sort", sorts=record_sorts(registry.DEFAULT_COLUMNS), default="number", nulls_last=True)
    deleted = CheckboxFilter(label="Show deleted records", method="with_deleted")

    def __init__(self, data, queryset, *, data_type=None, default_sort=None, **kwargs):
        self.data_type = data_type or registry.DataType("records", "Records", "")
        default_sort = default_sort or self.data_type.sort
        super().__init__(data, records.with_columns(queryset, self.data_type), default_sort=default_sort, **kwargs)
        self.filters["sort"].set_sorts(record_sorts(self.data_type.columns), default_sort)

    def search(self, queryset, name, text):
        return records.search(queryset, self.data_type, text)

    def with_deleted(self, queryset, name, shown):
        return queryset if shown else queryset.filter(is_deleted=False)

    @property
    def sort_key(self):
        return self.value("sort") or self.filters["sort"].default

    def header_sorts(self):
        """{column key: the sort its header link asks for}: its first order (dates and amounts
        newest or largest first, text A to Z), or the other way when the list is in it."""
        sort = self.sort_key
        out = {}
        for column in self.data_type.columns:
            first = f"-{column.key}" if SORT_WORDS.get(column.kind, TEXT_WORDS)[2] else column.key
            other = first[1:] if first.startswith("-") else f"-{first}"
            out[column.key] = other if sort == first else first
        return out

    def headers(self):
        """[(column, the sort its link asks for, aria-sort or "")] for the table's head."""
        sort, next_sorts = self.sort_key, self.header_sorts()
        direction = {c.key: "ascending" for c in self.data_type.columns if sort == c.key}
        direction.update({c.key: "descending" for c in self.data_type.columns if sort == f"-{c.key}"})
        return [(c, next_sorts[c.key], direction.get(c.key, "")) for c in self.data_type.columns]
