"""The dashboard in a real browser against a real server: `manage.py serve` (uvicorn + workers) on the
embedded default, driven by Debian's Chromium. Skipped where Chromium is not installed,
except in CI, which installs it and fails without it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.tools import require

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    require("chromium", "chromium")  # before a server is started for nothing
    data_dir = tmp_path_factory.mktemp("live-app")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(MEDIAHUB_DATA_DIR=str(data_dir), PORT=str(_free_port()), HOST="127.0.0.1")

    def manage(*args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)

    manage("migrate", "--noinput")
    manage("createcachetable")
    manage("collectstatic", "--noinput")
    manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; User.objects.create_user('dana', password='dana-pw-123')",
    )
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 (the server writes to it until teardown)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        os.killpg(server.pid, signal.SIGTERM)
        pytest.fail("the server did not become healthy:\n" + (data_dir / "server.log").read_text()[-3000:])
    yield base
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=20)
    log.close()


@pytest.fixture
def page(live_app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=require("chromium", "chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        yield page
        browser.close()


def test_upload_shows_live_progress_and_plays_the_output(page, live_app, media_dir):
    from tests.media import make_clip

    clip = make_clip(media_dir / "browser.mp4", seconds=6, size="640x360")
    page.goto(live_app + "/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "dana")
    page.fill("#id_password", "dana-pw-123")
    page.click("button[type=submit]")
    page.set_input_files("#id_file", str(clip))
    page.select_option("#id_format", "webm")
    pushed = []
    page.on(
        "websocket",
        lambda socket: socket.on("framereceived", lambda frame: pushed.append(json.loads(frame)["job"]["status"])),
    )
    page.click("text=Upload and start")

    page.wait_for_url("**/jobs/job_*/")
    page.wait_for_selector("video", timeout=90_000)  # the page reloads itself once the socket says it finished
    # the status changes reached the open page over its WebSocket, as they happened
    assert {"running", "succeeded"} <= set(pushed), pushed
    assert pushed.index("running") < pushed.index("succeeded")
    duration = page.eval_on_selector(
        "video",
        "v => new Promise(r => v.readyState >= 1 ? r(v.duration)"
        " : v.addEventListener('loadedmetadata', () => r(v.duration)))",
    )
    assert duration == pytest.approx(6, abs=0.1)
    assert page.text_content("[data-field=status]") == "succeeded"
