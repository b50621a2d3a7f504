"""The domain model: the Incident aggregate, its events, value rules and errors.

Imports only the standard library and ``eventsourcing.domain``.
"""

from timeline.domain.errors import (
    Conflict,
    DomainError,
    IncidentNotFound,
    InvalidValue,
    StaleVersion,
    StatementNotFound,
)
from timeline.domain.incident import Incident

__all__ = [
    "Conflict",
    "DomainError",
    "Incident",
    "IncidentNotFound",
    "InvalidValue",
    "StaleVersion",
    "StatementNotFound",
]
