"""portal.web is shared by every app, so it imports none: only Django, the standard library and itself."""

import ast
from pathlib import Path

import portal.web

WEB = Path(portal.web.__file__).parent
PROJECT_PACKAGES = {"portal", "integrations", "connections", "api", "tests", "benchmarks"}


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_it_imports_no_app_of_the_project():
    wrong = [
        f"{path.relative_to(WEB)}: {name}"
        for path in sorted(WEB.rglob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] in PROJECT_PACKAGES and not (name == "portal.web" or name.startswith("portal.web."))
    ]
    assert wrong == []
