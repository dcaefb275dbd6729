"""The Docker deployment, checked without a Docker engine.

compose.yaml and the Dockerfile are parsed and held to what the deployment relies on; the
environment file is cross-checked against settings.py both ways; /healthz, the web container's
probe and the worker probe are exercised for real (PostgreSQL, Redis, gunicorn, a Celery
worker); `check --deploy` and the image's collectstatic step run as the image would run them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
SETTINGS_PY = ROOT / "scaletest_site" / "settings.py"

APP_SERVICES = ("migrate", "web", "worker", "generator", "beat")
# Read by compose.yaml for ${...} interpolation only; Django never sees them as settings.
COMPOSE_ONLY_VARS = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "WEB_PORT",
    "WEB_CONCURRENCY",
    "WORKER_CONCURRENCY",
    "GENERATOR_CONCURRENCY",
}


# ---- helpers ------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: continuations joined, comment lines dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in (DOCKER / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, args = current.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        current = ""
    return instructions


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in dockerfile_instructions():
        if keyword == "ENV":
            env.update(dict(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", args)))
    return env


def settings_env_names() -> set[str]:
    source = SETTINGS_PY.read_text()
    readers = r"env_str|env_bool|env_int|env_list|os\.environ\.get|os\.getenv"
    pattern = rf"""(?:{readers})\(\s*["']([A-Z0-9_]+)["']"""
    names = set(re.findall(pattern, source))
    names |= set(re.findall(r"""os\.environ\[\s*["']([A-Z0-9_]+)["']\s*\]""", source))
    return names


def env_example_lines() -> list[tuple[str, str, bool]]:
    """(name, value, active) for `NAME=value` and commented `#NAME=value` lines."""
    found = []
    for line in (DOCKER / ".env.example").read_text().splitlines():
        match = re.match(r"^(#?)([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found.append((match.group(2), match.group(3), match.group(1) == ""))
    return found


def env_example_production() -> dict[str, str]:
    found = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        match = re.match(r"^# production: ([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def manage(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def base_env(data_dir: Path) -> dict[str, str]:
    """A clean environment: nothing from this shell or tests/_env.py leaks into the child."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data_dir),
        "SCALETEST_NO_BOOTSTRAP": "1",
        "SCALETEST_DATA_DIR": str(data_dir),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- compose.yaml -------------------------------------------------------------------------


def test_compose_has_every_service() -> None:
    assert set(compose()["services"]) >= {"web", "worker", "generator", "beat", "db", "redis", "migrate"}


@pytest.mark.parametrize("name", ["web", "worker", "generator", "db", "redis"])
def test_compose_service_has_an_enabled_healthcheck(name: str) -> None:
    healthcheck = service(name)["healthcheck"]
    assert not healthcheck.get("disable")
    assert healthcheck["test"]
    assert {"interval", "timeout", "retries"} <= set(healthcheck)


@pytest.mark.parametrize("name", ["worker", "generator"])
def test_compose_worker_can_be_scaled(name: str) -> None:
    worker = service(name)
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "hostname" not in worker  # the worker probe pings celery@<container host name>


@pytest.mark.parametrize("name", ["worker", "generator"])
def test_compose_worker_keeps_locust_out_of_the_worker_process(name: str) -> None:
    worker = service(name)
    command = " ".join(worker["command"])
    assert "celery" in command and " worker" in command
    assert "--pool=prefork" in command
    assert "gevent" not in command and "eventlet" not in command
    assert worker["init"] is True  # reaps the Locust children
    assert worker["ulimits"]["nofile"]["soft"] >= 65536


def test_compose_generator_consumes_only_the_generator_queue_one_run_per_process() -> None:
    command = " ".join(service("generator")["command"])
    # The same default as settings.py: SCALETEST_QUEUE + "-generators".
    assert '--queues="$${SCALETEST_GENERATOR_QUEUE:-$${SCALETEST_QUEUE:-scaletest}-generators}"' in command
    assert "--disable-prefetch" in command
    assert "--concurrency=${GENERATOR_CONCURRENCY:-1}" in command
    assert service("generator")["healthcheck"]["test"][-1] == "healthcheck-worker"


def test_compose_worker_masters_listen_where_generators_can_reach_them() -> None:
    assert service("worker")["environment"]["SCALETEST_GENERATOR_BIND"] == "0.0.0.0"
    # Generators reach the master over the compose network: nothing is published.
    assert "ports" not in service("worker")


def test_the_generator_queue_defaults_to_the_run_queue_plus_generators(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env["SCALETEST_QUEUE"] = "runs-x"
    code = "from django.conf import settings as s; print(s.SCALETEST_GENERATOR_QUEUE, s.CELERY_TASK_ROUTES)"
    result = manage(["shell", "-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split()[0] == "runs-x-generators"
    assert "'runs.tasks.run_generator': {'queue': 'runs-x-generators'}" in result.stdout


def test_compose_worker_healthcheck_pings_its_own_worker() -> None:
    assert service("worker")["healthcheck"]["test"][-1] == "healthcheck-worker"
    script = (DOCKER / "entrypoint.sh").read_text()
    assert "worker_health --local" in script


def test_compose_beat_runs_celery_beat_on_the_data_volume() -> None:
    command = " ".join(service("beat")["command"])
    assert "celery" in command and " beat" in command
    assert "--schedule=/data/" in command


def test_compose_only_web_publishes_a_port() -> None:
    published = {name for name, svc in compose()["services"].items() if svc.get("ports")}
    assert published == {"web"}
    assert service("web")["ports"] == ["${WEB_PORT:-8000}:8000"]


def test_compose_migrations_run_once_before_the_app_starts() -> None:
    migrate = service("migrate")
    assert migrate["command"][:3] == ["python", "manage.py", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("web", "worker", "generator", "beat"):
        depends = service(name)["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_compose_app_services_share_image_env_file_and_urls() -> None:
    for name in APP_SERVICES:
        svc = service(name)
        assert svc["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        assert svc["env_file"] == ".env"
        env = svc["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
        assert "data:/data" in svc["volumes"]


def test_compose_db_and_redis_images_and_checks() -> None:
    db, redis = service("db"), service("redis")
    assert db["image"] == "postgres:16"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "pgdata:/var/lib/postgresql/data" in db["volumes"]
    assert redis["image"] == "redis:7"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "redisdata:/data" in redis["volumes"]


def test_compose_declares_every_named_volume_it_mounts() -> None:
    doc = compose()
    declared = set(doc["volumes"])
    assert declared == {"data", "pgdata", "redisdata"}
    used = {
        volume.split(":", 1)[0]
        for svc in doc["services"].values()
        for volume in svc.get("volumes", [])
        if not volume.startswith((".", "/"))
    }
    assert used == declared


def test_compose_interpolates_only_variables_the_env_example_defines() -> None:
    referenced = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", (DOCKER / "compose.yaml").read_text()))
    defined = {name for name, _, _ in env_example_lines()}
    assert referenced - defined == set()


# ---- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_base_image_is_python_312_slim() -> None:
    froms = [args for keyword, args in dockerfile_instructions() if keyword == "FROM"]
    assert froms == ["python:3.12-slim"]


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [args for keyword, args in dockerfile_instructions() if keyword == "USER"]
    assert users, "no USER instruction"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_installs_requirements_without_cache() -> None:
    runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]
    assert any("pip install --no-cache-dir -r requirements.txt" in run for run in runs)


def test_dockerfile_collects_static_with_manifest_storage_outside_the_data_volume() -> None:
    env = dockerfile_env()
    assert env["SCALETEST_NO_BOOTSTRAP"] == "1"
    assert not env["SCALETEST_STATIC_ROOT"].startswith(env["SCALETEST_DATA_DIR"])
    runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]
    collect = [run for run in runs if "manage.py collectstatic --noinput" in run]
    assert collect
    # A throwaway key: settings would otherwise write a real one into the image.
    assert "SECRET_KEY=" in collect[0]


def test_dockerfile_default_command_is_gunicorn_on_8000() -> None:
    instructions = dict(dockerfile_instructions())
    command = json.loads(instructions["CMD"])
    assert command[:2] == ["gunicorn", "scaletest_site.wsgi"]
    assert "0.0.0.0:8000" in command
    assert instructions["EXPOSE"] == "8000"
    assert json.loads(instructions["ENTRYPOINT"]) == ["/app/docker/entrypoint.sh"]


def test_dockerfile_healthcheck_probes_healthz() -> None:
    instructions = dict(dockerfile_instructions())
    assert instructions["HEALTHCHECK"].endswith('CMD ["/app/docker/entrypoint.sh", "healthcheck-web"]')
    script = (DOCKER / "entrypoint.sh").read_text()
    assert "http://127.0.0.1:8000/healthz" in script


def test_entrypoint_is_valid_sh_and_execs_its_arguments(tmp_path: Path) -> None:
    script = DOCKER / "entrypoint.sh"
    assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    out = subprocess.run(["sh", str(script), "echo", "passed through"], capture_output=True, text=True)
    assert out.stdout == "passed through\n"


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", "docker/.env"} <= ignored


# ---- docker/.env.example <-> settings.py --------------------------------------------------


def test_every_setting_read_from_the_environment_is_in_env_example() -> None:
    listed = {name for name, _, _ in env_example_lines()}
    assert settings_env_names() - listed == set()


def test_every_env_example_variable_is_read_by_settings_or_compose() -> None:
    listed = {name for name, _, _ in env_example_lines()}
    compose_text = (DOCKER / "compose.yaml").read_text()
    unknown = listed - settings_env_names() - COMPOSE_ONLY_VARS
    assert unknown == set()
    for name in COMPOSE_ONLY_VARS:
        assert "${" + name in compose_text, f"{name} is compose-only, yet compose.yaml never reads it"


def test_env_example_leaves_secrets_blank() -> None:
    values = {name: value for name, value, active in env_example_lines() if active}
    assert values["SECRET_KEY"] == ""
    assert values["POSTGRES_PASSWORD"] == ""


def test_env_example_as_copied_gives_valid_settings(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env.update({name: value for name, value, active in env_example_lines() if active})
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    result = manage(["check"], env)
    assert result.returncode == 0, result.stderr


def test_env_example_production_values_pass_the_deploy_check(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env.update({name: value for name, value, active in env_example_lines() if active})
    env.update(env_example_production())
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- manage.py check --deploy -------------------------------------------------------------


def test_deploy_check_is_clean_with_production_env(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env.update(
        {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "false",
            "SCALETEST_HTTPS": "true",
            "ALLOWED_HOSTS": "example.com",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": os.environ["REDIS_URL"],
        }
    )
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# ---- /healthz -----------------------------------------------------------------------------


def assert_no_secrets(body: str) -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    assert settings.SECRET_KEY not in body
    # Where the database lives: a server's host name, or SQLite's file path.
    assert (db.get("HOST") or str(db["NAME"])) not in body
    assert "://" not in body  # no database, broker or Redis URL
    password = settings.DATABASES["default"].get("PASSWORD")
    if password:
        assert password not in body


def test_healthz_is_ok_with_database_and_redis_up(client: Any, db: None) -> None:
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert_no_secrets(response.content.decode())


def test_healthz_is_503_when_redis_is_down(client: Any, db: None, settings: Any) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    settings.CELERY_BROKER_URL = "redis://:hunter2@127.0.0.1:1/0"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "unavailable"}
    assert "hunter2" not in response.content.decode()
    assert_no_secrets(response.content.decode())


def test_healthz_skips_the_broker_in_embedded_mode(client: Any, db: None, settings: Any) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["broker"] == "not-checked"


def test_healthz_answers_the_container_probe_behind_https_settings(
    client: Any, db: None, settings: Any
) -> None:
    # What entrypoint.sh healthcheck-web relies on when SCALETEST_HTTPS=true.
    settings.ALLOWED_HOSTS = ["example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    probe = client.get("/healthz", HTTP_HOST="example.com", HTTP_X_FORWARDED_PROTO="https")
    assert probe.status_code == 200
    assert client.get("/healthz", HTTP_HOST="example.com").status_code == 301


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_container_web_probe_passes_against_gunicorn_with_production_settings(tmp_path: Path) -> None:
    from django.db import connection

    from tests.conftest import database_url as test_database_url

    port = free_port()
    database_url = test_database_url(connection.settings_dict)  # the test database, either kind
    env = base_env(tmp_path)
    env.update(
        {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SCALETEST_HTTPS": "true",
            "ALLOWED_HOSTS": ".example.com,localhost",
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ["REDIS_URL"],
        }
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "scaletest_site.wsgi", "--bind", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                time.sleep(0.2)
        # The probe as the image runs it, pointed at this server's port.
        script = (DOCKER / "entrypoint.sh").read_text().replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        probe = subprocess.run(
            ["sh", "-s", "healthcheck-web"], input=script, env=env, capture_output=True, text=True
        )
        assert probe.returncode == 0, probe.stderr
    finally:
        server.terminate()
        server.wait(timeout=15)


# ---- worker_health ------------------------------------------------------------------------


def test_worker_health_fails_when_no_worker_answers() -> None:
    with pytest.raises(CommandError, match="no worker answered"):
        call_command("worker_health", node=f"celery@nobody-{uuid.uuid4().hex}", timeout=0.5)


@pytest.mark.slow
def test_worker_health_succeeds_when_a_real_worker_answers(tmp_path: Path) -> None:
    node = f"health-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app=scaletest_site",
            "worker",
            f"--hostname={node}",
            "--pool=prefork",
            "--concurrency=1",
            f"--queues=health-{uuid.uuid4().hex}",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=dict(os.environ, SCALETEST_NO_BOOTSTRAP="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                call_command("worker_health", node=node, timeout=1.0)
                break
            except CommandError:
                assert worker.poll() is None, "worker exited"
                assert time.monotonic() < deadline, "worker never answered"
    finally:
        worker.terminate()
        worker.wait(timeout=30)


# ---- the image's collectstatic step -------------------------------------------------------


@pytest.mark.slow
def test_collectstatic_as_in_the_image_writes_a_manifest_outside_the_data_dir(tmp_path: Path) -> None:
    static_root = tmp_path / "staticfiles"
    env = base_env(tmp_path / "data")
    env.update({"SECRET_KEY": "collectstatic-at-build-time-only", "SCALETEST_STATIC_ROOT": str(static_root)})
    result = manage(["collectstatic", "--noinput"], env, timeout=240)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    for name in ("vendor/plotly/plotly-basic.min.js", "js/charts.js", "css/app.css"):
        hashed = manifest["paths"][name]
        assert hashed != name and (static_root / hashed).exists()
        # What WhiteNoise sends to browsers that accept them.
        assert (static_root / f"{hashed}.br").exists() and (static_root / f"{hashed}.gz").exists()
    assert not (tmp_path / "data" / "static").exists()
