"""Google's ID-token signing keys, fetched when needed and held parsed in memory.

firebase-admin asks its HTTP cache for the certificates and parses the X.509 PEM of
the token's key on every ``verify_id_token`` call; that costs several times the RSA
check itself. ``PublicKeys`` keeps the parsed keys (``cryptography`` objects, by
``kid``) and fetches them:

- never at import time: the first verification fetches;
- again when the response's freshness has passed: ``Cache-Control: max-age`` less its
  ``Age``, as firebase-admin's HTTP cache does (no max-age, ``no-store`` or
  ``no-cache``: every call fetches, as there). The transport reads those headers
  (``core/key_fetch.py``, with werkzeug's parser) and hands over the seconds: this
  package knows no HTTP framework;
- again for a ``kid`` it does not know, so a rotation is picked up at once, but at
  most once per ``UNKNOWN_KID_REFETCH_SECONDS``: tokens with made-up ``kid`` values
  cannot make it fetch per request;
- once for any number of threads that need keys at the same moment (single flight):
  the others wait for that fetch and share its outcome, success or failure;
- after a failed fetch, not again for ``FAILURE_BACKOFF_SECONDS``: requests in
  between fail at once instead of each waiting for its own timeout.

A fetch keeps the key object of every ``kid`` whose certificate text did not change
(and does not parse it again), so a refresh or an unknown-``kid`` refetch does not
invalidate what ``auth.tokens`` remembers about tokens signed with the other keys;
only a new or changed certificate gets a new object.

A fetch that fails (transport error, non-200, a body that is not a JSON map of
certificates, no usable RSA key) raises ``KeyFetchError``; ``auth.tokens`` turns it
into ``AuthUnavailable`` (503), never into an invalid token.

The same store holds App Check's key set (``auth.app_check``), with a JWKS parser
instead of the certificate map's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import firebase_admin
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

logger = logging.getLogger(__name__)

#: Minimum interval between fetches caused by an unknown ``kid`` (key rotation).
UNKNOWN_KID_REFETCH_SECONDS: Final = 30.0
#: After a failed fetch, callers fail at once for this long instead of fetching again.
FAILURE_BACKOFF_SECONDS: Final = 1.0
#: Upper bound on how long one response is trusted, whatever its max-age says.
MAX_CACHE_SECONDS: Final = 24 * 3600
#: Google's response is ~4 KB; anything far larger is not a certificate map.
MAX_BODY_BYTES: Final = 256 * 1024
#: Google publishes two or three keys at a time; more is not a certificate map.
MAX_KEYS: Final = 64

_CERTIFICATE_MARKER: Final = b"-----BEGIN CERTIFICATE-----"

Monotonic = Callable[[], float]


class KeyFetchError(Exception):
    """Google's public keys could not be fetched or understood."""


@dataclass(frozen=True)
class Response:
    """What a fetch returns: the status, the body (at most ``MAX_BODY_BYTES + 1`` bytes
    of it, enough to tell that it is too long) and its freshness."""

    status: int
    body: bytes
    #: Seconds the body may be used from now (``Cache-Control: max-age`` less ``Age``;
    #: 0 for ``no-store``/``no-cache``); ``None`` when the response names no lifetime,
    #: and the store's ``default_cache_seconds`` applies.
    fresh_for: float | None = None


#: The transport: ``(url, timeout)`` to a ``Response``; raises ``KeyFetchError`` when
#: nothing could be fetched. The composition root gives it (``core.key_fetch``).
Fetch = Callable[[str, float], Response]
#: A response body to ``{kid: key}``; raises ``KeyFetchError`` when it is not a key set.
Parse = Callable[[bytes], dict[str, RSAPublicKey]]


@dataclass(frozen=True)
class _State:
    """One immutable snapshot; replaced as a whole, so readers need no lock."""

    keys: Mapping[str, RSAPublicKey] = field(default_factory=dict)
    #: The certificate (PEM text) each key of ``keys`` was parsed from.
    certificates: Mapping[str, str] = field(default_factory=dict)
    #: Monotonic time until which ``keys`` are used without fetching.
    fresh_until: float = float("-inf")
    #: Monotonic time of the last fetch attempt, successful or not.
    attempted_at: float = float("-inf")
    #: The outcome of the last attempt, if it failed.
    error: KeyFetchError | None = None


