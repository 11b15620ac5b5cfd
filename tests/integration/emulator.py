"""Typed REST clients for the Firebase Auth and Firestore emulators (tests only).

They drive the emulators the way a client app or an admin would, without going
through the backend under test: create users and tokens, set claims, read what the
backend stored, and wipe state between tests. ``Authorization: Bearer owner`` is the
emulators' admin credential: it bypasses security rules and allows admin-only calls.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import pytest
import requests

__all__ = [
    "AuthEmulator",
    "EmulatorError",
    "EmulatorUser",
    "FirestoreEmulator",
    "MakeUser",
    "bearer",
    "decode_fields",
    "encode_fields",
    "stop_unless_emulators",
    "token_claims",
]

#: Seconds for every emulator call; they answer in milliseconds when healthy.
TIMEOUT_SECONDS = 10.0
#: The Auth emulator accepts any API key.
API_KEY = "fake-api-key"
OWNER_HEADERS = {"Authorization": "Bearer owner"}


class EmulatorError(RuntimeError):
    """An emulator answered with a non-2xx status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url}: expected 2xx, got {status}: {body[:500]}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class EmulatorUser:
    """A signed-in Auth emulator user with its current tokens (``email`` and
    ``password`` are empty for sign-ins without them: phone, anonymous)."""

    uid: str
    #: ``""`` for accounts without one (anonymous, phone; federated without an email).
    email: str
    #: ``""`` for accounts that do not sign in with a password.
    password: str
    id_token: str
    refresh_token: str


class MakeUser(Protocol):
    """Type of the ``make_user`` fixture."""

    def __call__(
        self, *, roles: list[str] | None = None, verified: bool = True, email: str | None = None
    ) -> EmulatorUser: ...


def bearer(user: EmulatorUser) -> dict[str, str]:
    """The ``Authorization`` header that presents ``user``'s ID token."""
    return {"Authorization": f"Bearer {user.id_token}"}


