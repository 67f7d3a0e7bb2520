"""A connection's timeline: what happened to it, newest first, with the pulls folded.

What is read, in three queries whatever the history's length:

- its events other than pulls' (created, Link events, status changes, tests, notes, and what
  webhook endpoints were told: one entry per delivered or finally failed message, written by
  `connections.webhooks.told`, so they take their place in time order without this module
  knowing of webhooks);
- the integration's changes that reached it since it was created (switched on or off,
  settings and sync settings changed), from the audit trail;
- its pull operations, one entry each: the outcome, counts and duration, with the steps
  (queued, started, ended) in the entry's details. The writer records a queued, a started
  and an ended event per pull; they are grouped here, on the read side, by the pull.

On "All", a run of more than RUN_FOLD pulls with nothing else between them folds into one
entry ("24 pulls: 23 complete, 1 failed"), so a status change or a note is never pushed
behind "Show more" by pull noise: the page's limit counts the other entries, and a run
counts as one. A filter shows one kind (FILTERS); the pull and failure filters list pulls
one by one.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from integrations.models import AuditEvent

from .models import ACTIVE_PULL_STATUSES, FAILED_PULL_STATUSES, Connection, ConnectionEvent, PullOperation

K = ConnectionEvent.Kind
A = AuditEvent.Action
P = PullOperation.Status

# Integration-wide changes that reach every connection of the integration.
AFFECTING_ACTIONS = (A.ENABLED, A.DISABLED, A.SETTINGS_CHANGED, A.SYNC_SETTINGS_CHANGED)
LIMITS = (30, 100, 300, 1000)  # "show more" steps; the page never loads more than the last
PULLS_PER_ENTRY = 10  # pulls read per entry the page shows on "All": enough to fold many runs
RUN_FOLD = 3  # longer runs of pulls fold into one entry
RUN_LISTED = 50  # pulls a folded entry lists; the read history has the rest

PULL_KINDS = (K.PULL_QUEUED, K.PULL_STARTED, K.PULL_COMPLETED, K.PULL_FAILED)
GOOD_KINDS = {K.LINK_ACCEPTED, K.PULL_COMPLETED, K.WEBHOOK_DELIVERED}
BAD_KINDS = {K.LINK_REJECTED, K.LINK_UNREACHABLE, K.PULL_FAILED, K.WEBHOOK_FAILED}
WEBHOOK_KINDS = (K.WEBHOOK_DELIVERED, K.WEBHOOK_FAILED)  # written by connections.webhooks when a message ends

# (key, label, the event kinds it shows); "failures" shows whatever went wrong, "admin" the
# integration's changes and the company's own sync settings.
FILTERS = (
    ("", "All"),
    ("status", "Status changes"),
    ("link", "Link events"),
    ("pulls", "Pulls"),
    ("failures", "Failures"),
    ("notes", "Notes"),
    ("webhooks", "Webhooks"),
    ("admin", "Admin changes"),
)
FILTER_KINDS = {
    "status": (K.CREATED, K.STATUS_CHANGED, K.TEST),
    "link": (K.LINK_URL_ISSUED, K.LINK_ACCEPTED, K.LINK_REJECTED, K.LINK_UNREACHABLE),
    "pulls": PULL_KINDS,  # only those of pulls no longer kept; the others are read from the pulls
    "notes": (K.NOTE,),
    "webhooks": WEBHOOK_KINDS,
}
FAILED_EVENTS = (
    Q(kind__in=(K.LINK_REJECTED, K.LINK_UNREACHABLE, K.PULL_FAILED, K.WEBHOOK_FAILED))
    | Q(kind=K.STATUS_CHANGED, detail__to=Connection.Status.DEAUTHORIZED)
    | Q(kind=K.TEST, detail__result="rejected")
)


@dataclass
class TimelineEntry:
    at: datetime
    label: str
    message: str
    actor: str
    tone: str  # good, bad, info (the dot's colour)
    source: str  # "connection", "integration", "company" (its own sync settings) or "pull"
    pull_id: int | None = None
    order: int = 0  # tie-breaker within the same instant (newer rows first)
    pull: PullOperation | None = None  # the pull of a pull's entry (its steps are in the details)
    pulls: list = field(default_factory=list)  # a folded run: its pulls' entries, newest first
    more: int = 0  # a folded run: pulls not listed in it
    since: datetime | None = None  # a folded run: when its oldest pull happened
    webhook_event_id: str = ""  # a webhook's entry: the event whose delivery log it links to

    @property
    def is_pull(self) -> bool:
        return self.pull is not None

    @property
    def is_run(self) -> bool:
        return bool(self.pulls)


@dataclass
class Timeline:
    entries: list
    more: int | None  # the next "show more" limit, or None when everything is shown
    kind: str  # the filter shown ("" for all)
    filters: tuple = FILTERS
    older_pulls: bool = False  # "All" left out pulls older than the last one shown

    def __iter__(self):
        return iter(self.entries)

    def __len__(self):
        return len(self.entries)

    def __getitem__(self, index):
        return self.entries[index]


def next_limit(limit):
    """The next "show more" step, or None at the cap."""
    bigger = [step for step in LIMITS if step > limit]
    return bigger[0] if bigger else None


def clean_limit(value):
    try:
        value = int(value)
    except (TypeError, ValueError):
        return LIMITS[0]
    return value if value in LIMITS else LIMITS[0]


def clean_kind(value):
    return value if value in dict(FILTERS) else ""


def timeline(connection, limit=LIMITS[0], kind=""):
    """The entries of a connection's timeline, newest first, for one filter (`kind`, "" for all)."""
    kind = clean_kind(kind)
    story = _story(connection, kind, limit) if kind != "pulls" else []
    more = len(story) > limit
    story = story[:limit]
    pulls, older_pulls = [], False
    if kind in ("", "pulls", "failures"):
        # On "All", pulls older than the oldest entry shown belong to the next step of "show more".
        since = story[-1].at if (kind == "" and more) else None
        cap = limit * PULLS_PER_ENTRY if kind == "" else limit
        pulls, overflow = _pulls(connection, kind, cap, since)
        if kind == "":
            older_pulls = overflow
        else:
            more = more or overflow
    if kind == "":
        entries = _fold(_merge(story, pulls))
    else:
        entries = _merge(story, pulls)
        more = more or len(entries) > limit
        entries = entries[:limit]
    return Timeline(entries, next_limit(limit) if more else None, kind, older_pulls=older_pulls)


