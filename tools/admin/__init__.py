"""The admin command line: roles, users, sessions and the audit log, over the Admin SDK.

``python -m tools.admin --help``.
"""

from tools.admin.cli import main

__all__ = ["main"]
