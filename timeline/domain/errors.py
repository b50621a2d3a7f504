"""Domain errors: each says which field is wrong, so the API can name it to the user."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain enforces; never a server fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def within(self, prefix: str) -> DomainError:
        """The same error, its field named from an enclosing place (``items.3``: the field
        ``kind`` becomes ``items.3.kind``), as a body that holds many of them names it."""
        self.field = f"{prefix}.{self.field}" if self.field else prefix
        return self


class InvalidValue(DomainError):
    """A value breaks a rule of the model (naive time, low > value, unknown kind…)."""


class IncidentNotFound(DomainError):
    """No incident has this id (or it was not yet known at the asked time)."""


class StatementNotFound(DomainError):
    """No statement with this id was recorded in the incident."""


class Conflict(DomainError):
    """The request contradicts what is already recorded (duplicate id, double withdrawal)."""


class StaleVersion(DomainError):
    """The write was made against a version of the incident that is no longer the current one
    (an ``If-Match`` that does not hold): another writer changed it in between."""

    def __init__(self, message: str, current_version: int) -> None:
        super().__init__(message, None)
        self.current_version = current_version
