"""The floor plus a Firestore client built on the first request (the issue's third
figure): what a function pays when it imports Firestore without needing it."""

from __future__ import annotations

import os
from typing import Any

from bench.coldstart.floor import floor as _floor


def floor_firestore(request: Any) -> tuple[dict[str, str], int]:
    from google.cloud import firestore as gcf

    gcf.Client(project=os.environ["FIREBASE_PROJECT_ID"])
    return _floor(request)
