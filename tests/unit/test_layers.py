"""The layers keep to their places: ``auth`` is a facade (everything else imports its
public API, never its modules), and it knows nothing of HTTP frameworks or routes."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import auth

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The code outside ``auth`` (tests and benchmarks time or test its modules themselves).
OUTSIDE_AUTH = ["app.py", "main.py", "core", "handlers", "services", "store", "tools"]


def python_files(*names: str) -> Iterator[Path]:
    for name in names:
        path = REPO_ROOT / name
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names) of every ``import`` and ``from ... import`` in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [alias.name for alias in node.names]


@pytest.mark.parametrize(
    "path", list(python_files(*OUTSIDE_AUTH)), ids=lambda p: str(p.relative_to(REPO_ROOT))
)
def test_only_the_auth_facade_is_imported(path: Path) -> None:
    for module, names in imports(path):
        where = f"{path.relative_to(REPO_ROOT)} imports {module}"
        assert not module.startswith("auth."), f"{where}: import from auth's __all__"
        if module == "auth":
            unknown = set(names) - set(auth.__all__)
            assert not unknown, f"{where}: {sorted(unknown)} are not in auth.__all__"


@pytest.mark.parametrize(
    "path", list(python_files("auth")), ids=lambda p: str(p.relative_to(REPO_ROOT))
)
def test_auth_knows_no_http_framework_nor_route(path: Path) -> None:
    for module, _ in imports(path):
        top = module.split(".")[0]
        assert top not in {"flask", "werkzeug", "flask_cors", "functions_framework"}, module
        assert top not in {"handlers", "services", "store", "app", "main"}, module
