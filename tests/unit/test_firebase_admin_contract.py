"""What this backend takes from firebase-admin without importing its private modules.

``auth.keys`` fetches the ID-token certificates itself (parsed once, cached by
max-age); it copies two values that firebase-admin keeps in private modules. An
upgrade that changes either fails here, loudly, instead of silently diverging.
"""

from __future__ import annotations

from firebase_admin import _http_client, _token_gen

from auth import keys


def test_the_certificate_url_is_firebase_admins() -> None:
    assert keys.ID_TOKEN_CERT_URI == _token_gen.ID_TOKEN_CERT_URI


def test_the_default_timeout_is_firebase_admins() -> None:
    assert keys.DEFAULT_HTTP_TIMEOUT_SECONDS == _http_client.DEFAULT_TIMEOUT_SECONDS


def test_no_runtime_module_imports_a_private_firebase_admin_module() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    runtime = [root / "main.py", root / "app.py"]
    for package in ("auth", "core", "handlers", "services", "store", "tools"):
        runtime += sorted((root / package).rglob("*.py"))
    for path in runtime:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "firebase_admin":
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{path.relative_to(root)} imports {private}"
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("firebase_admin._"), path
