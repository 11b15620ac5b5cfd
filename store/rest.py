"""Firestore over its REST API, with the HTTP stack firebase-admin already loads.

The revocation check of every function reads the user's recorded sign-outs
(``store.sign_outs``) on a cache miss. Through ``google.cloud.firestore`` that read
would import grpc and the Firestore client (about 240 modules) into functions that
otherwise never touch Firestore (``me``), more than doubling their cold start. The
same read over REST (``requests`` and google-auth's ``AuthorizedSession``, both loaded
by firebase-admin) imports nothing new.

Only what the sign-out records need: get one document, run one query, commit writes.
Every call ends within ``FIRESTORE_TIMEOUT_SECONDS`` (connect, and then the reply) and
is made once; any failure to get an answer (network, timeout, 5xx, 429, refused
credentials, a reply that is not Firestore's) is ``Unavailable``, so callers fail
closed. With ``FIRESTORE_EMULATOR_HOST`` set it talks plain HTTP to the emulator as
its owner (``Authorization: Bearer owner``), as the client library does.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from google.auth import exceptions as auth_exceptions

from core.errors import Unavailable

if TYPE_CHECKING:
    import requests

logger = logging.getLogger(__name__)

#: The OAuth scope of Firestore (what the client library asks google-auth for).
SCOPE: Final = "https://www.googleapis.com/auth/datastore"
PRODUCTION_ROOT: Final = "https://firestore.googleapis.com/v1"
EMULATOR_HOST_VARIABLE: Final = "FIRESTORE_EMULATOR_HOST"

#: A field value as Firestore's REST API spells it (``{"integerValue": "1"}`` ...).
Value = dict[str, Any]
#: A document's fields, decoded: str, int, bool, float, datetime or None.
Fields = dict[str, Any]


class Conflict(Exception):
    """A commit's precondition failed: the document exists (``exists: false``) or does
    not (``exists: true``). Nothing of the commit was applied."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        #: Firestore's status: ``ALREADY_EXISTS``, ``NOT_FOUND`` or ``FAILED_PRECONDITION``.
        self.status = status


