"""Serve one authenticated ``GET /me`` in a fresh interpreter and report which heavy
modules that took: ``python -m bench.coldstart.probe TOKEN`` prints JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import functions_framework

SOURCE = Path(__file__).with_name("me.py")


def main() -> None:
    app = functions_framework.create_app(target="me", source=str(SOURCE))  # type: ignore[no-untyped-call]
    reply = app.test_client().get("/me", headers={"Authorization": f"Bearer {sys.argv[1]}"})
    print(
        json.dumps(
            {
                "status": reply.status_code,
                "google.cloud.firestore": "google.cloud.firestore" in sys.modules,
                "grpc": "grpc" in sys.modules,
                "pydantic": "pydantic" in sys.modules,
                "modules": len(sys.modules),
            }
        )
    )


if __name__ == "__main__":
    main()
