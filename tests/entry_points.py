"""Serving an entry point in a Flask test app, as functions-framework does: every path
goes to it, and errors Flask raises itself are rendered by ``framework_error``."""

from __future__ import annotations

import typing
from collections.abc import Callable

import flask
from flask import Flask, Request, Response
from werkzeug.exceptions import HTTPException

from app import Container
from handlers import entry_point
from handlers.http import framework_error

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


def flask_app(serve: Callable[[Request], Response]) -> Flask:
    """A Flask app whose every route is ``serve``."""

    def run(path: str = "") -> Response:
        return serve(typing.cast(Request, flask.request))

    app = Flask("entry-point")
    app.add_url_rule("/<path:path>", "run", run, methods=METHODS)
    app.add_url_rule("/", "root", run, methods=METHODS)
    app.register_error_handler(HTTPException, framework_error)
    return app


def serving(name: str, container: Container) -> Flask:
    """The entry point ``name`` (``local``: all functions) of ``container``, in a Flask app."""
    return flask_app(entry_point(name, container))
