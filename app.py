"""The composition root: the one place where the process's long-lived objects are built
and wired together.

Each entry point builds one ``Container`` (``build_container``) and passes what it
holds down: ``main.py`` for the deployed functions (lazily, on first use),
``tools/admin`` for the admin CLI, ``bench/server.py`` for the benchmarks; tests build
their own, with parts replaced (``build_container(settings, directory=fake)``). No
module keeps a process-wide object of its own: settings, the firebase-admin app, the
Firestore client, the user directory, the authenticator (with its key store and
verified-token cache), the stores and the services all live in the container.

Every part is built on first use, once (thread-safe), and imports its modules only
then: a function that never touches Firestore (``me``) never imports the Firestore
client, grpc or pydantic, and never builds a client (its revocation checks read the
user's recorded sign-outs over Firestore's REST API, ``store.rest``).

How to add a resource (say ``tasks``), following ``projects``:

0. ``auth/resources.py``: the resource's declaration (relations, grants, invariants,
   ``list_by``) and ``core/documents.py`` its stored shape; then
   ``python -m tools.rules > firestore.rules``. See README, "Adding your own resource".
1. ``core/fields.py``: the rules of its inputs (``TASK_TITLE = Text(...)``).
2. ``store/tasks.py``: a ``TaskStore`` Protocol (what the service needs) and
   ``FirestoreTasks(db)``; ``store/memory.py``: ``MemoryTasks``, the in-memory one.
3. ``services/tasks.py``: ``TaskService(tasks: TaskStore, ...)``, the use cases, which
   decide with ``auth.authorize_action(TASKS, ...)`` over the declaration.
4. Here: a ``task_store`` part (``FirestoreTasks(self.firestore)``), a ``tasks`` part
   (the service), and both in ``Parts`` so tests can replace them.
5. ``handlers/tasks.py``: ``tasks = Function("tasks", needs=lambda c: c.tasks)`` and
   one view per endpoint, each under ``@tasks.endpoint(...)``; request bodies in
   ``handlers/schemas.py``, response bodies in ``handlers/wire.py``, path and query
   parameters in ``handlers/params.py``.
6. ``handlers/__init__.py``: ``"tasks": "handlers.tasks"`` in ``FUNCTION_MODULES``
   (``main.tasks`` is then an entry point, and ``local`` serves it).
7. Regenerate ``openapi.json`` (``python -m tools.openapi``) and the gateway config
   (``python -m tools.gateway``); add the function to ``deploy/config.toml`` and its
   roles to ``tools/deploy/iam.py`` (a nested resource's routes can instead join its
   parent's function, as tasks join ``projects``).
8. Tests: ``tests/unit/test_task_service.py`` on ``MemoryTasks`` (table-style), and
   the HTTP API on the emulators in ``tests/integration``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar, overload

from core.errors import TenantNotAllowed
from core.settings import Settings

if TYPE_CHECKING:
    import firebase_admin
    from typing_extensions import Unpack

    from auth import Authenticator, KeyFetch, RevocationChecker, UserDirectory
    from core.rate_limits import RateLimits
    from handlers.identity import IdentityHandler
    from services.app_check import AppCheckGate
    from services.projects import ProjectService
    from services.roles import RoleService
    from services.sign_outs import SignOutService
    from services.tasks import TaskService
    from store.audit import FirestoreAuditLog
    from store.client import Firestore
    from store.idempotency import IdempotencyStore
    from store.locks import FirestoreLeases
    from store.projects import ProjectStore
    from store.sign_outs import FirestoreSignOuts
    from store.tasks import TaskStore

T = TypeVar("T")


class Parts(TypedDict, total=False):
    """The parts a caller may give ``build_container`` instead of letting it build them."""

    firebase_app: firebase_admin.App
    key_fetch: KeyFetch
    directory: UserDirectory
    revocation: RevocationChecker
    authenticator: Authenticator
    firestore: Firestore
    project_store: ProjectStore
    idempotency: IdempotencyStore
    audit_log: FirestoreAuditLog
    leases: FirestoreLeases
    sign_outs: FirestoreSignOuts
    task_store: TaskStore
    projects: ProjectService
    tasks: TaskService
    roles: RoleService
    sign_out_service: SignOutService
    app_check: AppCheckGate
    rate_limits: RateLimits
    identity: IdentityHandler


class part(Generic[T]):  # noqa: N801 - used as a decorator, like property
    """A part of the container: built by the decorated method on first use, once."""

    def __init__(self, build: Callable[[Container], T]) -> None:
        self._build = build
        self._name = build.__name__
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, container: None, owner: type[Container]) -> part[T]: ...

    @overload
    def __get__(self, container: Container, owner: type[Container]) -> T: ...

    def __get__(self, container: Container | None, owner: type[Container]) -> part[T] | T:
        if container is None:
            return self
        built = container._parts.get(self._name, _MISSING)  # a dict read: atomic
        if built is _MISSING:
            with container._lock:  # reentrant: parts build the parts they need
                built = container._parts.get(self._name, _MISSING)
                if built is _MISSING:
                    built = self._build(container)
                    container._parts[self._name] = built
        return built  # type: ignore[no-any-return]


_MISSING: Any = object()


class Container:
    """The process's objects, built from ``settings`` on first use (see the module
    docstring). Build one per entry point with ``build_container``."""

    def __init__(self, settings: Settings, parts: Parts, *, tenant: str | None = None) -> None:
        unknown = set(parts) - set(Parts.__annotations__)
        if unknown:
            raise TypeError(f"expected parts among {sorted(Parts.__annotations__)}, got {unknown}")
        self.settings = settings
        #: The Identity Platform tenant whose realm this is (``None``: project-level users).
        self.tenant = tenant
        self._parts: dict[str, Any] = dict(parts)
        self._lock = threading.RLock()
        self._tenants: dict[str, Container] = {}

    def for_tenant(self, tenant: str | None) -> Container:
        """The container of ``tenant``'s realm (``None``: this one, the project-level users').

        A tenant's container shares what knows no realm (the Firebase app, the
        authenticator with its keys, abuse limits, App Check) and builds its own of the
        rest over the tenant's user directory and the tenant's view of Firestore
        (``tenants/{tenant}/...``): its stores, services, revocation checks and audit
        log never see another realm's users or documents. One per listed tenant, built
        on first use (``TENANTS`` bounds how many; other tenants never get this far).

        Raises:
            TenantNotAllowed: ``tenant`` is not in ``TENANTS``.
        """
        if tenant is None or tenant == self.tenant:
            return self
        if self.tenant is not None or tenant not in self.settings.tenants:
            raise TenantNotAllowed()
        found = self._tenants.get(tenant)
        if found is None:
            with self._lock:
                found = self._tenants.get(tenant)
                if found is None:
                    shared: Parts = {
                        "firebase_app": self.firebase_app,
                        "authenticator": self.authenticator,
                        "rate_limits": self.rate_limits,
                        "app_check": self.app_check,
                        "directory": self.directory.for_tenant(tenant),
                        "firestore": self.firestore.for_tenant(tenant),
                    }
                    found = Container(self.settings, shared, tenant=tenant)
                    self._tenants[tenant] = found
        return found

    @property
    def built(self) -> frozenset[str]:
        """The parts built (or given) so far."""
        return frozenset(self._parts)

    # --- identity (Firebase Auth) ------------------------------------------------------

    @part
    def firebase_app(self) -> firebase_admin.App:
        """firebase-admin's app for the project (its default app: one per process)."""
        from auth import firebase_app

        return firebase_app(self.settings)

    @part
    def key_fetch(self) -> KeyFetch:
        """The transport of every public-key store (ID tokens, blocking events, App
        Check): an HTTP GET whose freshness is read from ``Cache-Control``."""
        from core.key_fetch import http_fetch

        return http_fetch

    @part
    def directory(self) -> UserDirectory:
        """User records, behind firebase-admin."""
        from auth import UserDirectory

        return UserDirectory(self.firebase_app)

    @part
    def revocation(self) -> RevocationChecker:
        """Revocation checks with their bounded cache; signing out everywhere. The
        recorded sign-outs (Firestore) are built on the first check that reads them."""
        from auth import RevocationChecker

        return RevocationChecker(
            self.directory,
            max_age_seconds=self.settings.revocation_check_max_age_seconds,
            max_entries=self.settings.revocation_cache_size,
            sign_outs=lambda: self.sign_outs,
        )

    @part
    def authenticator(self) -> Authenticator:
        """Requests to principals; it keeps Google's keys and the tokens it verified."""
        from auth import Authenticator, id_token_key_store

        return Authenticator(
            self.settings,
            self.firebase_app,
            self.directory,
            self.revocation,
            keys=id_token_key_store(self.firebase_app, fetch=self.key_fetch),
            tenant_revocation=lambda tenant: self.for_tenant(tenant).revocation,
        )

    # --- storage (Firestore) -----------------------------------------------------------

    @part
    def firestore(self) -> Firestore:
        """The Firestore connection; its client is made on the first RPC."""
        from store.client import Firestore

        return Firestore(
            self.settings.project_id, timeout_seconds=self.settings.firestore_timeout_seconds
        )

    @part
    def project_store(self) -> ProjectStore:
        from store.projects import FirestoreProjects

        return FirestoreProjects(self.firestore)

    @part
    def task_store(self) -> TaskStore:
        from store.tasks import FirestoreTasks

        return FirestoreTasks(self.firestore)

    @part
    def sign_outs(self) -> FirestoreSignOuts:
        """Recorded "sign out everywhere" requests (read by every revocation check)."""
        from store.sign_outs import FirestoreSignOuts

        return FirestoreSignOuts(self.firestore)

    @part
    def idempotency(self) -> IdempotencyStore:
        from store.idempotency import FirestoreIdempotency

        return FirestoreIdempotency(self.firestore)

    @part
    def audit_log(self) -> FirestoreAuditLog:
        from store.audit import FirestoreAuditLog

        return FirestoreAuditLog(self.firestore)

    @part
    def leases(self) -> FirestoreLeases:
        """The claims leases, outliving the worst case of a role change (checked)."""
        from services.roles import check_claims_lease, claims_lease
        from store.locks import FirestoreLeases

        timeouts = {
            "auth_timeout": self.settings.auth_timeout_seconds,
            "firestore_timeout": self.settings.firestore_timeout_seconds,
        }
        lease = claims_lease(**timeouts)
        check_claims_lease(lease, **timeouts)
        return FirestoreLeases(self.firestore, lease=lease)

    # --- use cases ---------------------------------------------------------------------

    @part
    def projects(self) -> ProjectService:
        from services.projects import ProjectService

        return ProjectService(
            projects=self.project_store,
            idempotency=self.idempotency,
            require_verified_email=self.settings.require_verified_email,
            allow_anonymous_writes=self.settings.allow_anonymous_writes,
            user_exists=self.directory.exists,
            find_by_email=self.directory.find_by_email,
            tasks=self.task_store,
        )

    @part
    def tasks(self) -> TaskService:
        from services.tasks import TaskService

        return TaskService(
            tasks=self.task_store,
            projects=self.project_store,
            require_verified_email=self.settings.require_verified_email,
            allow_anonymous_writes=self.settings.allow_anonymous_writes,
        )

    @part
    def identity(self) -> IdentityHandler:
        """The ``identity`` function: Identity Platform's blocking events (no Firestore)."""
        from auth import blocking_key_store
        from handlers.identity import build

        keys = blocking_key_store(timeout=self.settings.auth_timeout_seconds, fetch=self.key_fetch)
        return build(self.settings, keys=keys)

    @part
    def rate_limits(self) -> RateLimits:
        """Abuse limits of this instance (token buckets; bounded memory)."""
        from core.rate_limits import Budget, RateLimits

        s = self.settings
        # A burst of a fifth of a minute's budget (at least 10): short bursts pass.
        return RateLimits(
            ip=Budget(s.rate_limit_ip_per_minute, max(10, s.rate_limit_ip_per_minute // 5)),
            user_reads=Budget(
                s.rate_limit_user_reads_per_minute,
                max(10, s.rate_limit_user_reads_per_minute // 5),
            ),
            user_writes=Budget(
                s.rate_limit_user_writes_per_minute,
                max(10, s.rate_limit_user_writes_per_minute // 5),
            ),
            max_keys=s.rate_limit_keys,
        )

    @part
    def app_check(self) -> AppCheckGate:
        """App Check (``APP_CHECK``): the verifier and the ledger of spent tokens."""
        from services.app_check import AppCheckGate

        return AppCheckGate.from_settings(self.settings, lambda: self.firestore, self.key_fetch)

    @part
    def roles(self) -> RoleService:
        from services.roles import RoleService

        return RoleService(self.directory, self.revocation, self.audit_log, self.leases)

    @part
    def sign_out_service(self) -> SignOutService:
        """The ``signouts`` function: applies recorded sign-outs in Firebase Auth."""
        from services.sign_outs import SignOutService

        return SignOutService(self.directory, self.sign_outs)


def build_container(settings: Settings | None = None, **parts: Unpack[Parts]) -> Container:
    """The composition root of one entry point.

    Args:
        settings: the configuration (default: read from the environment, and checked).
        parts: parts to use as they are instead of building them (tests, tools).

    Raises:
        ConfigError: the environment is malformed or unsafe (``settings`` not given).
    """
    return Container(settings if settings is not None else Settings.from_env(), parts)
