"""Rows with one writer: data statuses change only in connections.sync.data_status, audit events
are written only by integrations.audit.record. Any other module's write through the model's
manager (update, create, save…) fails here."""

import ast
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
WRITES = {"update", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update", "delete", "save"}
WRITERS = {"DataStatus": "connections/sync/data_status.py", "AuditEvent": "integrations/audit.py"}


def app_modules():
    for app in ("connections", "integrations", "portal"):
        for path in (BASE_DIR / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def names_in(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def writes(path):
    """(model, line) of every manager write on a model named in WRITERS."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            for model in names_in(node.func.value) & set(WRITERS):
                yield model, node.lineno


@pytest.mark.parametrize("model", sorted(WRITERS))
def test_only_its_writer_writes(model):
    found = [
        f"{path.relative_to(BASE_DIR)}:{line}"
        for path in app_modules()
        for name, line in writes(path)
        if name == model and path.relative_to(BASE_DIR).as_posix() != WRITERS[model]
    ]
    assert found == []


def test_the_writers_write():
    for model, writer in WRITERS.items():
        assert model in {name for name, _ in writes(BASE_DIR / writer)}