class FirestoreRest:
    """Documents of one project's ``(default)`` database, over HTTPS (thread-safe)."""

    def __init__(
        self,
        project_id: str,
        *,
        timeout_seconds: float,
        emulator_host: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        """
        Args:
            timeout_seconds: each call's connect and read timeout (``requests``).
            emulator_host: ``host:port`` of the Firestore emulator (default: the
                ``FIRESTORE_EMULATOR_HOST`` variable; unset: Firestore itself).
            session: the HTTP session to use as it is (tests); by default one is made on
                first use (google-auth's ``AuthorizedSession`` with the default
                credentials, or a plain one for the emulator).
        """
        self.project_id = project_id
        self.timeout_seconds = timeout_seconds
        host = (
            emulator_host if emulator_host is not None else os.environ.get(EMULATOR_HOST_VARIABLE)
        )
        self.emulator_host = host or None
        root = f"http://{self.emulator_host}/v1" if self.emulator_host else PRODUCTION_ROOT
        self._documents = (
            f"{root}/projects/{quote(project_id, safe='')}/databases/(default)/documents"
        )
        #: The ``name`` prefix of this database's documents in requests and replies.
        self.database = f"projects/{project_id}/databases/(default)/documents"
        self._session = session
        self._lock = threading.Lock()

    def name(self, path: str) -> str:
        """The full resource name of the document at ``path``."""
        return f"{self.database}/{path}"

    def get(self, path: str) -> Fields | None:
        """The fields of the document at ``path``, or ``None`` when there is none.

        Raises:
            Unavailable: no answer from Firestore.
        """
        reply = self._call("GET", f"{self._documents}/{_quoted(path)}", missing_ok=True)
        if reply is None:
            return None
        return decode_fields(reply.get("fields", {}))

    def latest(self, parent: str, collection: str, *, order_by: str) -> tuple[str, Fields] | None:
        """The document of ``parent``/``collection`` with the greatest ``order_by``
        (one ``runQuery``), as (path, fields); ``None`` if the collection is empty.

        Raises:
            Unavailable: no answer from Firestore.
        """
        query = {
            "structuredQuery": {
                "from": [{"collectionId": collection}],
                "orderBy": [{"field": {"fieldPath": order_by}, "direction": "DESCENDING"}],
                "limit": 1,
            }
        }
        url = f"{self._documents}/{_quoted(parent)}:runQuery"
        reply = self._call("POST", url, body=query)
        if not isinstance(reply, list):
            raise _unavailable("runQuery: expected a list of results")
        for result in reply:
            document = result.get("document") if isinstance(result, dict) else None
            if isinstance(document, dict) and isinstance(document.get("name"), str):
                path = document["name"].removeprefix(self.database + "/")
                return path, decode_fields(document.get("fields", {}))
        return None

    def commit(self, writes: Sequence[Mapping[str, Any]]) -> None:
        """Apply ``writes`` (REST ``Write`` objects) atomically.

        Raises:
            Conflict: a precondition failed (nothing was written).
            Unavailable: no answer from Firestore (nothing is known to be written).
        """
        self._call(
            "POST", f"{self._documents}:commit", body={"writes": list(writes)}, preconditioned=True
        )

    def _call(
        self,
        method: str,
        url: str,
        *,
        body: object = None,
        missing_ok: bool = False,
        preconditioned: bool = False,
    ) -> Any:
        """One call. ``missing_ok``: a 404 is ``None``; ``preconditioned``: a failed
        precondition is ``Conflict``."""
        import requests

        try:
            response = self.session.request(method, url, json=body, timeout=self.timeout_seconds)
        # GoogleAuthError: the credentials could not be refreshed.
        except (requests.RequestException, auth_exceptions.GoogleAuthError) as error:
            raise _unavailable(f"{method} failed: {type(error).__name__}") from None
        status = _status(response)
        if missing_ok and response.status_code == 404:
            return None
        if preconditioned and status in (
            "ALREADY_EXISTS",
            "NOT_FOUND",
            "FAILED_PRECONDITION",
        ):
            raise Conflict(status)
        if not 200 <= response.status_code < 300:
            raise _unavailable(f"{method} answered {response.status_code} {status or ''}")
        try:
            return response.json()
        except ValueError:
            raise _unavailable(f"{method}: the reply is not JSON") from None

    @property
    def session(self) -> requests.Session:
        session = self._session
        if session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._new_session()
                session = self._session
        return session

    def _new_session(self) -> requests.Session:
        if self.emulator_host:
            import requests

            session = requests.Session()
            session.headers["Authorization"] = "Bearer owner"  # the emulator's admin
            return session
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        try:
            credentials, _ = google.auth.default(scopes=[SCOPE])
        except auth_exceptions.GoogleAuthError as error:  # no credentials: fail closed
            raise _unavailable(f"no credentials: {type(error).__name__}") from None
        authorized: requests.Session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]  # untyped
        return authorized


def encode(value: object) -> Value:
    """A Python value as a Firestore REST value (str, int, bool, float, datetime, None)."""
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
        moment = value.astimezone(UTC)
        return {"timestampValue": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    raise TypeError(f"expected str, int, bool, float, datetime or None, got {type(value)}")


def encode_fields(fields: Mapping[str, object]) -> dict[str, Value]:
    return {key: encode(value) for key, value in fields.items()}


def decode(value: Mapping[str, Any]) -> Any:
    """A Firestore REST value as Python (timestamps as aware datetimes; maps, arrays and
    other kinds, which the sign-out records never hold, as ``NotImplemented``)."""
    if "nullValue" in value:
        return None
    if "booleanValue" in value:
        return bool(value["booleanValue"])
    if "integerValue" in value:
        return int(value["integerValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "stringValue" in value:
        return str(value["stringValue"])
    if "timestampValue" in value:
        return datetime.fromisoformat(str(value["timestampValue"]).replace("Z", "+00:00"))
    return NotImplemented


def decode_fields(fields: object) -> Fields:
    if not isinstance(fields, dict):
        raise _unavailable("expected a document's fields")
    return {key: decode(value) for key, value in fields.items() if isinstance(value, dict)}


def _quoted(path: str) -> str:
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


def _status(response: requests.Response) -> str | None:
    """Firestore's status name in an error reply (``{"error": {"status": ...}}``)."""
    if response.status_code < 300:
        return None
    try:
        error = response.json()
    except ValueError:
        return None
    if isinstance(error, list) and error:  # the emulator answers some errors in a list
        error = error[0]
    status = error.get("error", {}).get("status") if isinstance(error, dict) else None
    return status if isinstance(status, str) else None


def _unavailable(reason: str) -> Unavailable:
    logger.warning("Firestore (REST) unavailable: %s", reason)
    return Unavailable()
