"""Real RS256 Firebase ID tokens, signed with a test key, and a local certificate server.

The Auth emulator skips signature, ``kid`` and expiry checks, so the production path of
``firebase_admin.auth.verify_id_token`` is tested offline: tokens are signed here with an
RSA key generated once per test session, and its self-signed X.509 certificate is served
by :class:`CertServer` in place of Google's ``ID_TOKEN_CERT_URI``.

Forging helpers build the variants an attacker (or a buggy client) would send: another
key under the same ``kid``, ``alg: none``, HS256 keyed with the public certificate, an
edited payload under a valid signature, a truncated signature.
"""

from __future__ import annotations

import base64
import datetime
import enum
import functools
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

PROJECT_ID: Final = "demo-unit"
ISSUER: Final = f"https://securetoken.google.com/{PROJECT_ID}"
#: ``aud`` of a Firebase *custom* token (what ``create_custom_token`` mints).
CUSTOM_TOKEN_AUDIENCE: Final = (
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"
)
#: ``iss`` of a Firebase session cookie (``create_session_cookie``).
SESSION_COOKIE_ISSUER: Final = f"https://session.firebase.google.com/{PROJECT_ID}"
DEFAULT_KID: Final = "unit-test-key-1"
DEFAULT_UID: Final = "alice-uid"
DEFAULT_EMAIL: Final = "alice@example.com"
#: Lifetime of a Firebase ID token.
TOKEN_LIFETIME_SECONDS: Final = 3600

Claims = dict[str, Any]


class _Remove(enum.Enum):
    REMOVE = "remove"


#: Use as a value in ``claims_overrides`` / ``header_overrides`` to delete that field.
REMOVE: Final = _Remove.REMOVE


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair, its ``kid`` and a self-signed certificate for its public half."""

    kid: str
    private_key: rsa.RSAPrivateKey
    certificate_pem: str

    @classmethod
    def generate(cls, kid: str, *, common_name: str = "tokenforge.test") -> SigningKey:
        """A fresh 2048-bit key and a certificate valid from yesterday to tomorrow."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(private_key, hashes.SHA256())
        )
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        return cls(kid=kid, private_key=private_key, certificate_pem=pem)

    def sign(self, signing_input: bytes) -> bytes:
        """RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over ``signing_input``."""
        return self.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


@functools.cache
def signing_key() -> SigningKey:
    """The session's trusted key: its certificate is the one :class:`CertServer` serves."""
    return SigningKey.generate(DEFAULT_KID)


@functools.cache
def attacker_key() -> SigningKey:
    """An untrusted key that claims the trusted key's ``kid``."""
    return SigningKey.generate(DEFAULT_KID, common_name="attacker.test")