def _merge(*lists):
    entries = [entry for entries in lists for entry in entries]
    entries.sort(key=lambda entry: (entry.at, entry.order), reverse=True)
    return entries


#
# Events and integration changes
#


def _story(connection, kind, limit):
    """The newest `limit + 1` events and integration changes the filter shows, merged."""
    entries = []
    if kind in ("", "status", "link", "pulls", "failures", "notes", "webhooks"):
        events = connection.events.all()
        # Pull events are read from their pulls; only those of pulls no longer kept stand alone.
        events = events.exclude(kind__in=PULL_KINDS, pull__isnull=False)
        if kind == "failures":
            events = events.filter(FAILED_EVENTS)
        elif kind:
            events = events.filter(kind__in=FILTER_KINDS[kind])
        entries += [_event_entry(e) for e in events.order_by("-created_at", "-id")[: limit + 1]]
    if kind in ("", "admin", "failures"):
        affecting = Q(integration_id=connection.integration_id, action__in=AFFECTING_ACTIONS)
        if kind == "failures":
            affecting = Q(integration_id=connection.integration_id, action=A.DISABLED)
        else:  # its company's own sync settings affect it as the integration's do
            affecting |= Q(action=A.COMPANY_SYNC_SETTINGS_CHANGED, target_id=str(connection.company_id))
        audits = AuditEvent.objects.filter(affecting, created_at__gte=connection.created_at)
        audits = audits.select_related("integration").order_by("-created_at", "-id")[: limit + 1]
        entries += [_audit_entry(a) for a in audits]
    return _merge(entries)[: limit + 1]


def _tone(event):
    if event.kind in GOOD_KINDS:
        return "good"
    if event.kind in BAD_KINDS:
        return "bad"
    if event.kind == K.STATUS_CHANGED:
        to = event.detail.get("to")
        return "good" if to == Connection.Status.LINKED else "bad" if to == Connection.Status.DEAUTHORIZED else "info"
    if event.kind == K.TEST:
        return {"valid": "good", "rejected": "bad"}.get(event.detail.get("result"), "info")
    return "info"


def _event_entry(event):
    return TimelineEntry(
        event.created_at,
        event.get_kind_display(),
        event.message,
        event.actor_label or "system",
        _tone(event),
        "connection",
        event.pull_id,
        event.pk,
        webhook_event_id=event.detail.get("event_id", "") if event.kind in WEBHOOK_KINDS else "",
    )


def _change_text(change):
    return f"{change.get('field')}: {change.get('before')!s} → {change.get('after')!s}"


