"""Fixtures the integration tests of `timeline import` share."""

from __future__ import annotations

from pathlib import Path

import pytest

from timeline.bootstrap import Services
from timeline.config import Settings


@pytest.fixture
def store(
    cli_env: Settings, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Services:
    """The test's store, the CLI pointed at it, in the test's own directory (where an import
    writes its problems report)."""
    monkeypatch.chdir(tmp_path)
    return services
