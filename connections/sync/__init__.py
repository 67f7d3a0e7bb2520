"""The sync engine: pull operations, the record store, queueing, schedules and their django-q2 tasks."""
