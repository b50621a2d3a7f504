"""The WSGI entry point for gunicorn: ``gunicorn 'api.wsgi:app'``.

Sets up structured logging from the settings, then builds the app; ``create_app`` itself leaves
logging alone so tests and embedding applications keep theirs.
"""

from __future__ import annotations

from api import create_app
from timeline.config import Settings
from timeline.log_format import configure

settings = Settings.from_env()
configure(settings.log_level, settings.log_format)
app = create_app(settings)
