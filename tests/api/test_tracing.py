"""Request ids and structured logs: every answer says its id, every line carries it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from timeline.config import ConfigError, Settings
from timeline.log_format import JsonFormatter


class Lines(logging.Handler):
    """Formats each record as it is logged (while the request's context is still set)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def access_log() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("timeline.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


def test_every_answer_carries_a_request_id_and_logs_a_json_line(
    client: FlaskClient, access_log: Lines
) -> None:
    response = client.get("/api/v1/timeline?kind=picnic")
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32
    (line,) = access_log.lines
    assert line["request_id"] == request_id
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/timeline", 422)
    assert line["endpoint"] == "timeline.Timeline"
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO" and line["logger"] == "timeline.access"


def test_a_callers_request_id_is_kept_when_it_looks_like_one(client: FlaskClient) -> None:
    kept = client.get("/api/v1/health", headers={"X-Request-ID": "dash-42.a:b"})
    assert kept.headers["X-Request-ID"] == "dash-42.a:b"
    for odd in ("has spaces", "x" * 200, "<script>"):
        replaced = client.get("/api/v1/health", headers={"X-Request-ID": odd})
        assert replaced.headers["X-Request-ID"] != odd


def test_log_settings_are_checked() -> None:
    assert Settings.from_env({"TIMELINE_LOG_LEVEL": "debug"}).log_level == "DEBUG"
    with pytest.raises(ConfigError, match="TIMELINE_LOG_FORMAT"):
        Settings.from_env({"TIMELINE_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="TIMELINE_LOG_LEVEL"):
        Settings.from_env({"TIMELINE_LOG_LEVEL": "loud"})
