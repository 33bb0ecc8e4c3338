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
