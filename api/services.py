"""Access to the process's services from inside a request."""

from __future__ import annotations

from flask import current_app

from timeline.bootstrap import Services


def services() -> Services:
    """The services the app factory hung on the Flask app."""
    found: Services = current_app.extensions["timeline"]
    return found
