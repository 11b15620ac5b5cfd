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
        # The client library signals "transaction retries exhausted" with ValueError.
        if isinstance(error.__cause__, gexc.Aborted):
            logger.warning("Firestore transaction retries exhausted: %s", error)
            raise Busy() from None
        raise
