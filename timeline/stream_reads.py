"""Reading many streams in one query: what a bulk upsert needs before it can compare anything.

The library reads one stream a query. An import chunk of 1,000 rows names 1,000 external ids
and as many incidents; looked up one by one, that is 2,000 round trips a chunk, a third of an
import's time. This reads the events of many streams at once from the library's own events
table (SQLite or PostgreSQL), in order, for the application to decode and replay as the
library would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier

# Ids a statement: well under SQLite's limit on bound parameters (32,766).
PER_QUERY = 500


def select_streams(
    recorder: AggregateRecorder, stream_ids: Collection[UUID]
) -> dict[UUID, list[StoredEvent]]:
    """Every stored event of each stream, by stream id, oldest first (streams with no events
    are left out)."""
    found: dict[UUID, list[StoredEvent]] = defaultdict(list)
    ids = sorted(set(stream_ids))
    for start in range(0, len(ids), PER_QUERY):
        for stored in _select(recorder, ids[start : start + PER_QUERY]):
            found[UUID(str(stored.originator_id))].append(stored)
    return dict(found)


def _select(recorder: AggregateRecorder, ids: list[UUID]) -> Iterator[StoredEvent]:
    order = " ORDER BY originator_id, originator_version"
    if isinstance(recorder, SQLiteAggregateRecorder):
        marks = ",".join("?" for _ in ids)
        statement = (
            f"SELECT * FROM {recorder.events_table_name} WHERE originator_id IN ({marks})" + order
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, [i.hex for i in ids])
            rows: list[Any] = cursor.fetchall()
        for row in rows:
            yield StoredEvent(
                originator_id=recorder.convert_originator_id(row["originator_id"]),
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
    elif isinstance(recorder, PostgresAggregateRecorder):
        query = SQL("SELECT * FROM {schema}.{table} WHERE originator_id = ANY(%s)" + order).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )
        with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(query, [ids])
            for row in cursor.fetchall():
                yield StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
    else:  # any other recorder: one stream a query, as the library reads them
        for stream_id in ids:
            yield from recorder.select_events(stream_id)
