"""Deploy the backend to Cloud Functions gen2 and Firebase from ``deploy/config.toml``.

``python -m tools.deploy --help``; ``--dry-run`` prints the exact commands.
"""

from tools.deploy.cli import main

__all__ = ["main"]
