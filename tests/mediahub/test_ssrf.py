"""User URLs never reach our own network: decisions tested with a stub resolver, real connections only to
loopback canaries."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mediahub.ssrf import UnsafeUrl, address_allowed, check_url


def resolver_for(*addresses):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "::ffff:127.0.0.1",
        "fd00::1",
        "fe80::1",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
    ],
)
def test_private_loopback_and_metadata_addresses_are_refused(address):
    assert not address_allowed(address)
    with pytest.raises(UnsafeUrl):
        check_url("http://example.com/video.mp4", resolver=resolver_for(address))


def test_public_addresses_are_allowed():
    target = check_url("https://example.com:8443/v.mp4", resolver=resolver_for("93.184.216.34"))
    assert (target.address, target.port, target.host) == ("93.184.216.34", 8443, "example.com")


def test_a_name_resolving_to_public_and_private_addresses_is_refused():
    with pytest.raises(UnsafeUrl):
        check_url("http://rebind.example/", resolver=resolver_for("93.184.216.34", "10.0.0.5"))


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/", "http://user:pw@example.com/", "http:///x"]
)
def test_non_http_schemes_and_credentials_are_refused(url):
    with pytest.raises(UnsafeUrl):
        check_url(url, resolver=resolver_for("93.184.216.34"))


@pytest.mark.parametrize("url", ["http://2130706433/", "http://0177.0.0.1/", "http://[::1]/", "http://localhost/"])
def test_numeric_and_ipv6_loopback_forms_are_refused_after_real_resolution(url):
    with pytest.raises(UnsafeUrl):
        check_url(url)


def test_the_allowlist_lets_a_trusted_network_through(settings):
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    assert check_url("http://127.0.0.1:9/").address == "127.0.0.1"
    assert not address_allowed("10.0.0.1")


class Canary(BaseHTTPRequestHandler):
    hits: list[str] = []
    body = b""

    def do_GET(self):  # noqa: N802
        Canary.hits.append(self.path)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/clip.mp4")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(Canary.body)))
        self.end_headers()
        self.wfile.write(Canary.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def canary(clip_path):
    Canary.hits, Canary.body = [], clip_path.read_bytes()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_import_from_loopback_is_refused_and_the_server_sees_no_request(alice_api, canary):
    response = alice_api.post("/api/v1/assets", {"url": f"{canary}/clip.mp4"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "url_not_allowed"
    assert Canary.hits == []


def test_import_from_an_allowlisted_host_stores_the_video(alice_api, canary, settings):
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.1/32"]
    response = alice_api.post("/api/v1/assets", {"url": f"{canary}/redirect"}, format="json")
    assert response.status_code == 201, response.content
    asset = response.json()
    assert (asset["kind"], asset["name"], asset["width"]) == ("video", "clip.mp4", 320)
    assert Canary.hits == ["/redirect", "/clip.mp4"]


def test_import_larger_than_the_limit_is_413(alice_api, canary, settings):
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.1/32"]
    settings.MEDIAHUB_MAX_UPLOAD_BYTES = 1000
    response = alice_api.post("/api/v1/assets", {"url": f"{canary}/clip.mp4"}, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
