"""Outgoing webhooks: endpoints, the event outbox, signed delivery with retries, and the delivery log.

Its own app (label `webhooks`) inside `connections`: it listens to what `connections`
announces (`connections.signals`) and writes an event in the same transaction as the
change; django-q2 tasks deliver it from there.
"""
