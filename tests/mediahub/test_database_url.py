import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("url", ["garbage", "mysql://user@db/mediahub", "postgres://db.example"])
def test_an_unusable_database_url_fails_the_checks_with_mediahub_e004(url, tmp_path):
    env = {**os.environ, "DATABASE_URL": url, "MEDIAHUB_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "mediahub.E004" in done.stderr and "DATABASE_URL" in done.stderr


def test_a_postgres_url_passes_the_database_url_check(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgres://user@db.example/mediahub", "MEDIAHUB_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--tag", "database"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert "mediahub.E004" not in done.stderr


def database_settings(tmp_path, argv: tuple[str, ...] = (), **env) -> dict:
    """DATABASES["default"] and the pool settings as a process started with `env` (and `argv`) reads them."""
    script = (
        "import json, sys; sys.argv[1:] = json.loads(sys.argv[1]); from mediahub import settings as s; "
        "db = s.DATABASES['default']; "
        "print(json.dumps({'engine': db['ENGINE'], 'conn_max_age': db.get('CONN_MAX_AGE'), "
        "'health_checks': db.get('CONN_HEALTH_CHECKS'), 'pool': db.get('OPTIONS', {}).get('pool')}))"
    )
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "MEDIAHUB_DATA_DIR": str(tmp_path), **env}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(argv)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_postgres_connections_come_from_a_bounded_checked_pool(tmp_path):
    db = database_settings(tmp_path, DATABASE_URL="postgres://user@db.example/mediahub")

    assert db["conn_max_age"] == 0  # Django's pool refuses persistent connections
    assert db["health_checks"] is True  # Django then gives the pool check=ConnectionPool.check_connection
    assert db["pool"]["min_size"] == 1
    assert db["pool"]["max_size"] == min(32, 2 * os.cpu_count() + 4)
    assert db["pool"]["timeout"] == 10


def test_pool_size_and_timeout_come_from_the_environment(tmp_path):
    db = database_settings(
        tmp_path,
        DATABASE_URL="postgres://user@db.example/mediahub",
        MEDIAHUB_DB_POOL_SIZE="12",
        MEDIAHUB_DB_POOL_TIMEOUT="3",
    )

    assert (db["pool"]["max_size"], db["pool"]["timeout"]) == (12, 3)


def test_a_qcluster_process_keeps_a_small_pool(tmp_path):
    db = database_settings(tmp_path, ("qcluster",), DATABASE_URL="postgres://user@db.example/mediahub")

    assert db["pool"]["max_size"] == 4


def test_the_embedded_sqlite_database_has_no_pool(tmp_path):
    db = database_settings(tmp_path)

    assert db["engine"] == "django.db.backends.sqlite3"
    assert db["pool"] is None
