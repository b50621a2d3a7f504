"""Prometheus metrics: request counts and latencies, projection lag, queues, webhook outcomes."""

from __future__ import annotations

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import WRITE_KEY
from tests.factories import a_statement, an_incident, as_json
from timeline.bootstrap import Services


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/api/v1/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_show_requests_lag_queues_and_deliveries(
    client: FlaskClient, services: Services
) -> None:
    before = scrape(client)
    route = (("method", "POST"), ("route", "/api/v1/incidents"), ("status", "201"))
    body = as_json(an_incident()) | {"statements": [as_json(a_statement())]}
    writer = {"Authorization": f"Bearer {WRITE_KEY}"}
    for _ in range(3):
        assert client.post("/api/v1/incidents", json=body, headers=writer).status_code == 201

    after = scrape(client)
    counted = after[("timeline_http_requests_total", route)]
    assert counted - before.get(("timeline_http_requests_total", route), 0) == 3
    latency = (("method", "POST"), ("route", "/api/v1/incidents"))
    assert after[("timeline_http_request_duration_seconds_count", latency)] >= 3
    assert after[("timeline_log_head_position", ())] == 6
    assert after[("timeline_projection_lag_events", (("projection", "timeline"),))] == 6
    assert after[("timeline_projection_position", (("projection", "claims"),))] == 0
    assert after[("timeline_projection_blocked", (("projection", "webhooks"),))] == 0
    assert after[("timeline_queue_jobs", (("queue", services.settings.queue_name),))] == 1
    assert after[("timeline_webhook_deliveries", (("status", "pending"),))] == 0

    services.runner.run_all()
    caught_up = scrape(client)
    assert caught_up[("timeline_projection_lag_events", (("projection", "timeline"),))] == 0
