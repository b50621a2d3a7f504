"""Importing the datasets analysts already hold: ACLED, UCDP GED, and our own NDJSON.

Each format module reads a file into :class:`~timeline.importing.rows.Parsed` rows — a /batch
item in the API's shape, or the problems that keep the row out — naming the dataset's own
columns. :mod:`timeline.importing.loader` checks every row, then sends them in chunks to the
application (local) or to a service's /batch (remote): an upsert, so an import can be repeated,
resumed after an interruption, or fed a newer release, and writes only what changed.
"""
