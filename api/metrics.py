"""Prometheus metrics at ``GET /api/v1/metrics``.

Two kinds: request counts and latencies, counted in this process (summed across gunicorn
workers when ``PROMETHEUS_MULTIPROC_DIR`` is set, as ``timeline serve`` does); and the state of
the deployment — log head, each projection's position and lag, queue depths, webhook deliveries
by status and attempts by outcome — read from the database and Redis at scrape time, so every
API process reports the same numbers whichever machine the work happened on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from flask.views import MethodView
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from api.auth import require
from api.json_bodies import Blueprint
from api.services import services
from timeline.bootstrap import Services
from timeline.supervision import read_status

blp = Blueprint("metrics", __name__, url_prefix="/api/v1", description="Prometheus metrics.")

REQUESTS = Counter(
    "timeline_http_requests",
    "HTTP requests answered, by method, route and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "timeline_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
METRICS_DOC = {
    "responses": {
        "200": {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
}


class DeploymentState(Collector):
    """Reads the deployment's state when scraped (a failing source is simply left out)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Log head, projections, queues, webhook deliveries, and `timeline serve`'s children."""
        yield from self._projections()
        yield from self._queues()
        yield from self._webhooks()
        yield from self._children()

    def _children(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        status = read_status(self.services.settings.supervisor_status)
        if status is None:
            return
        restarts = CounterMetricFamily(
            "timeline_child_restarts",
            "Times `timeline serve` restarted each of its processes.",
            labels=["child", "kind"],
        )
        up = GaugeMetricFamily(
            "timeline_child_up", "1 while the process runs, 0 while it is restarting.",
            labels=["child", "kind"],
        )  # fmt: skip
        for child in status["children"]:
            labels = [child["name"], child["kind"]]
            restarts.add_metric(labels, child["restarts"])
            up.add_metric(labels, 1 if child["state"] == "running" else 0)
        yield restarts
        yield up

    def _projections(self) -> Iterator[GaugeMetricFamily]:
        try:
            statuses = self.services.runner.status()
        except Exception:  # the database is down: /ready says so; metrics stay scrapeable
            return
        head = GaugeMetricFamily(
            "timeline_log_head_position", "Position of the newest event in the log."
        )
        head.add_metric([], statuses[0].head if statuses else 0)
        yield head
        position = GaugeMetricFamily(
            "timeline_projection_position", "Last log position applied.", labels=["projection"]
        )
        lag = GaugeMetricFamily(
            "timeline_projection_lag_events", "Events not yet applied.", labels=["projection"]
        )
        blocked = GaugeMetricFamily(
            "timeline_projection_blocked",
            "1 when a projection cannot run until an operator migrates it (see /ready).",
            labels=["projection"],
        )
        stopped = GaugeMetricFamily(
            "timeline_projection_stopped_at",
            "The log position of an event a projection could not apply (0: none; see /ready).",
            labels=["projection"],
        )
        for status in statuses:
            position.add_metric([status.name], status.position)
            lag.add_metric([status.name], status.lag)
            blocked.add_metric([status.name], 1 if status.problem else 0)
            stopped.add_metric([status.name], status.stopped.position if status.stopped else 0)
        yield position
        yield lag
        yield blocked
        yield stopped

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "timeline_queue_jobs", "Jobs waiting in an RQ queue.", labels=["queue"]
        )
        scheduled = GaugeMetricFamily(
            "timeline_queue_scheduled_jobs", "Jobs scheduled for later (retries).", labels=["queue"]
        )
        try:
            for queue in (self.services.queue(), self.services.webhook_queue()):
                depth.add_metric([queue.name], queue.count)
                scheduled.add_metric([queue.name], queue.scheduled_job_registry.count)
        except Exception:  # Redis is down: the write path does not need it
            return
        yield depth
        yield scheduled

    def _webhooks(self) -> Iterator[GaugeMetricFamily]:
        try:
            statuses, outcomes = self.services.deliveries.counts()
        except Exception:
            return
        deliveries = GaugeMetricFamily(
            "timeline_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        for status, count in statuses.items():
            deliveries.add_metric([status], count)
        attempts = GaugeMetricFamily(
            "timeline_webhook_attempts",
            "Webhook delivery attempts by outcome (2xx, 3xx, 4xx, 5xx, error).",
            labels=["outcome"],
        )
        for outcome, count in outcomes.items():
            attempts.add_metric([outcome], count)
        yield deliveries
        yield attempts


@blp.route("/metrics")
class Metrics(MethodView):
    """Prometheus scrape target."""

    @require("read")
    @blp.doc(**METRICS_DOC)
    def get(self) -> Response:
        """Request counts and latencies, log head, projection lag, queues, webhook outcomes."""
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry.register(REQUESTS)
            registry.register(LATENCY)
        registry.register(DeploymentState(services()))
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _count(response: Response) -> Response:
    started = g.get("started")  # set by api.tracing, installed first
    if started is not None:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
    return response


def install(app: Flask) -> None:
    """Count and time every request (install after api.tracing, which notes the start)."""
    app.after_request(_count)
