"""Which strings may name a document this backend created.

The server generates every ID with Firestore's auto-ID (20 characters of
``[A-Za-z0-9]``). Anything else (slashes, dots, ``__x__`` names, over-long
strings, control or zero-width characters) is refused before a path is built.
"""

from __future__ import annotations

import re

_AUTO_ID = re.compile(r"[A-Za-z0-9]{20}")


def is_document_id(value: str) -> bool:
    return _AUTO_ID.fullmatch(value) is not None