def token_claims(id_token: str) -> dict[str, Any]:
    """The payload of a JWT, not verified (emulator tokens are unsigned anyway)."""
    payload = id_token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _call(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    response = session.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
    if not response.ok:
        raise EmulatorError(method, url, response.status_code, response.text)
    return response


class AuthEmulator:
    """Client of the Auth emulator's Identity Toolkit, Secure Token and emulator APIs."""

    def __init__(self, host: str, project_id: str) -> None:
        self.base_url = f"http://{host}"
        self.project_id = project_id
        self._session = requests.Session()

    def sign_up(self, email: str, password: str) -> EmulatorUser:
        """Create an email/password user and sign it in."""
        return self._password_call("accounts:signUp", email, password)

    def sign_in(self, email: str, password: str) -> EmulatorUser:
        """Sign in; the new ID token carries the user's current claims."""
        return self._password_call("accounts:signInWithPassword", email, password)

    def sign_up_anonymously(self) -> EmulatorUser:
        """Create an anonymous user (``firebase.sign_in_provider == "anonymous"``)."""
        data = self._client_call("accounts:signUp", {"returnSecureToken": True})
        return _user_of(data)

    def sign_in_with_phone(self, phone_number: str) -> EmulatorUser:
        """Sign in with a phone number, as a client app does: send a code, read it
        from the emulator's list of sent codes, and confirm it.

        Args:
            phone_number: E.164 (``+15555550100``); a new number creates a user.
        """
        sent = self._client_call(
            "accounts:sendVerificationCode",
            {"phoneNumber": phone_number, "recaptchaToken": "emulator"},
        )
        session_info = sent["sessionInfo"]
        codes = _call(
            self._session,
            "GET",
            f"{self.base_url}/emulator/v1/projects/{self.project_id}/verificationCodes",
        ).json()
        code = next(
            (
                entry["code"]
                for entry in codes.get("verificationCodes", [])
                if entry.get("sessionInfo") == session_info
            ),
            None,
        )
        if code is None:
            raise LookupError(f"expected a verification code for {phone_number}, found none")
        data = self._client_call(
            "accounts:signInWithPhoneNumber", {"sessionInfo": session_info, "code": code}
        )
        return _user_of(data)

    def sign_in_with_idp(
        self,
        provider_id: str,
        *,
        subject: str,
        email: str | None = None,
        email_verified: bool = False,
    ) -> EmulatorUser:
        """Sign in with a federated provider (``google.com``, ``apple.com``,
        ``oidc.<name>``, ``saml.<name>``) through the emulator's fake IdP response.

        Args:
            provider_id: the provider; it becomes ``firebase.sign_in_provider``.
            subject: the user's id at the provider (same subject, same user).
            email: the email the provider asserts, if any.
            email_verified: whether the provider asserts that it verified ``email``.
        """
        id_token: dict[str, Any] = {"sub": subject, "email_verified": email_verified}
        if email is not None:
            id_token["email"] = email
        post_body = urlencode({"id_token": json.dumps(id_token), "providerId": provider_id})
        data = self._client_call(
            "accounts:signInWithIdp",
            {"requestUri": "http://localhost", "returnSecureToken": True, "postBody": post_body},
        )
        return _user_of(data)

    def refresh(self, user: EmulatorUser) -> EmulatorUser:
        """Exchange the refresh token for a new ID token, as client SDKs do."""
        data = _call(
            self._session,
            "POST",
            f"{self.base_url}/securetoken.googleapis.com/v1/token?key={API_KEY}",
            data={"grant_type": "refresh_token", "refresh_token": user.refresh_token},
        ).json()
        return replace(user, id_token=data["id_token"], refresh_token=data["refresh_token"])

    def set_custom_claims(self, uid: str, claims: dict[str, Any]) -> None:
        """Replace the user's custom claims (visible in tokens minted afterwards)."""
        self._update(uid, customAttributes=json.dumps(claims))

    def set_email_verified(self, uid: str, verified: bool) -> None:
        """Set ``email_verified`` (visible in tokens minted afterwards)."""
        self._update(uid, emailVerified=verified)

    def set_email(self, uid: str, email: str, *, verified: bool) -> None:
        """Give the account an email (verified or not), as an admin can; a guest keeps
        signing in as ``anonymous`` and its refreshed tokens carry the email."""
        self._update(uid, email=email, emailVerified=verified)

    def disable(self, uid: str, disabled: bool = True) -> None:
        """Disable (or re-enable) the account."""
        self._update(uid, disableUser=disabled)

    def get_user(self, uid: str) -> dict[str, Any]:
        """The raw account record (``customAttributes`` is a JSON string)."""
        data = _call(
            self._session,
            "POST",
            f"{self._project_url}/accounts:lookup",
            json={"localId": [uid]},
            headers=OWNER_HEADERS,
        ).json()
        users: list[dict[str, Any]] = data.get("users", [])
        if not users:
            raise LookupError(f"expected an Auth emulator user with uid {uid!r}, found none")
        return users[0]

    # --- other sign-in kinds (see /work/shared/notes/emulators.md) ---------------------

    def set_mfa(self, enabled: bool) -> None:
        """Enable (SMS second factors) or disable multi-factor sign-in for the project."""
        config = (
            {"state": "ENABLED", "enabledProviders": ["PHONE_SMS"]}
            if enabled
            else {"state": "DISABLED", "enabledProviders": []}
        )
        _call(
            self._session,
            "PATCH",
            f"{self.base_url}/identitytoolkit.googleapis.com/v2/projects/{self.project_id}"
            "/config?updateMask=mfa",
            json={"mfa": config},
            headers=OWNER_HEADERS,
        )

    def enrol_phone_factor(self, uid: str, phone_number: str, enrollment_id: str = "enr1") -> None:
        """Enrol ``phone_number`` as ``uid``'s second factor (as an admin would)."""
        self._update(
            uid,
            mfa={
                "enrollments": [
                    {
                        "phoneInfo": phone_number,
                        "displayName": "phone",
                        "mfaEnrollmentId": enrollment_id,
                    }
                ]
            },
        )

    def sign_in_with_second_factor(
        self, email: str, password: str, enrollment_id: str = "enr1"
    ) -> EmulatorUser:
        """Password, then the SMS code of the enrolled phone factor: the ID token carries
        ``firebase.sign_in_second_factor: phone``."""
        first = self._identity_toolkit(
            "accounts:signInWithPassword",
            email=email,
            password=password,
            returnSecureToken=True,
        )
        pending = first.get("mfaPendingCredential")
        if not pending:
            raise AssertionError(f"expected a second-factor challenge, got {sorted(first)}")
        started = self._identity_toolkit(
            "accounts/mfaSignIn:start",
            version="v2",
            mfaPendingCredential=pending,
            mfaEnrollmentId=enrollment_id,
            phoneSignInInfo={"recaptchaToken": "x"},
        )
        session_info = started["phoneResponseInfo"]["sessionInfo"]
        finished = self._identity_toolkit(
            "accounts/mfaSignIn:finalize",
            version="v2",
            mfaPendingCredential=pending,
            phoneVerificationInfo={
                "sessionInfo": session_info,
                "code": self.verification_code(session_info),
            },
        )
        return self._signed_in(finished, email=email, password=password)

    def verification_code(self, session_info: str) -> str:
        """The SMS code the emulator "sent" for ``session_info``."""
        data = _call(
            self._session,
            "GET",
            f"{self.base_url}/emulator/v1/projects/{self.project_id}/verificationCodes",
        ).json()
        for entry in data.get("verificationCodes", []):
            if entry.get("sessionInfo") == session_info:
                return str(entry["code"])
        raise LookupError(f"expected a verification code for session {session_info[:12]}…")

    def wipe(self) -> None:
        """Delete every user of the project."""
        _call(
            self._session,
            "DELETE",
            f"{self.base_url}/emulator/v1/projects/{self.project_id}/accounts",
        )

    @property
    def _project_url(self) -> str:
        return f"{self.base_url}/identitytoolkit.googleapis.com/v1/projects/{self.project_id}"

    def _update(self, uid: str, **fields: Any) -> None:
        _call(
            self._session,
            "POST",
            f"{self._project_url}/accounts:update",
            json={"localId": uid, **fields},
            headers=OWNER_HEADERS,
        )

    def _client_call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """A client SDK's call (API key, no admin credential)."""
        data: dict[str, Any] = _call(
            self._session,
            "POST",
            f"{self.base_url}/identitytoolkit.googleapis.com/v1/{endpoint}?key={API_KEY}",
            json=body,
        ).json()
        return data

    def _identity_toolkit(self, endpoint: str, version: str = "v1", **body: Any) -> dict[str, Any]:
        data: dict[str, Any] = _call(
            self._session,
            "POST",
            f"{self.base_url}/identitytoolkit.googleapis.com/{version}/{endpoint}?key={API_KEY}",
            json=body,
        ).json()
        return data

    def _signed_in(self, data: dict[str, Any], email: str = "", password: str = "") -> EmulatorUser:
        id_token = data["idToken"]
        return EmulatorUser(
            uid=token_claims(id_token)["sub"],
            email=email,
            password=password,
            id_token=id_token,
            refresh_token=data["refreshToken"],
        )

    def _password_call(self, endpoint: str, email: str, password: str) -> EmulatorUser:
        data = _call(
            self._session,
            "POST",
            f"{self.base_url}/identitytoolkit.googleapis.com/v1/{endpoint}?key={API_KEY}",
            json={"email": email, "password": password, "returnSecureToken": True},
        ).json()
        return EmulatorUser(
            uid=data["localId"],
            email=email,
            password=password,
            id_token=data["idToken"],
            refresh_token=data["refreshToken"],
        )


def _user_of(data: dict[str, Any]) -> EmulatorUser:
    """The user of a sign-in answer that involves no password."""
    return EmulatorUser(
        uid=data["localId"],
        email=data.get("email") or "",
        password="",
        id_token=data["idToken"],
        refresh_token=data["refreshToken"],
    )


@dataclass(frozen=True)
class TenantUsers:
    """Users of the Auth emulator's tenants (its REST API, as client SDKs and the Admin
    SDK call it)."""

    auth: AuthEmulator
    #: The password of every user made here.
    password: str = "tenant-password-1"

    def create_tenant(self) -> str:
        response = requests.post(
            f"{self._toolkit}/v2/projects/{self.auth.project_id}/tenants",
            json={"displayName": "Tenant", "allowPasswordSignup": True},
            headers=OWNER_HEADERS,
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["tenantId"])

    def make(self, tenant: str, *, roles: list[str] | None = None) -> EmulatorUser:
        """A verified password user of ``tenant``, signed in (with ``roles`` if given)."""
        email = f"user-{uuid.uuid4().hex[:12]}@example.com"
        created = self._client_call("accounts:signUp", tenant, email)
        attributes: dict[str, Any] = {"emailVerified": True}
        if roles is not None:
            attributes["customAttributes"] = json.dumps({"roles": roles})
        self.update(tenant, created["localId"], **attributes)
        return self.sign_in(tenant, email)

    def sign_in(self, tenant: str, email: str) -> EmulatorUser:
        data = self._client_call("accounts:signInWithPassword", tenant, email)
        return EmulatorUser(
            uid=data["localId"],
            email=email,
            password=self.password,
            id_token=data["idToken"],
            refresh_token=data["refreshToken"],
        )

    def update(self, tenant: str, uid: str, **fields: Any) -> None:
        response = requests.post(
            f"{self._tenant_url(tenant)}/accounts:update",
            json={"localId": uid, **fields},
            headers=OWNER_HEADERS,
            timeout=10,
        )
        response.raise_for_status()

    def get(self, tenant: str, uid: str) -> dict[str, Any]:
        response = requests.post(
            f"{self._tenant_url(tenant)}/accounts:lookup",
            json={"localId": [uid]},
            headers=OWNER_HEADERS,
            timeout=10,
        )
        response.raise_for_status()
        users: list[dict[str, Any]] = response.json()["users"]
        return users[0]

    def roles(self, tenant: str, uid: str) -> Any:
        return json.loads(self.get(tenant, uid).get("customAttributes") or "{}").get("roles")

    @property
    def _toolkit(self) -> str:
        return f"{self.auth.base_url}/identitytoolkit.googleapis.com"

    def _tenant_url(self, tenant: str) -> str:
        return f"{self._toolkit}/v1/projects/{self.auth.project_id}/tenants/{tenant}"

    def _client_call(self, endpoint: str, tenant: str, email: str) -> dict[str, Any]:
        response = requests.post(
            f"{self._toolkit}/v1/{endpoint}?key={API_KEY}",
            json={
                "email": email,
                "password": self.password,
                "returnSecureToken": True,
                "tenantId": tenant,
            },
            timeout=10,
        )
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


class FirestoreEmulator:
    """Client of the Firestore emulator's REST API, as admin by default.

    Paths are relative to the database's ``documents`` root, e.g. ``projects/p1``.
    Pass ``token=user.id_token`` to :meth:`request` to be subject to security rules.
    """

    def __init__(self, host: str, project_id: str) -> None:
        self.base_url = f"http://{host}"
        self.project_id = project_id
        self.documents_url = (
            f"{self.base_url}/v1/projects/{project_id}/databases/(default)/documents"
        )
        self._session = requests.Session()

    def request(
        self, method: str, path: str, *, token: str = "owner", **kwargs: Any
    ) -> requests.Response:
        """Raw REST call below ``documents/``; raises EmulatorError on non-2xx."""
        url = f"{self.documents_url}/{path}" if path else self.documents_url
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return _call(self._session, method, url, headers=headers, **kwargs)

    def get_document(self, path: str) -> dict[str, Any] | None:
        """The document's fields as plain Python values, or None if it does not exist."""
        try:
            document = self.request("GET", path).json()
        except EmulatorError as error:
            if error.status == 404:
                return None
            raise
        return decode_fields(document.get("fields", {}))

    def set_document(self, path: str, data: dict[str, Any]) -> None:
        """Create or overwrite the document with plain Python values."""
        self.request("PATCH", path, json={"fields": encode_fields(data)})

    def list_documents(self, collection: str) -> dict[str, dict[str, Any]]:
        """Every document of a collection as ``{id: fields}`` (first 300 only)."""
        body = self.request("GET", collection, params={"pageSize": 300}).json()
        return {
            doc["name"].rsplit("/", 1)[1]: decode_fields(doc.get("fields", {}))
            for doc in body.get("documents", [])
        }

    def wipe(self) -> None:
        """Delete every document of the project's default database."""
        _call(
            self._session,
            "DELETE",
            f"{self.base_url}/emulator/v1/projects/{self.project_id}/databases/(default)/documents",
        )


def encode_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Plain Python values to Firestore REST ``Value`` objects."""
    return {key: _encode(value) for key, value in data.items()}


def decode_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Firestore REST ``Value`` objects to plain Python values (timestamps as datetime)."""
    return {key: _decode(value) for key, value in fields.items()}


def _encode(value: Any) -> dict[str, Any]:
    # bool before int: bool is a subclass of int.
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, datetime):
        return {"timestampValue": value.isoformat()}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_encode(v) for v in value]}}
    if isinstance(value, dict):
        return {"mapValue": {"fields": encode_fields(value)}}
    raise TypeError(f"expected a JSON-like value or datetime, got {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    ((kind, raw),) = value.items()
    if kind == "integerValue":
        return int(raw)
    if kind == "timestampValue":
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if kind == "arrayValue":
        return [_decode(v) for v in raw.get("values", [])]
    if kind == "mapValue":
        return decode_fields(raw.get("fields", {}))
    # nullValue, booleanValue, doubleValue, stringValue, referenceValue, bytesValue (base64).
    return raw


def stop_unless_emulators(items: list[Any], tier: Path, what: str, how: str) -> None:
    """Stop the run (never skip) when tests of ``tier`` are collected without emulators.

    Args:
        items: the collected pytest items.
        tier: the directory of the tier's tests.
        what: the tier, for the message ("integration tests").
        how: how to run it instead.
    """
    missing = [
        name
        for name in ("FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST")
        if not os.environ.get(name)
    ]
    if missing and any(tier in item.path.parents for item in items):
        pytest.exit(
            f"the {what} need the Firebase emulators, but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set. {how}",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
