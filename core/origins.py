"""Web origins (RFC 6454) exactly as browsers serialise them in the ``Origin`` header.

An origin is a scheme, a host and a port, nothing else: ``https://app.example.com``,
``http://localhost:5173``, ``http://[::1]:8080``. Browsers send it lower case, with no
path, no trailing slash and no port when it is the scheme's default. The allowlist
(``CORS_ALLOWED_ORIGINS``) and the CSRF check of cookie writes compare origins in that
form only, so that every comparison is an exact one: no prefix, pattern or
case-folding that a look-alike origin could slip through.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

#: The schemes an allowed origin may have, with their default ports.
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
MAX_HOST_LENGTH: Final = 253

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SERIALISED = re.compile(
    rf"(?P<scheme>https?)://"
    rf"(?P<host>{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[1-9][0-9]{0,4}))?"
)


@dataclass(frozen=True)
class Origin:
    """A parsed origin; ``port`` is always explicit (the default one when omitted)."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        """The serialisation a browser sends (default port omitted)."""
        if self.port == DEFAULT_PORTS[self.scheme]:
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


def parse(text: str) -> Origin | None:
    """The origin ``text`` spells in exactly its serialised form, or ``None``.

    ``None`` for anything else: other schemes, upper case, a path (even ``/``), a
    query, user info, a wildcard or any other character outside a host name, an
    explicit default port, ports out of range, IPv6 not in its compressed form.
    """
    match = _SERIALISED.fullmatch(text)
    if match is None:
        return None
    scheme, host = match["scheme"], match["host"]
    port = int(match["port"]) if match["port"] else DEFAULT_PORTS[scheme]
    if port > 65535 or (match["port"] and port == DEFAULT_PORTS[scheme]):
        return None
    if len(host) > MAX_HOST_LENGTH:
        return None
    if host.rsplit(".", 1)[-1].isdigit():
        # Browsers read a host ending in a number as IPv4 and send it dotted-quad.
        try:
            if str(ipaddress.IPv4Address(host)) != host:
                return None
        except ValueError:
            return None
    if host.startswith("["):
        try:
            address = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
        if f"[{address.compressed}]" != host:
            return None
    return Origin(scheme, host, port)


def of_host(scheme: str, host: str) -> Origin | None:
    """The origin of a server reached as ``host`` (a ``Host`` header: ``name[:port]``)
    over ``scheme``; host names are case-insensitive, so it is lowered first."""
    try:
        parts = urlsplit(f"//{host}")
        port = parts.port
    except ValueError:
        return None
    if parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    name = parts.hostname or ""
    if ":" in name:
        name = f"[{name}]"
    default = DEFAULT_PORTS.get(scheme.lower())
    port_part = f":{port}" if port is not None and port != default else ""
    return parse(f"{scheme.lower()}://{name}{port_part}")


def suggestion(text: str) -> str | None:
    """The serialised origin ``text`` probably means (case, default port, a trailing
    slash), for error messages; ``None`` when it is not close to one."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    candidate = f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    origin = parse(candidate) or (
        parse(f"{scheme}://{host}") if port == DEFAULT_PORTS.get(scheme) else None
    )
    return str(origin) if origin is not None and str(origin) != text else None
