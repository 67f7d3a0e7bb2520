"""One direction of dependency: `connections` uses `integrations`, never the reverse; no import cycles;
the connections migrations import no application code (what an old migration does must not change
with the app)."""

import ast
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
APPS = ("connections", "integrations")


def modules():
    """{dotted name: path} of every module of the apps."""
    found = {}
    for app in APPS:
        for path in (BASE_DIR / app).rglob("*.py"):
            parts = path.relative_to(BASE_DIR).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name, path):
    """The dotted names a module imports, wherever in it (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_integrations_never_imports_connections():
    offenders = {
        name: sorted(i for i in imports(name, path) if i.split(".")[0] == "connections")
        for name, path in modules().items()
        if name.startswith("integrations")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_apps_modules_import_each_other_without_cycles():
    """Imports inside functions count too: a cycle dodged by importing late is still a cycle.
    The apps' `ready()` (apps.py) is the wiring, where Django wants imports made late."""
    known = modules()
    # A module's own packages are imported before it, whatever it imports from them: not a cycle.
    graph = {
        name: {i for i in imports(name, path) if i in known and not f"{name}.".startswith(f"{i}.")}
        for name, path in known.items()
        if not name.endswith(".apps")
    }
    done, path = set(), []

    def visit(name):
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        path.append(name)
        for other in sorted(graph.get(name, ())):
            visit(other)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_the_connections_migrations_import_no_application_code():
    for name, path in modules().items():
        if not name.startswith("connections.migrations."):
            continue
        foreign = {i for i in imports(name, path) if i.split(".")[0] in APPS and ".migrations." not in f"{i}."}
        assert not foreign, f"{name} imports {sorted(foreign)}"
