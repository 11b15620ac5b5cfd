"""The transport of ``auth``'s key stores: GET a public-key document over HTTP and say
how long it stays fresh.

``auth.PublicKeys`` is given ``http_fetch`` by the composition root (``app.py``). The
freshness is read here, from ``Cache-Control`` and ``Age`` with werkzeug's parsers (a
dependency through Flask), because ``auth`` knows no HTTP framework; the store only
caps it and applies its default when the response names no lifetime.
"""

from __future__ import annotations

import requests
from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import parse_age, parse_cache_control_header

from auth import MAX_KEY_BODY_BYTES, KeyFetchError, KeyResponse


def http_fetch(url: str, timeout: float) -> KeyResponse:
    """GET ``url`` with ``requests``: the status, at most ``MAX_KEY_BODY_BYTES + 1`` bytes
    of the body (enough for the store to refuse a longer one) and its freshness.

    Raises:
        KeyFetchError: on any transport failure.
    """
    try:
        with requests.get(url, timeout=timeout, stream=True) as reply:
            body = reply.raw.read(MAX_KEY_BODY_BYTES + 1, decode_content=True)
            return KeyResponse(
                status=reply.status_code,
                body=body,
                fresh_for=freshness(
                    reply.headers.get("Cache-Control", ""), reply.headers.get("Age", "")
                ),
            )
    except (requests.RequestException, OSError) as error:
        raise KeyFetchError(f"expected public keys from {url}, got {error!r}") from None


def freshness(cache_control: str, age: str = "") -> float | None:
    """Seconds a response stays fresh: ``max-age`` less ``Age``, at least 0.

    ``no-store`` or ``no-cache`` (with or without field names): 0, never reused.
    No ``max-age``, or one that is not delta-seconds (digits only): ``None``, the
    response names no lifetime (the key store's default applies). An ``Age`` that is
    not delta-seconds counts as 0. Directive names are case-insensitive (RFC 9111).
    """
    directives = parse_cache_control_header(cache_control.lower(), cls=ResponseCacheControl)
    if directives.no_store or directives.no_cache:
        return 0.0
    # Not ``directives.max_age``: werkzeug converts with int(), which also takes "-5",
    # "+5", "1_000" and non-ASCII digits, and delta-seconds is ASCII digits only.
    raw = directives.get("max-age")
    if not (isinstance(raw, str) and raw.isascii() and raw.isdigit()):
        return None
    elapsed = parse_age(age.strip() or None)
    seconds = elapsed.total_seconds() if elapsed is not None else 0.0
    return max(0.0, int(raw) - seconds)
