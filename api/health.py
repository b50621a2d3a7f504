"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from api.json_bodies import Blueprint
from api.services import services
from timeline.supervision import read_status

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Liveness and readiness.")


class StoppedAt(Schema):
    """Where a projection stopped on an event it could not apply, and why."""

    position = fields.Integer()
    error = fields.String()
    attempts = fields.Integer()
    failed_at = fields.String()
    retry_at = fields.String()


class ProjectionLag(Schema):
    """How far one projection is behind the log."""

    name = fields.String()
    version = fields.Integer()
    position = fields.Integer()
    head = fields.Integer()
    lag = fields.Integer()
    problem = fields.String(
        allow_none=True,
        metadata={"description": "Why the projection cannot run (needs an operator), if so."},
    )
    stopped = fields.Nested(
        StoppedAt,
        allow_none=True,
        metadata={
            "description": "An event it could not apply, if so: it reads up to just "
            "before it, and is tried again at retry_at (the service stays ready)."
        },
    )


class ChildState(Schema):
    """One process `timeline serve` keeps running."""

    name = fields.String(metadata={"example": "RQ worker 1"})
    kind = fields.String(metadata={"enum": ["redis", "gunicorn", "rq-worker"]})
    state = fields.String(
        metadata={"enum": ["running", "restarting"], "description": "restarting: it exited "
                  "and is started again after a pause that grows while it keeps failing."},
    )  # fmt: skip
    pid = fields.Integer(allow_none=True)
    restarts = fields.Integer(metadata={"description": "Times restarted since serve began."})
    last_exit = fields.Integer(allow_none=True, metadata={"description": "Its last exit code "
                               "(negative: the signal that ended it)."})  # fmt: skip


class Workers(Schema):
    """RQ workers running, of those `timeline serve` was asked for."""

    alive = fields.Integer()
    expected = fields.Integer()


class Readiness(Schema):
    """Whether this process can serve, and what is behind."""

    ready = fields.Boolean()
    database = fields.String()
    redis = fields.String()
    head = fields.Integer(allow_none=True)
    projections = fields.List(fields.Nested(ProjectionLag))
    children = fields.List(
        fields.Nested(ChildState),
        metadata={"description": "Under `timeline serve`: each process it keeps running "
                  "(absent when the service runs otherwise, e.g. under compose)."},
    )  # fmt: skip
    workers = fields.Nested(Workers, metadata={"description": "Under `timeline serve`."})


class Alive(Schema):
    """The process answers."""

    status = fields.String(metadata={"enum": ["ok"]})


@blp.route("/health")
class Health(MethodView):
    """Liveness."""

    @blp.response(200, Alive)
    def get(self) -> dict[str, str]:
        """The process is up (it checks nothing else)."""
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    """Readiness."""

    @blp.response(200, Readiness)
    @blp.alt_response(503, schema=Readiness, description="The database is unreachable.")
    def get(self) -> tuple[dict[str, Any], int]:
        """Database and Redis reachability, and each projection's lag behind the log.

        Redis being down does not make the service unready: writes and SQL reads still work.
        A projection that cannot run until an operator migrates it (see ``problem``) does.
        Under `timeline serve`, also each of its processes: running, or restarting.
        """
        svc = services()
        answer: dict[str, Any] = {"database": "ok", "redis": "ok", "head": None, "projections": []}
        try:
            # The read-model pool answers within one connect timeout (at once while the
            # database gate is open); check it first.
            svc.reads.ping()
            statuses = svc.runner.status()
            answer["head"] = statuses[0].head if statuses else svc.app.head()
            answer["projections"] = [
                {
                    "name": s.name,
                    "version": s.version,
                    "position": s.position,
                    "head": s.head,
                    "lag": s.lag,
                    "problem": s.problem,
                    "stopped": s.stopped,
                }
                for s in statuses
            ]
        except Exception as error:  # any driver error means "not ready", never a 500
            answer["database"] = f"unreachable: {type(error).__name__}"
        try:
            svc.redis.ping()
        except Exception as error:
            answer["redis"] = f"unreachable: {type(error).__name__}"
        supervised = read_status(svc.settings.supervisor_status)
        if supervised is not None:
            answer["children"] = supervised["children"]
            workers = [c for c in supervised["children"] if c["kind"] == "rq-worker"]
            alive = sum(1 for c in workers if c["state"] == "running")
            answer["workers"] = {"alive": alive, "expected": len(workers)}
        stuck = any(p["problem"] for p in answer["projections"])
        answer["ready"] = answer["database"] == "ok" and not stuck
        return answer, 200 if answer["ready"] else 503
