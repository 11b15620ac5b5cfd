"""Operator command-line tools (run with Admin SDK credentials, never over HTTP)."""
