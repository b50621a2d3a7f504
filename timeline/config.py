"""Settings: the one place that reads the environment."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

SCOPES = ("read", "write", "admin")


class ConfigError(ValueError):
    """A setting in the environment is malformed; the message names the variable."""


@dataclass(frozen=True)
class PostgresParams:
    """Connection parameters taken apart from a ``postgresql://`` URL."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> PostgresParams:
        """Parse a libpq-style URL; the library wants the parts, not the URL."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ConfigError(f"TIMELINE_DATABASE_URL must be postgresql://…, got {url!r}")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=(parts.path or "/").lstrip("/") or "postgres",
        )

    def conninfo(self) -> str:
        """A psycopg connection string for the read-model connections."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=self.dbname,
        )


def parse_api_keys(text: str) -> dict[str, str]:
    """Turn ``scope:key,scope:key`` into ``{key: scope}``; reject unknown scopes loudly."""
    keys: dict[str, str] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        scope, sep, key = item.partition(":")
        if not sep or not key or scope not in SCOPES:
            raise ConfigError(
                f"TIMELINE_API_KEYS entries must look like 'write:secret' with a scope in "
                f"{', '.join(SCOPES)}; got {item.split(':')[0]!r}…"
            )
        keys[key] = scope
    return keys


# Seconds before each retry of a failed webhook delivery: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


def parse_schedule(text: str) -> tuple[float, ...]:
    """Turn ``5,300,1800`` into seconds; every delay must be a non-negative number."""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        delays = (-1.0,)
    if any(d < 0 for d in delays):
        raise ConfigError(
            f"TIMELINE_WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, got {text!r}"
        )
    return delays


LOG_FORMATS = ("json", "text")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"TIMELINE_{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _log_level(value: str) -> str:
    level = value.upper()
    return _choice("LOG_LEVEL", level, ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))


