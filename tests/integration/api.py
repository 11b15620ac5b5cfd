"""Small helpers for driving the backend's HTTP API from emulator tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.integration.emulator import EmulatorUser, bearer


@dataclass(frozen=True)
class Api:
    """The backend as one client sees it (a user's bearer token on every call)."""

    client: FlaskClient

    def call(
        self,
        method: str,
        path: str,
        user: EmulatorUser | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        all_headers = {**(bearer(user) if user else {}), **(headers or {})}
        return self.client.open(path, method=method, json=json, headers=all_headers)

    def create_project(self, owner: EmulatorUser, name: str = "Project") -> dict[str, Any]:
        response = self.call("POST", "/projects", owner, {"name": name, "description": "d"})
        assert response.status_code == 201, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body

    def share(self, owner: EmulatorUser, project_id: str, uid: str, role: str) -> dict[str, Any]:
        response = self.call("PUT", f"/projects/{project_id}/members/{uid}", owner, {"role": role})
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body

    def project_as(self, user: EmulatorUser, project_id: str) -> TestResponse:
        return self.call("GET", f"/projects/{project_id}", user)


def error_code(response: TestResponse) -> str | None:
    body = response.get_json(silent=True) or {}
    error = body.get("error") or {}
    code = error.get("code")
    return code if isinstance(code, str) else None
