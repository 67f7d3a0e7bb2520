"""The sync engine: pull operations (pulls, progress, outcomes), the record store, data statuses
and their staleness, queueing, schedules and their django-q2 tasks."""
