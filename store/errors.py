"""Firestore failures, translated at the boundary into the backend's errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from google.api_core import exceptions as gexc

from core.errors import Busy, Unavailable

logger = logging.getLogger(__name__)

_UNAVAILABLE = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.Unknown,
    gexc.ResourceExhausted,
    gexc.RetryError,
)


@contextmanager
def translated() -> Iterator[None]:
    """Map transport and contention failures to 503 ``unavailable`` / 409 ``busy``.

    A failed transaction is rolled back by the client library, so nothing is
    half-applied when these are raised.
    """
    try:
        yield
    except gexc.Aborted:
        logger.warning("Firestore transaction aborted by contention")
        raise Busy() from None
    except _UNAVAILABLE as error:
        logger.warning("Firestore unavailable: %s", type(error).__name__)
        raise Unavailable() from None
    except ValueError as error:
        # The client library raises ValueError for "transaction retries exhausted"
        # (caused by Aborted) and when rolling back a transaction whose begin never
        # reached Firestore (raised while handling the transport error): look at
        # what happened underneath.
        underlying = _google_error_beneath(error)
        if isinstance(underlying, gexc.Aborted):
            logger.warning("Firestore transaction retries exhausted")
            raise Busy() from None
        if isinstance(underlying, _UNAVAILABLE):
            logger.warning("Firestore unavailable: %s", type(underlying).__name__)
            raise Unavailable() from None
        raise


def _google_error_beneath(error: BaseException) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, gexc.GoogleAPICallError | gexc.RetryError):
            return current
        current = current.__cause__ or current.__context__
    return None
