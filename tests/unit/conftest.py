"""Fixtures for the offline unit tier: a local certificate server and firebase-admin
apps that verify tokens on the production path (never the Auth emulator's)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import firebase_admin
import pytest
from firebase_admin import _token_gen
from firebase_admin import auth as fb_auth
from google.auth.credentials import AnonymousCredentials

from auth import app_check, keys
from auth.keys import PublicKeys
from auth.tokens import VerifiedTokens
from core.key_fetch import http_fetch
from tests.unit import app_check_forge, tokenforge
from tests.unit.tokenforge import CertServer, SigningKey

AppFactory = Callable[[str], firebase_admin.App]

#: What an ``Authenticator`` keeps for its app, kept here for each app the fixtures make
#: (by app name): its key store and the tokens it verified with them.
_KEPT: dict[str, tuple[PublicKeys, VerifiedTokens]] = {}


def key_store(app: firebase_admin.App) -> PublicKeys:
    """The key store of an app made by ``make_production_app`` (one per app, as deployed)."""
    return _KEPT[app.name][0]


def verified_cache(app: firebase_admin.App) -> VerifiedTokens:
    """The verified-token cache beside ``key_store(app)``."""
    return _KEPT[app.name][1]


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return tokenforge.signing_key()


@pytest.fixture(scope="session")
def cert_server(signing_key: SigningKey) -> Iterator[CertServer]:
    """Serves the session key's certificate; reset by ``production_app`` before each test."""
    with CertServer({signing_key.kid: signing_key.certificate_pem}) as server:
        yield server


@pytest.fixture
def make_production_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    """Builds firebase-admin apps that fetch token certificates from a given URL, both
    in firebase-admin's verifier and in ``auth.keys`` (the fast path's key store).

    The whole suite may run under ``firebase emulators:exec``, which sets
    ``FIREBASE_AUTH_EMULATOR_HOST``; with it firebase-admin accepts unsigned tokens, so
    it is removed here to force the production path. No credential is needed to verify
    tokens, so the apps carry anonymous credentials and never look for ADC.
    """
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    apps: list[firebase_admin.App] = []

    def make(cert_url: str) -> firebase_admin.App:
        monkeypatch.setattr(_token_gen, "ID_TOKEN_CERT_URI", cert_url)  # the SDK's path
        monkeypatch.setattr(keys, "ID_TOKEN_CERT_URI", cert_url)  # this backend's
        app = firebase_admin.initialize_app(
            AnonymousCredentials(),  # type: ignore[no-untyped-call]
            options={"projectId": tokenforge.PROJECT_ID, "httpTimeout": 5},
            name=f"unit-{uuid.uuid4().hex}",
        )
        apps.append(app)
        # The SDK reads ID_TOKEN_CERT_URI when it builds the app's auth client, which it
        # does lazily; build it now, while the patch is in place, and make sure the URL
        # was taken, so that a change in the SDK fails here instead of calling Google.
        client = fb_auth._get_client(app)
        verifier = client._token_verifier.id_token_verifier
        assert verifier.cert_url == cert_url, (
            f"expected firebase-admin to fetch certificates from {cert_url}, "
            f"got {verifier.cert_url}"
        )
        assert not client.emulated, "expected the production path, got the Auth emulator's"
        # auth.keys reads the same URL when it creates a key store for the app; create the
        # app's now too, for the same reason.
        store = keys.for_app(app, fetch=http_fetch)
        assert store.url == cert_url
        _KEPT[app.name] = (store, VerifiedTokens())
        return app

    yield make
    for app in apps:
        _KEPT.pop(app.name, None)
        firebase_admin.delete_app(app)


@pytest.fixture
def production_app(
    make_production_app: AppFactory, cert_server: CertServer
) -> Iterator[firebase_admin.App]:
    """A fresh app (hence an empty certificate cache) served by ``cert_server``."""
    cert_server.reset()
    yield make_production_app(cert_server.url)
    cert_server.reset()


@pytest.fixture
def unreachable_cert_url(signing_key: SigningKey) -> str:
    """The URL of a certificate server that has been shut down (connection refused)."""
    server = CertServer({signing_key.kid: signing_key.certificate_pem}).start()
    url = server.url
    server.stop()
    return url


@pytest.fixture(scope="session")
def jwks_server(signing_key: SigningKey) -> Iterator[CertServer]:
    """Serves the session key as App Check's JWKS; reset by ``app_check_keys``."""
    with CertServer(app_check_forge.jwks(signing_key)) as server:
        yield server


@pytest.fixture
def app_check_keys(jwks_server: CertServer, signing_key: SigningKey) -> Iterator[PublicKeys]:
    """A fresh (empty) App Check key store fetching from ``jwks_server``."""
    jwks_server.reset()
    jwks_server.set_certificates(app_check_forge.jwks(signing_key))
    yield app_check.key_store(jwks_server.url, timeout=5, fetch=http_fetch)
    jwks_server.reset()
    jwks_server.set_certificates(app_check_forge.jwks(signing_key))
