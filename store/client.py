"""The Firestore connection: a client, created on first use, whose every RPC ends
within the configured timeout. The composition root (``app.py``) makes one per process
and hands it to the stores.

``google.cloud.firestore`` is imported only when the client is first needed, so that
functions that never touch Firestore (``/me``) do not pay for it at cold start.
``Client(project=...)`` detects ``FIRESTORE_EMULATOR_HOST`` by itself and then needs
no credentials.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud.firestore import Client, CollectionReference

    from store.rest import FirestoreRest


#: Where an Identity Platform tenant's documents live: ``tenants/{tenant}/<collection>``.
TENANTS_COLLECTION = "tenants"


class Firestore:
    """A Firestore client (created on first use) and the timeout of each of its RPCs.

    It is also a realm's view of the database: the stores name collections through
    ``collection``, which a tenant's view (``for_tenant``) roots under
    ``tenants/{tenant}/``, so one tenant's stores never name another realm's documents.
    """

    def __init__(
        self,
        project_id: str,
        *,
        timeout_seconds: float,
        client: Client | None = None,
        tenant: str | None = None,
        parent: Firestore | None = None,
    ) -> None:
        """
        Args:
            project_id: the project whose database this is.
            timeout_seconds: every RPC, retries included, ends within this (below the
                function's own timeout).
            client: a client to use as it is (tests); by default one is made on first use.
            tenant: the tenant whose view this is (``None``: the project-level users').
            parent: the connection whose client this view shares (``for_tenant``).
        """
        self.project_id = project_id
        self.timeout_seconds = timeout_seconds
        self.tenant = tenant
        self._client = client
        self._parent = parent
        self._rest: FirestoreRest | None = None
        self._lock = threading.Lock()

    def for_tenant(self, tenant: str) -> Firestore:
        """``tenant``'s view of the same database (the same client, made once)."""
        return Firestore(
            self.project_id, timeout_seconds=self.timeout_seconds, tenant=tenant, parent=self
        )

    @property
    def client(self) -> Client:
        if self._parent is not None:
            return self._parent.client
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = connect(self.project_id, self.timeout_seconds)
                client = self._client
        return client

    @property
    def rest(self) -> FirestoreRest:
        """The same database over REST (``store.rest``: imports neither grpc nor the
        client library), made on first use and shared by every realm's view."""
        if self._parent is not None:
            return self._parent.rest
        rest = self._rest
        if rest is None:
            with self._lock:
                if self._rest is None:
                    from store.rest import FirestoreRest

                    self._rest = FirestoreRest(
                        self.project_id, timeout_seconds=self.timeout_seconds
                    )
                rest = self._rest
        return rest

    def path(self, name: str) -> str:
        """The path of the realm's collection ``name`` (``collection``'s, as a string)."""
        return name if self.tenant is None else f"{TENANTS_COLLECTION}/{self.tenant}/{name}"

    def timeout(self) -> float:
        """Timeout of every Firestore RPC, in seconds (retries included)."""
        return self.timeout_seconds

    def collection(self, name: str) -> CollectionReference:
        """The realm's collection ``name`` (at ``path(name)``)."""
        return self.client.collection(self.path(name))

    def delete_if_unchanged(self, ref: Any, update_time: Any) -> None:
        """Delete ``ref`` only if nobody wrote it since ``update_time`` (else leave it)."""
        from google.api_core import exceptions as gexc

        option = self.client.write_option(last_update_time=update_time)
        # FailedPrecondition / NotFound: written or deleted by someone else meanwhile.
        with contextlib.suppress(gexc.FailedPrecondition, gexc.NotFound):
            ref.delete(option=option, timeout=self.timeout())


def connect(project_id: str, timeout_seconds: float) -> Client:
    """A new client for ``project_id`` (the emulator when ``FIRESTORE_EMULATOR_HOST`` is
    set) whose RPCs, retries included, end within ``timeout_seconds``."""
    from google.cloud import firestore

    client = firestore.Client(project=project_id)
    _with_default_timeout(client, timeout_seconds)
    return client


class _DefaultTimeout:
    """Wraps the GAPIC client so that every RPC ends within ``seconds``.

    The library's defaults retry transient errors for 60 s (300 s for queries)
    and issue a transaction's begin, commit and rollback with no timeout at all,
    so a Firestore outage would hold a request past the function's own timeout.
    Here each call gets ``timeout=seconds`` and the method's own retry policy cut
    to the same total.
    """

    def __init__(self, api: Any, seconds: float) -> None:
        self._api = api
        self._seconds = seconds

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._api, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute
        return _timed(attribute, self._seconds, self.default_retry(name))

    def default_retry(self, name: str) -> Any | None:
        """The method's own retry policy with its total time cut to ``seconds``."""
        transport = getattr(self._api, "_transport", None)
        wrapped_methods = getattr(transport, "_wrapped_methods", {})
        wrapped = wrapped_methods.get(getattr(transport, name, None))
        retry = getattr(wrapped, "_retry", None)
        return retry.with_timeout(self._seconds) if retry is not None else None


def _timed(method: Callable[..., Any], seconds: float, retry: Any | None) -> Callable[..., Any]:
    from google.api_core.gapic_v1.method import DEFAULT

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") in (None, DEFAULT):
            kwargs["timeout"] = seconds
        if retry is not None and kwargs.get("retry", DEFAULT) is DEFAULT:
            kwargs["retry"] = retry
        return method(*args, **kwargs)

    return call


def _with_default_timeout(client: Client, seconds: float) -> None:
    # google-cloud-firestore keeps its GAPIC client in a private attribute and
    # offers no client-wide timeout; the pinned version is covered by a test.
    api = client._firestore_api  # builds it
    client._firestore_api_internal = _DefaultTimeout(api, seconds)
