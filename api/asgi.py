"""The ASGI entry point for gunicorn's uvicorn workers (``timeline serve``, the Dockerfile and
compose): ``gunicorn --config python:gunicorn_conf 'api.asgi:app'``.

Requests go to the Flask app in a pool of ``TIMELINE_WEB_THREADS`` threads; the live feed is
served on the event loop (see :mod:`api.live`). Structured logging is set up from the settings
first, as in :mod:`api.wsgi` (the plain WSGI entry point, for any other WSGI server).
"""

from __future__ import annotations

from api import create_app
from api.live import LiveFront
from timeline.config import Settings
from timeline.log_format import configure

settings = Settings.from_env()
configure(settings.log_level, settings.log_format)
app = LiveFront(create_app(settings), threads=settings.web_threads)