def _audit_message(audit):
    subject = audit.integration.name if audit.integration else audit.target or "The integration"
    text = f"{subject}: {audit.get_action_display().lower()}"
    changes = [_change_text(c) for c in audit.changes or [] if isinstance(c, dict)]
    if changes and audit.action not in (A.ENABLED, A.DISABLED):
        text += " (" + "; ".join(changes) + ")"
    return text + "."


def _audit_entry(audit):
    return TimelineEntry(
        audit.created_at,
        audit.get_action_display(),
        _audit_message(audit),
        audit.actor_name or "system",
        "bad" if audit.action == A.DISABLED else "info",
        "company" if audit.action == A.COMPANY_SYNC_SETTINGS_CHANGED else "integration",
        None,
        audit.pk,
    )


#
# Pulls: one entry each, runs folded
#


def _pulls(connection, kind, cap, since):
    """(entries of the newest `cap` pulls, whether there were more), failed ones only for "failures"."""
    pulls = connection.pulls.select_related("requested_by").order_by("-requested_at", "-id")
    if kind == "failures":
        pulls = pulls.filter(status__in=FAILED_PULL_STATUSES)
    if since is not None:  # an entry stands at its pull's last step: any step since then counts
        pulls = pulls.filter(Q(requested_at__gte=since) | Q(started_at__gte=since) | Q(finished_at__gte=since))
    found = list(pulls[: cap + 1])
    return [pull_entry(p) for p in found[:cap]], len(found) > cap


PULL_LABELS = {P.COMPLETE: "Pull completed", P.CANCELLED: "Pull cancelled", P.QUEUED: "Pull queued"}


def pull_entry(pull):
    """One pull as one entry: its outcome, counts and duration; the steps go in its details."""
    failed = pull.status in FAILED_PULL_STATUSES
    if pull.status == P.COMPLETE:
        message = (
            f"{pull.data_type}: {pull.records_fetched:,} fetched ({pull.records_created:,} created, "
            f"{pull.records_updated:,} updated, {pull.records_unchanged:,} unchanged, "
            f"{pull.records_deleted:,} marked deleted)"
        )
    elif pull.status == P.QUEUED:
        message = f"{pull.data_type}: waiting for a worker"
    elif pull.status in ACTIVE_PULL_STATUSES:
        message = f"{pull.data_type}: {pull.records_fetched:,} fetched so far"
    else:
        message = f"{pull.data_type}: {pull.status}" + (f" — {pull.error_message}" if pull.error_message else "")
    if pull.duration is not None and pull.status not in ACTIVE_PULL_STATUSES:
        message += f" in {_seconds(pull.duration)}"
    return TimelineEntry(
        pull.finished_at or pull.started_at or pull.requested_at,
        PULL_LABELS.get(pull.status, "Pull failed" if failed else "Pull running"),
        message + ".",
        pull.requested_by.get_username() if pull.requested_by else pull.get_trigger_display().lower(),
        "good" if pull.status == P.COMPLETE else "bad" if failed else "info",
        "pull",
        pull.pk,
        pull.pk,
        pull=pull,
    )


def _seconds(delta):
    seconds = delta.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _fold(entries):
    """Runs of more than RUN_FOLD pull entries in a row become one entry each."""
    out, run = [], []
    for entry in [*entries, None]:
        if entry is not None and entry.is_pull:
            run.append(entry)
            continue
        out += [_run_entry(run)] if len(run) > RUN_FOLD else run
        run = []
        if entry is not None:
            out.append(entry)
    return out


def _run_entry(run):
    pulls = [entry.pull for entry in run]
    counts = {
        "complete": sum(p.status == P.COMPLETE for p in pulls),
        "failed": sum(p.status in FAILED_PULL_STATUSES for p in pulls),
        "cancelled": sum(p.status == P.CANCELLED for p in pulls),
        "queued or running": sum(p.status in ACTIVE_PULL_STATUSES for p in pulls),
    }
    failed, others = counts["failed"], counts["cancelled"] + counts["queued or running"]
    parts = [f"{counts['complete']} complete"] + [f"{n} {what}" for what, n in list(counts.items())[1:] if n]
    fetched = sum(p.records_fetched for p in pulls)
    data_types = sorted({p.data_type for p in pulls})
    return TimelineEntry(
        run[0].at,
        f"{len(pulls)} pulls",
        f"{', '.join(parts)}; {fetched:,} records fetched, of {len(data_types)} data "
        f"type{'s' if len(data_types) != 1 else ''}.",
        ", ".join(sorted({entry.actor for entry in run})),
        "bad" if failed else "good" if not others else "info",
        "pull",
        None,
        run[0].order,
        pulls=run[:RUN_LISTED],
        more=max(0, len(run) - RUN_LISTED),
        since=run[-1].at,
    )
