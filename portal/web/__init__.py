"""Shared web helpers every app may use: access rules, paging, dates, safe redirects, template tags.

This package imports no app of the project (tests/web/test_imports.py checks it), so `integrations`
and `connections` can both lean on it without leaning on each other.
"""
