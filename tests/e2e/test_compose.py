"""docker-compose.yml, run for real without a Docker engine (none runs where CI runs).

The file is read as compose would read it: its `migrate`, `api` and `worker` services' own
commands, environment, replicas and health check are started here as processes against the
test PostgreSQL and Redis (only the addresses are swapped: `postgres`/`redis` host names and
the published port). What this cannot show — the image build, the postgres and redis images,
volumes — is checked for shape; the Dockerfile must copy every package the project installs.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.e2e.processes import clean_env, free_port, stop, wait_until
from tests.factories import a_statement, an_incident, as_json

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_the_topology_waits_for_its_dependencies_and_migrates_once(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker"}
    for store in ("postgres", "redis"):
        assert services[store]["healthcheck"]["test"]
        assert services[store]["volumes"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for role in ("api", "worker"):
        needs = services[role]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["redis"]["condition"] == "service_healthy"
        assert services[role]["environment"]["TIMELINE_CREATE_TABLES"] == "no"
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["api"]["healthcheck"]["test"]


def test_the_image_holds_every_package_the_project_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    copied = {
        source
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
    }
    top_level = {pattern.rstrip("*") for pattern in project["packages"]["find"]["include"]}
    top_level |= {f"{module}.py" for module in project["py-modules"]}
    assert top_level | {"pyproject.toml", "README.md"} <= copied


def _local(command: list[str], port: int) -> list[str]:
    """A compose command as it runs here: the venv's scripts, the published port."""
    local = [sys.executable] if command[0] == "python" else [str(BIN / command[0])]
    published = re.compile(r"(0\.0\.0\.0|127\.0\.0\.1):8000")
    return [published.sub(f"127.0.0.1:{port}", arg) for arg in local + command[1:]]


@pytest.fixture
def deployment(
    compose: dict[str, Any],
    postgres_server: str,
    postgres_schema: str,
    redis_url: str,
    tmp_path: Path,
) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """The compose services started as processes; yields the API's URL, env and health check."""
    services = compose["services"]
    environment = dict(services["api"]["environment"])
    environment |= {
        "TIMELINE_DATABASE_URL": postgres_server,
        "TIMELINE_DATABASE_SCHEMA": postgres_schema,
        "TIMELINE_REDIS_URL": redis_url,
        "TIMELINE_DATA_DIR": str(tmp_path / "data"),
        "TIMELINE_SWEEP_INTERVAL": "0.5",
    }
    env = clean_env() | environment
    port = free_port()
    migrated = subprocess.run(
        _local(services["migrate"]["command"], port), env=env, capture_output=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr.decode()[-2000:]

    processes = []
    roles = [("api", 1), ("worker", services["worker"]["deploy"]["replicas"])]
    for role, replicas in roles:
        for n in range(replicas):
            with open(tmp_path / f"{role}{n}.log", "ab") as log:
                processes.append(
                    subprocess.Popen(
                        _local(services[role]["command"], port),
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
    health = _local(services["api"]["healthcheck"]["test"][1:], port)
    try:
        yield f"http://127.0.0.1:{port}/api/v1", environment, health
    finally:
        for process in processes:
            stop(process)
        for log_file in sorted(tmp_path.glob("*.log")):
            print(log_file.name, log_file.read_text()[-1500:])


def test_compose_services_serve_writes_and_build_projections(
    deployment: tuple[str, dict[str, str], list[str]],
) -> None:
    base, environment, health = deployment

    def healthy() -> bool:
        return subprocess.run(health, capture_output=True, timeout=10).returncode == 0

    wait_until(healthy, 60, "the api service's health check")
    keys = dict(pair.split(":", 1) for pair in environment["TIMELINE_API_KEYS"].split(","))
    writer = {"Authorization": f"Bearer {keys['write']}"}
    created = requests.post(
        f"{base}/incidents",
        json=as_json(an_incident()) | {"statements": [as_json(a_statement())]},
        headers=writer,
        timeout=10,
    )
    assert created.status_code == 201, created.text

    def caught_up() -> bool:
        ready = requests.get(f"{base}/ready", timeout=5).json()
        return ready["head"] == 2 and all(p["lag"] == 0 for p in ready["projections"])

    wait_until(caught_up, 60, "the worker services to build every projection")
    timeline = requests.get(f"{base}/timeline", timeout=5).json()
    assert [item["incident"]["id"] for item in timeline["items"]] == [created.json()["id"]] * 2

    admin = {"Authorization": f"Bearer {keys['admin']}"}
    metrics = requests.get(f"{base}/metrics", headers=admin, timeout=5).text
    served = re.findall(r'timeline_http_requests_total\{[^}]*status="201"[^}]*\} (\S+)', metrics)
    assert sum(float(n) for n in served) == 1, metrics  # counted across the api's gunicorn workers