# --- encoding ----------------------------------------------------------------


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWS uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def encode_segment(value: Mapping[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def decode_segment(segment: str) -> Claims:
    decoded: Claims = json.loads(b64url_decode(segment))
    return decoded


def assemble(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes) -> str:
    return f"{encode_segment(header)}.{encode_segment(claims)}.{b64url(signature)}"


def signing_input(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bytes:
    return f"{encode_segment(header)}.{encode_segment(claims)}".encode("ascii")


def _apply(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> Claims:
    merged = dict(base)
    for name, value in (overrides or {}).items():
        if value is REMOVE:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


# --- claims and headers ------------------------------------------------------


def default_claims(
    *, uid: str = DEFAULT_UID, email: str = DEFAULT_EMAIL, now: float | None = None
) -> Claims:
    """The payload Firebase Auth issues after an email/password sign-in at ``now``."""
    issued = int(time.time() if now is None else now)
    return {
        "iss": ISSUER,
        "aud": PROJECT_ID,
        "auth_time": issued,
        "user_id": uid,
        "sub": uid,
        "iat": issued,
        "exp": issued + TOKEN_LIFETIME_SECONDS,
        "email": email,
        "email_verified": True,
        "firebase": {
            "identities": {"email": [email]},
            "sign_in_provider": "password",
        },
    }


def claims_for(
    claims_overrides: Mapping[str, Any] | None = None,
    *,
    uid: str = DEFAULT_UID,
    now: float | None = None,
) -> Claims:
    """:func:`default_claims` with overrides applied (``REMOVE`` deletes a claim)."""
    return _apply(default_claims(uid=uid, now=now), claims_overrides)


def header_for(
    header_overrides: Mapping[str, Any] | None = None, *, kid: str = DEFAULT_KID
) -> Claims:
    return _apply({"alg": "RS256", "kid": kid, "typ": "JWT"}, header_overrides)


# --- minting -----------------------------------------------------------------


def mint(
    claims_overrides: Mapping[str, Any] | None = None,
    header_overrides: Mapping[str, Any] | None = None,
    *,
    key: SigningKey | None = None,
    kid: str | None = None,
    uid: str = DEFAULT_UID,
    now: float | None = None,
) -> str:
    """An RS256 Firebase ID token for :data:`PROJECT_ID`.

    Args:
        claims_overrides: claims to set (or delete with ``REMOVE``) after the defaults.
        header_overrides: header fields to set or delete; ``alg`` here only changes the
            label, the signature is always RS256.
        key: the signing key (default: the trusted session key).
        kid: the header's ``kid`` (default: ``key.kid``).
        uid: ``sub`` and ``user_id``.
        now: the issue time (default: the real clock), so ``now=time.time() - 7200``
            mints a token that expired an hour ago.
    """
    key = key or signing_key()
    header = header_for(header_overrides, kid=key.kid if kid is None else kid)
    claims = claims_for(claims_overrides, uid=uid, now=now)
    return assemble(header, claims, key.sign(signing_input(header, claims)))


def unsigned(
    claims_overrides: Mapping[str, Any] | None = None,
    *,
    alg: str = "none",
    now: float | None = None,
) -> str:
    """An ``alg: none`` token with an empty signature (and the trusted ``kid``)."""
    return assemble(header_for({"alg": alg}), claims_for(claims_overrides, now=now), b"")


def hs256(secret: bytes, claims_overrides: Mapping[str, Any] | None = None) -> str:
    """An HS256 token keyed with ``secret`` (the algorithm-confusion attack when the
    secret is the public certificate)."""
    header = header_for({"alg": "HS256"})
    claims = claims_for(claims_overrides)
    mac = hmac.new(secret, signing_input(header, claims), hashlib.sha256).digest()
    return assemble(header, claims, mac)


def with_payload(token: str, claims_overrides: Mapping[str, Any]) -> str:
    """``token`` with its payload edited and its original signature kept."""
    header_segment, payload_segment, signature_segment = token.split(".")
    claims = _apply(decode_segment(payload_segment), claims_overrides)
    return f"{header_segment}.{encode_segment(claims)}.{signature_segment}"


def with_truncated_signature(token: str, keep: int) -> str:
    """``token`` with only the first ``keep`` characters of its signature segment."""
    header_segment, payload_segment, signature_segment = token.split(".")
    return f"{header_segment}.{payload_segment}.{signature_segment[:keep]}"


def with_signature(token: str, signature: bytes) -> str:
    """``token`` with its signature replaced by ``signature`` (e.g. all zero bytes)."""
    header_segment, payload_segment, _ = token.split(".")
    return f"{header_segment}.{payload_segment}.{b64url(signature)}"


def legacy_custom_token(uid: str = DEFAULT_UID) -> str:
    """A pre-2016 Firebase custom token: HS256, no ``kid``, ``{"v": 0, "d": {"uid": ...}}``."""
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"v": 0, "iat": int(time.time()), "d": {"uid": uid}}
    mac = hmac.new(b"legacy-secret", signing_input(header, claims), hashlib.sha256).digest()
    return assemble(header, claims, mac)


def public_jwk(key: SigningKey) -> Claims:
    """The public half of ``key`` as a JWK (what a ``jwk`` header injection embeds)."""
    numbers = key.private_key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": key.kid,
        "use": "sig",
        "alg": "RS256",
        "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
    }


def certificate_der_b64(key: SigningKey) -> str:
    """The certificate of ``key`` as standard base64 DER (an ``x5c`` header entry)."""
    certificate = x509.load_pem_x509_certificate(key.certificate_pem.encode("ascii"))
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


@functools.cache
def rotated_key() -> SigningKey:
    """A second trusted key, published later under a new ``kid`` (a key rotation)."""
    return SigningKey.generate("unit-test-key-2")


@functools.cache
def ec_certificate_pem() -> str:
    """A self-signed P-256 certificate: a key google-auth cannot use for RS256."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec.tokenforge.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


@functools.cache
def attacker_server() -> CertServer:
    """A key server an attacker controls, serving the attacker key under the trusted
    ``kid``. Header injections (``jku``, ``x5u``) point at it; nothing may ever call it.
    Started once per process and left running (a daemon thread)."""
    return CertServer({DEFAULT_KID: attacker_key().certificate_pem}).start()


def claims_of(token: str) -> Claims:
    """The (unverified) payload of ``token``."""
    return decode_segment(token.split(".")[1])


# --- certificate server ------------------------------------------------------


class CertServer:
    """Serves ``{kid: certificate_pem}`` like Google's x509 endpoint, on 127.0.0.1 (or
    any JSON object given in its place, such as App Check's JWKS).

    A real HTTP server in a daemon thread (port chosen by the OS). It counts requests,
    can answer 500 (:meth:`fail_with`) and can be stopped (then nothing listens on
    :attr:`url`), which is how "Google's keys are unreachable" is simulated.
    """

    PATH: Final = "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"

    def __init__(self, certificates: Mapping[str, Any], *, max_age_seconds: int = 3600) -> None:
        self._certificates = dict(certificates)
        self._default_max_age = max_age_seconds
        self._max_age = max_age_seconds
        self._status = 200
        self._requests = 0
        self._delay = 0.0
        self._age: int | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # -- lifecycle

    def start(self) -> CertServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        server.daemon_threads = True
        self._server = server
        host, port = server.server_address[:2]
        self._url = f"http://{host!s}:{port}{self.PATH}"
        self._thread = threading.Thread(
            target=server.serve_forever, name="cert-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut down and close the socket; connections to :attr:`url` are then refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> CertServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- behaviour

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("CertServer.url: expected a started server, got none")
        return self._url

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._requests

    def fail_with(self, status: int) -> None:
        """Answer every request with ``status`` and no certificates."""
        with self._lock:
            self._status = status

    def serve_html(self) -> None:
        """Answer 200 with an HTML page, as a captive portal or proxy error page would."""
        with self._lock:
            self._status = -200

    def set_max_age(self, seconds: int) -> None:
        with self._lock:
            self._max_age = seconds

    def reset(self) -> None:
        """Serve the certificates again, with the original max-age, and zero the counter."""
        with self._lock:
            self._status = 200
            self._max_age = self._default_max_age
            self._requests = 0
            self._delay = 0.0
            self._age = None

    def set_certificates(self, certificates: Mapping[str, Any]) -> None:
        """Serve these certificates from now on (a key rotation)."""
        with self._lock:
            self._certificates = dict(certificates)

    def set_delay(self, seconds: float) -> None:
        """Answer every request only after ``seconds`` (a slow key endpoint)."""
        with self._lock:
            self._delay = seconds

    def set_age(self, seconds: int | None) -> None:
        """Send ``Age: seconds`` (the response came from a shared cache that old)."""
        with self._lock:
            self._age = seconds

    def _respond(self) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self._requests += 1
            status, max_age, delay, age = self._status, self._max_age, self._delay, self._age
        if delay:
            time.sleep(delay)
        if status == -200:
            return 200, {"Content-Type": "text/html"}, b"<html>proxy error</html>"
        if status != 200:
            body = json.dumps({"error": "backend error"}).encode()
            return status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, body
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "Cache-Control": f"public, max-age={max_age}, must-revalidate, no-transform",
        }
        if age is not None:
            headers["Age"] = str(age)
        with self._lock:
            certificates = dict(self._certificates)
        return 200, headers, json.dumps(certificates).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != CertServer.PATH:
                    self.send_error(404)
                    return
                status, headers, body = owner._respond()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Silence the default stderr access log."""

        return Handler