class PublicKeys:
    """The RSA public keys published at one URL, by ``kid``. Thread-safe."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        fetch: Fetch,
        monotonic: Monotonic = time.monotonic,
        unknown_kid_refetch_seconds: float = UNKNOWN_KID_REFETCH_SECONDS,
        failure_backoff_seconds: float = FAILURE_BACKOFF_SECONDS,
        parse: Parse | None = None,
        default_cache_seconds: float = 0.0,
    ) -> None:
        """``fetch`` is the transport; ``parse`` reads the body (default: Google's
        ``{kid: certificate PEM}`` map); ``default_cache_seconds`` is how long a
        response that names no lifetime is used (0: fetched again on every call, as
        firebase-admin's HTTP cache does for the ID-token keys). ``monotonic`` and the
        intervals are for tests."""
        self.url = url
        self._timeout = timeout
        self._fetch = fetch
        self._monotonic = monotonic
        self._refetch_interval = unknown_kid_refetch_seconds
        self._backoff = failure_backoff_seconds
        #: ``None``: Google's certificate map, parsed keeping unchanged certificates' keys.
        self._custom_parse: Parse | None = parse
        self._default_cache_seconds = default_cache_seconds
        self._state = _State()
        self._fetch_lock = threading.Lock()
        #: Number of fetches started (for tests and benchmarks).
        self.fetches = 0

    def get(self, kid: str) -> RSAPublicKey | None:
        """The key named ``kid``, or ``None`` if the URL does not publish it.

        Raises:
            KeyFetchError: the keys had to be fetched and could not be.
        """
        state = self._state
        now = self._monotonic()
        if now >= state.fresh_until:
            state = self._refresh(state)
        key = state.keys.get(kid)
        if key is None and now - state.attempted_at >= self._refetch_interval:
            # Perhaps a rotation: Google signs with a key we have not seen yet.
            state = self._refresh(state)
            key = state.keys.get(kid)
        return key

    def _refresh(self, seen: _State) -> _State:
        with self._fetch_lock:
            current = self._state
            if current is not seen:
                # Another thread fetched while this one waited: share its outcome.
                if current.error is not None:
                    raise current.error
                return current
            if current.error is not None and (
                self._monotonic() - current.attempted_at < self._backoff
            ):
                raise current.error
            self.fetches += 1
            try:
                response = self._download()
                if self._custom_parse is None:
                    parsed = _parse(response.body, known=current)
                    keys = {kid: key for kid, (_, key) in parsed.items()}
                    certificates = {kid: pem for kid, (pem, _) in parsed.items()}
                else:
                    keys, certificates = self._custom_parse(response.body), {}
            except KeyFetchError as error:
                logger.warning("could not fetch the public keys at %s: %s", self.url, error)
                self._state = _State(
                    keys=current.keys,
                    certificates=current.certificates,
                    fresh_until=current.fresh_until,
                    attempted_at=self._monotonic(),
                    error=error,
                )
                raise
            fetched_at = self._monotonic()
            self._state = _State(
                keys=keys,
                certificates=certificates,
                fresh_until=fetched_at + self._lifetime(response),
                attempted_at=fetched_at,
            )
            return self._state

    def _lifetime(self, response: Response) -> float:
        """How long the response is used: its freshness (or the default when it names
        none), never less than 0 nor more than ``MAX_CACHE_SECONDS``."""
        seconds = self._default_cache_seconds if response.fresh_for is None else response.fresh_for
        return max(0.0, min(float(seconds), MAX_CACHE_SECONDS))

    def _download(self) -> Response:
        response = self._fetch(self.url, self._timeout)
        if response.status != 200:
            raise KeyFetchError(f"expected status 200 from {self.url}, got {response.status}")
        return response


def parse_certificates(body: bytes) -> dict[str, RSAPublicKey]:
    """``{kid: PEM}`` (X.509 certificates or public keys) to RSA public keys.

    Entries that are not RSA keys are skipped, as google-auth would fail on them.

    Raises:
        KeyFetchError: not a JSON object of PEM strings, or no usable RSA key in it.
    """
    return {kid: key for kid, (_, key) in _parse(body, known=_State()).items()}


def _parse(body: bytes, *, known: _State) -> dict[str, tuple[str, RSAPublicKey]]:
    """``parse_certificates``, with each key's PEM; a ``kid`` whose PEM is the one
    ``known`` holds keeps its key object (see the module docstring).
    """
    if len(body) > MAX_BODY_BYTES:
        raise KeyFetchError(f"expected a certificate map under {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise KeyFetchError("expected a JSON object of certificates, got non-JSON") from None
    if not isinstance(document, dict) or len(document) > MAX_KEYS:
        raise KeyFetchError(
            f"expected a JSON object of at most {MAX_KEYS} certificates, "
            f"got {type(document).__name__}"
        )
    keys: dict[str, tuple[str, RSAPublicKey]] = {}
    for kid, pem in document.items():
        key = known.keys.get(kid) if known.certificates.get(kid) == pem else None
        key = key if key is not None else _public_key(pem)
        if key is None:
            logger.warning("skipped Google token key %r: expected an RSA PEM", kid)
        else:
            keys[kid] = (pem, key)
    if not keys:
        raise KeyFetchError("expected at least one RSA certificate, got none")
    return keys


def _public_key(pem: object) -> RSAPublicKey | None:
    """What google-auth's ``RSAVerifier.from_string`` builds, or None."""
    if not isinstance(pem, str):
        return None
    data = pem.encode("utf-8")
    try:
        key: object = (
            x509.load_pem_x509_certificate(data).public_key()
            if _CERTIFICATE_MARKER in data
            else load_pem_public_key(data)
        )
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, RSAPublicKey) else None


#: Where Google publishes the certificates of Firebase ID tokens. The same value as
#: firebase-admin's private ``_token_gen.ID_TOKEN_CERT_URI``, defined here so that no
#: private module is imported; ``tests/unit/test_firebase_admin_contract.py`` fails
#: loudly if an upgrade of firebase-admin changes it.
ID_TOKEN_CERT_URI = (
    "https://www.googleapis.com/robot/v1/metadata/x509/"  # noqa: S105 - a public URL
    "securetoken@system.gserviceaccount.com"
)
#: firebase-admin's default ``httpTimeout`` (its private ``_http_client``), likewise checked.
DEFAULT_HTTP_TIMEOUT_SECONDS = 120


def for_app(app: firebase_admin.App, *, fetch: Fetch) -> PublicKeys:
    """A new, empty key store for ``app``'s tokens, fetched with ``fetch``; whoever
    verifies keeps it (the ``Authenticator`` does, one per process).

    The URL is ``ID_TOKEN_CERT_URI`` (read now, so tests can point it at a local
    server) and the timeout the app's ``httpTimeout``, as firebase-admin uses them.
    """
    timeout = app.options.get("httpTimeout", DEFAULT_HTTP_TIMEOUT_SECONDS)
    return PublicKeys(ID_TOKEN_CERT_URI, timeout=float(timeout), fetch=fetch)
