"""A full batch of large items is written on PostgreSQL (it hung there once).

With 10,000 items of a dataset's size, the event store's insert — one INSERT of ~20,000 events
sent in psycopg's pipeline mode — left the client waiting for results while the server was
still reading the statement: the request never returned. The batch runs in a child process so
that a hang fails the test (killed at the timeout) instead of stalling the suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from timeline.config import Settings

ROOT = Path(__file__).resolve().parents[2]
WRITE_A_FULL_BATCH = """
import sys
from pathlib import Path
from timeline.bulk import MAX_BATCH_ITEMS
from timeline.bootstrap import build
from timeline.config import Settings

url, schema, data_dir, redis_url = sys.argv[1:5]
settings = Settings(data_dir=Path(data_dir), redis_url=redis_url, database_url=url,
                    database_schema=schema, rate_limit=None)
services = build(settings)
services.app.on_append = lambda position: None
notes = "Shelling reported in the city centre; several buildings were hit. " * 12
items = [
    {"title": f"Row {n}", "kind": "shelling", "occurred": {"start": "2022-03-01"},
     "location": {"name": "Kharkiv", "country": "UA", "lat": 49.99, "lon": 36.23},
     "actors": [{"name": "Military Forces of Russia (2000-)", "side": "RU"}],
     "properties": {"notes": notes, "fatalities": n % 5}, "external_ids": {"acled": f"R{n}"}}
    for n in range(MAX_BATCH_ITEMS)
]
services.app.apply_batch(items)
print(services.app.head())
services.close()
"""


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_full_batch_of_large_items_is_written(settings: Settings) -> None:
    assert settings.database_url is not None
    child = subprocess.run(
        [sys.executable, "-c", WRITE_A_FULL_BATCH, settings.database_url,
         str(settings.database_schema), str(settings.data_dir), str(settings.redis_url)],
        cwd=ROOT, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.split() == ["20000"]  # each report, and the claim of its external id