def _rate_limit(value: str | None, default: str | None) -> str | None:
    if value is None:
        return default
    return None if value.strip().lower() in ("off", "none", "no", "0") else value.strip()


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str, name: str) -> tuple[Network, ...]:
    """Comma-separated addresses or networks (``10.0.0.0/8, ::1``)."""
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in value.split(",")
            if part.strip()
        )
    except ValueError as error:
        raise ConfigError(f"TIMELINE_{name}: {error}") from None


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "y", "yes", "true", "on")


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the service, built once and passed everywhere."""

    data_dir: Path = Path("var")
    database_url: str | None = None
    database_schema: str = "public"
    database_pool_size: int = 5
    database_connect_timeout: float = 5.0
    redis_url: str | None = None
    api_keys: Mapping[str, str] = field(default_factory=dict)
    read_requires_key: bool = False
    secret_key: str | None = None
    # Set by `timeline serve` for its children: where it writes what each of them is doing.
    supervisor_status: Path | None = None
    max_body_bytes: int = 5 * 1024 * 1024
    projection_batch_size: int = 1000
    min_position_wait: float = 5.0
    sweep_interval: float = 5.0
    lock_timeout: float = 30.0
    job_linger: float = 0.25
    create_tables: bool = True
    queue_name: str = "timeline"
    webhook_allow_private: bool = False
    webhook_timeout: float = 10.0
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    webhook_disable_after: float = 24 * 3600.0
    webhook_secret_overlap: float = 24 * 3600.0
    stream_seconds: float = 300.0
    stream_max_clients: int = 1000
    stream_max_per_caller: int = 20
    web_threads: int = 8
    log_level: str = "INFO"
    rate_limit: str | None = "1200/minute"
    rate_limit_per_endpoint: str | None = None
    trusted_proxies: tuple[Network, ...] = ()
    log_format: str = "json"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``TIMELINE_*`` variables; unset ones keep their defaults."""
        env = os.environ if environ is None else environ
        defaults = cls()

        def get(name: str) -> str | None:
            value = env.get(f"TIMELINE_{name}")
            return value if value not in (None, "") else None

        def number(name: str, default: float, kind: type = int) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                return kind(raw)  # type: ignore[no-any-return]
            except ValueError:
                raise ConfigError(f"TIMELINE_{name} must be a number, got {raw!r}") from None

        return cls(
            # Resolved once, here: every part of the process (and every child it starts, which
            # inherits the variable) then opens the same store wherever it runs from.
            data_dir=Path(get("DATA_DIR") or defaults.data_dir).expanduser().absolute(),
            database_url=get("DATABASE_URL"),
            database_schema=get("DATABASE_SCHEMA") or defaults.database_schema,
            database_pool_size=int(number("DATABASE_POOL_SIZE", defaults.database_pool_size)),
            database_connect_timeout=number(
                "DATABASE_CONNECT_TIMEOUT", defaults.database_connect_timeout, float
            ),
            redis_url=get("REDIS_URL"),
            api_keys=parse_api_keys(get("API_KEYS") or ""),
            read_requires_key=_bool(get("READ_REQUIRES_KEY") or "no"),
            secret_key=get("SECRET_KEY"),
            supervisor_status=Path(status) if (status := get("SUPERVISOR_STATUS")) else None,
            max_body_bytes=int(number("MAX_BODY_BYTES", defaults.max_body_bytes)),
            projection_batch_size=int(
                number("PROJECTION_BATCH_SIZE", defaults.projection_batch_size)
            ),
            min_position_wait=number("MIN_POSITION_WAIT", defaults.min_position_wait, float),
            sweep_interval=number("SWEEP_INTERVAL", defaults.sweep_interval, float),
            lock_timeout=number("LOCK_TIMEOUT", defaults.lock_timeout, float),
            job_linger=number("JOB_LINGER", defaults.job_linger, float),
            create_tables=_bool(get("CREATE_TABLES") or "yes"),
            queue_name=get("QUEUE") or defaults.queue_name,
            webhook_allow_private=_bool(get("WEBHOOK_ALLOW_PRIVATE") or "no"),
            webhook_timeout=number("WEBHOOK_TIMEOUT", defaults.webhook_timeout, float),
            webhook_retry_schedule=parse_schedule(get("WEBHOOK_RETRY_SCHEDULE") or "")
            or defaults.webhook_retry_schedule,
            webhook_disable_after=number(
                "WEBHOOK_DISABLE_AFTER", defaults.webhook_disable_after, float
            ),
            webhook_secret_overlap=number(
                "WEBHOOK_SECRET_OVERLAP", defaults.webhook_secret_overlap, float
            ),
            stream_seconds=number("STREAM_SECONDS", defaults.stream_seconds, float),
            stream_max_clients=int(number("STREAM_MAX_CLIENTS", defaults.stream_max_clients)),
            stream_max_per_caller=int(
                number("STREAM_MAX_PER_CALLER", defaults.stream_max_per_caller)
            ),
            web_threads=int(number("WEB_THREADS", defaults.web_threads)),
            log_level=_log_level(get("LOG_LEVEL") or defaults.log_level),
            rate_limit=_rate_limit(get("RATE_LIMIT"), defaults.rate_limit),
            rate_limit_per_endpoint=_rate_limit(get("RATE_LIMIT_PER_ENDPOINT"), None),
            trusted_proxies=parse_networks(get("TRUSTED_PROXIES") or "", "TRUSTED_PROXIES"),
            log_format=_choice("LOG_FORMAT", get("LOG_FORMAT") or defaults.log_format, LOG_FORMATS),
        )

    @property
    def postgres(self) -> PostgresParams | None:
        """The PostgreSQL parameters, or None when running on the embedded SQLite default."""
        return PostgresParams.from_url(self.database_url) if self.database_url else None

    @property
    def events_path(self) -> Path:
        """SQLite file of the event store (embedded default)."""
        return self.data_dir / "events.sqlite3"

    @property
    def views_path(self) -> Path:
        """SQLite file of the read models, apart so projections never block appends."""
        return self.data_dir / "views.sqlite3"

    @property
    def subscriptions_path(self) -> Path:
        """SQLite file of the subscription events (they hold secrets: not in the public log)."""
        return self.data_dir / "subscriptions.sqlite3"

    @property
    def keys_path(self) -> Path:
        """SQLite file of the API key store (hashes only)."""
        return self.data_dir / "keys.sqlite3"

    @property
    def webhook_queue_name(self) -> str:
        """The queue of delivery jobs, apart so projections never wait behind a slow receiver."""
        return f"{self.queue_name}-webhooks"

    @property
    def embedded_redis_path(self) -> Path:
        """Where the embedded Redis keeps its database file (and its socket beside it)."""
        return self.data_dir / "redis.db"

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields replaced (tests, the CLI's options)."""
        from dataclasses import replace

        return replace(self, **changes)  # type: ignore[arg-type]


def describe_store(settings: Settings) -> str:
    """One line naming the store a command opens, so that a command run from another directory
    (the default data directory is ./var, relative to where it runs) cannot silently open a
    new, empty one."""
    postgres = settings.postgres
    if postgres is not None:
        return (
            f"store: PostgreSQL {postgres.host}:{postgres.port}/{postgres.dbname} "
            f"schema {settings.database_schema} (data directory {settings.data_dir})"
        )
    state = "" if settings.events_path.exists() else " (new, empty: set TIMELINE_DATA_DIR to "
    state += "use another)" if state else ""
    return f"store: SQLite in {settings.data_dir}{state}"
