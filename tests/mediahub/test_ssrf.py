"""User URLs never reach our own network.

Every user-supplied URL goes through mediahub.ssrf: asset imports (POST /api/v1/assets {"url"}), webhook endpoints,
per-job and batch `webhook_url`, and every webhook delivery (re-checked when it is sent). Decisions about private,
link-local and metadata addresses are tested with stub resolvers (or a stubbed getaddrinfo) and never by sending
traffic; real connections go only to loopback canaries on 127.0.0.x / ::1, which must see no request when a URL
is refused."""

import ipaddress
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.utils import timezone

from jobs.models import Asset, Batch, Job, WebhookDelivery, WebhookEndpoint
from jobs.services.webhooks import delivery_send
from mediahub.ssrf import (
    FetchFailed,
    UnsafeUrl,
    address_allowed,
    check_url,
    fetch_to_file,
    post_checked,
    system_resolver,
)

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


def resolver_for(*addresses):
    return lambda host, port: list(addresses)


def no_lookup(host, port):
    raise AssertionError(f"{host!r} was resolved: the URL should have been refused before any DNS lookup")


# --- loopback canaries ----------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup for 127.0.0.x; none is needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Server6(_Server):
    address_family = socket.AF_INET6


class Canary:
    """A real HTTP server on a loopback address that records every request (method, path, Host header).
    Paths in `redirects` answer 302 with that Location; every other path answers 200 with `body`."""

    def __init__(self, host: str, port: int = 0, body: bytes = b"canary", redirects: dict[str, str] | None = None):
        self.host, self.body, self.redirects = host, body, redirects or {}
        self.requests: list[tuple[str, str, str]] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                canary.requests.append((self.command, self.path, self.headers.get("Host", "")))
                if self.path in canary.redirects:
                    self.send_response(302)
                    self.send_header("Location", canary.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(canary.body)))
                self.end_headers()
                self.wfile.write(canary.body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = (_Server6 if ":" in host else _Server)((host, port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"http://{self.netloc}{path}"

    @property
    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canaries():
    """canaries(host, **kwargs) → a started Canary; all are stopped after the test."""
    started: list[Canary] = []

    def start(host: str = "127.0.0.1", **kwargs) -> Canary:
        started.append(Canary(host, **kwargs))
        return started[-1]

    yield start
    for canary in started:
        canary.stop()


@pytest.fixture
def canary(canaries, clip_path) -> Canary:
    """The usual target: 127.0.0.1, serving the test clip, /redirect → /clip.mp4 on itself."""
    server = canaries("127.0.0.1", body=clip_path.read_bytes())
    server.redirects["/redirect"] = server.url("/clip.mp4")
    return server


@pytest.fixture
def dns(monkeypatch):
    """Stub DNS for the code paths that use the real resolver (the API and webhook delivery): `dns.answers[name]`
    is a list of answers, one per lookup (the last repeats); other hosts go to the real getaddrinfo, which these
    tests only give numeric addresses and localhost."""
    real = socket.getaddrinfo
    stub = SimpleNamespace(answers={}, lookups=[])

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 (socket's own names)
        name = host.decode() if isinstance(host, bytes) else host
        if name not in stub.answers:
            return real(host, port, family, type, proto, flags)
        stub.lookups.append(name)
        answers = stub.answers[name]
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return stub


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """A tripwire: a connection to anything but this machine fails before a packet is sent, and fails the test.
    Should a check regress, the private and metadata addresses in these tables are still never contacted."""
    attempts = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        ip = ipaddress.ip_address(address[0].split("%", 1)[0])
        ip = getattr(ip, "ipv4_mapped", None) or ip
        if not (ip.is_loopback or ip.is_unspecified):
            attempts.append(address[0])
            raise ConnectionRefusedError(f"tripwire: {address[0]} is not a loopback canary")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield
    assert attempts == [], f"connections to {attempts} were attempted"


# --- address decisions (no traffic) ---------------------------------------------------------------------------

REFUSED_ADDRESSES = {
    # loopback
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback, top of 127/8",
    "::1": "IPv6 loopback",
    # private ranges
    "10.0.0.1": "10/8",
    "10.255.255.255": "10/8 top",
    "172.16.0.1": "172.16/12",
    "172.31.255.254": "172.16/12 top",
    "192.168.1.1": "192.168/16",
    "100.64.0.1": "CGNAT 100.64/10",
    "100.127.255.254": "CGNAT top",
    "fc00::1": "unique local fc00::/7",
    "fd12:3456:789a::1": "unique local fd00::/8",
    # link-local and cloud metadata
    "169.254.169.254": "metadata (AWS, GCP, Azure)",
    "169.254.0.1": "IPv4 link-local",
    "fe80::1": "IPv6 link-local",
    "fe80::1%eth0": "IPv6 link-local with a zone",
    "fd00:ec2::254": "AWS metadata over IPv6",
    # IPv4 in IPv6
    "::ffff:127.0.0.1": "IPv4-mapped loopback",
    "::ffff:7f00:1": "IPv4-mapped loopback, hex",
    "0:0:0:0:0:ffff:127.0.0.1": "IPv4-mapped loopback, long form",
    "::ffff:169.254.169.254": "IPv4-mapped metadata",
    "::ffff:10.0.0.1": "IPv4-mapped private",
    "::127.0.0.1": "IPv4-compatible (deprecated) loopback",
    "64:ff9b::a9fe:a9fe": "NAT64 of the metadata address",
    "64:ff9b::a00:1": "NAT64 of 10.0.0.1",
    "2002:7f00:1::": "6to4 of 127.0.0.1",
    "2002:a9fe:a9fe::": "6to4 of the metadata address",
    "2002:a00:1::1": "6to4 of 10.0.0.1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe": "Teredo",
    "fec0::1": "IPv6 site-local (deprecated, still routed on old networks)",
    # unspecified, multicast, reserved, special purpose
    "0.0.0.0": "unspecified (connects to this host on Linux)",
    "0.1.2.3": "this network 0/8",
    "::": "IPv6 unspecified",
    "224.0.0.1": "multicast",
    "ff02::1": "IPv6 multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "broadcast",
    "192.0.2.1": "documentation",
    "198.18.0.1": "benchmarking",
}


@pytest.mark.parametrize("address", REFUSED_ADDRESSES, ids=[f"{a} ({why})" for a, why in REFUSED_ADDRESSES.items()])
def test_private_loopback_link_local_and_special_addresses_are_refused(address):
    assert not address_allowed(address)
    with pytest.raises(UnsafeUrl):
        check_url("http://example.com/video.mp4", resolver=resolver_for(address))


@pytest.mark.parametrize("address", [PUBLIC_V4, "1.1.1.1", PUBLIC_V6, "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_are_allowed(address):
    assert address_allowed(address)
    target = check_url("https://example.com:8443/v.mp4", resolver=resolver_for(address))
    assert (target.address, target.port, target.host) == (address, 8443, "example.com")


@pytest.mark.parametrize(
    "answer",
    [
        ["10.0.0.5"],
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["::1"],
        ["fd00::5"],
        [PUBLIC_V4, "10.0.0.5"],
        ["10.0.0.5", PUBLIC_V4],
        [PUBLIC_V4, "127.0.0.1"],
        [PUBLIC_V6, "::1"],
        [PUBLIC_V4, PUBLIC_V6, "169.254.169.254"],
        [PUBLIC_V4, "::ffff:127.0.0.1"],
    ],
    ids=lambda answer: "+".join(answer),
)
def test_a_name_with_any_private_address_is_refused(answer):
    """Every address a name resolves to is checked, not only the first: a name answering public and private
    addresses would otherwise reach the private one on a retry or through the client's own fallback."""
    with pytest.raises(UnsafeUrl):
        check_url("http://media.example/clip.mp4", resolver=resolver_for(*answer))


def test_a_name_without_addresses_is_refused():
    with pytest.raises(FetchFailed):
        check_url("http://nothing.example/", resolver=resolver_for())


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "ftp://example.com/x",
        "gopher://127.0.0.1:6379/_INFO",
        "dict://127.0.0.1:11211/stat",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "ws://example.com/",
        "//example.com/x",
        "example.com/x",
        "http:///x",
        "http://user:pw@example.com/",
        "http://user@example.com/",
        "http://:pw@example.com/",
        "https://user:pw@example.com:443/",
        "http://example.com:99999/",
        "http://example.com:port/",
    ],
)
def test_non_http_schemes_credentials_and_bad_ports_are_refused_before_any_lookup(url):
    with pytest.raises(UnsafeUrl):
        check_url(url, resolver=no_lookup)


LOOPBACK_FORMS = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://127.000.000.001/",
    "http://localhost/",
    "http://LOCALHOST/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://2130706433/",
    "http://017700000001/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://0.0.0.0/",
    "http://0/",
    "http://\u2460\u2461\u2466.0.0.1/",  # ①②⑦.0.0.1: IDNA folds the digits to 127.0.0.1
]


@pytest.mark.parametrize("url", LOOPBACK_FORMS)
def test_every_spelling_of_loopback_is_refused_after_real_resolution(url):
    """The system resolver turns every spelling into the address it connects to, and that address is checked
    (numeric forms and localhost only: no DNS query leaves the machine)."""
    with pytest.raises(UnsafeUrl):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fc00::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://0xa9fea9fe/",  # 169.254.169.254 in hex
        "http://2852039166/",  # 169.254.169.254 in decimal
    ],
)
def test_private_and_metadata_literals_are_refused_after_real_resolution(url):
    with pytest.raises(UnsafeUrl):
        check_url(url)


# --- the allowlist ---------------------------------------------------------------------------------------------


def test_the_allowlist_lets_a_trusted_network_through(settings):
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    assert check_url("http://127.0.0.1:9/").address == "127.0.0.1"
    assert not address_allowed("10.0.0.1")


@pytest.mark.parametrize(
    "allowlist, allowed, refused",
    [
        (["127.0.0.2/32"], ["127.0.0.2", "::ffff:127.0.0.2"], ["127.0.0.1", "127.0.0.3", "::1", "10.0.0.1"]),
        (["10.20.0.0/16"], ["10.20.0.1", "10.20.255.254"], ["10.21.0.1", "10.0.0.1", "192.168.0.1", "127.0.0.1"]),
        (["fd00:1::/64"], ["fd00:1::5"], ["fd00:2::5", "::1", "fe80::1", "10.0.0.1"]),
        ([], [], ["127.0.0.2", "10.20.0.1", "fd00:1::5"]),
    ],
)
def test_the_allowlist_lets_exactly_its_networks_through(settings, allowlist, allowed, refused):
    settings.MEDIAHUB_SSRF_ALLOWLIST = allowlist
    for address in allowed:
        assert address_allowed(address), address
        assert check_url("http://trusted.example/", resolver=resolver_for(address)).address == address
    for address in refused:
        assert not address_allowed(address), address
        with pytest.raises(UnsafeUrl):
            check_url("http://trusted.example/", resolver=resolver_for(address))
    # A name answering one allowlisted and one refused address is still refused.
    for address in refused:
        with pytest.raises(UnsafeUrl):
            check_url("http://trusted.example/", resolver=resolver_for(*allowed[:1], address))


def test_the_allowlist_does_not_open_other_schemes_or_credentials(settings):
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:70/", "http://user:pw@127.0.0.1/"):
        with pytest.raises(UnsafeUrl):
            check_url(url, resolver=no_lookup)


# --- every entry point of the API refuses them -------------------------------------------------------------------

# {port} is a live canary on 127.0.0.1 and {port6} one on ::1: if a refused URL were fetched, they would see it.
REFUSED_URLS = [
    "http://127.0.0.1:{port}/clip.mp4",
    "http://127.1:{port}/clip.mp4",
    "http://localhost:{port}/clip.mp4",
    "http://2130706433:{port}/clip.mp4",
    "http://017700000001:{port}/clip.mp4",
    "http://0x7f000001:{port}/clip.mp4",
    "http://0177.0.0.1:{port}/clip.mp4",
    "http://0.0.0.0:{port}/clip.mp4",
    "http://[::ffff:127.0.0.1]:{port}/clip.mp4",
    "http://[::ffff:7f00:1]:{port}/clip.mp4",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/clip.mp4",
    "http://[::1]:{port6}/clip.mp4",
    "http://user:pw@127.0.0.1:{port}/clip.mp4",
    "http://10.0.0.1/clip.mp4",
    "http://172.16.0.1/clip.mp4",
    "http://192.168.0.1/clip.mp4",
    "http://100.64.0.1/clip.mp4",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/clip.mp4",
    "http://[fd00::1]/clip.mp4",
    "file:///etc/passwd",
    "ftp://127.0.0.1:{port}/clip.mp4",
    "gopher://127.0.0.1:{port}/_GET",
    "dict://127.0.0.1:{port}/info",
    "data:video/mp4;base64,AAAA",
    "javascript:alert(1)",
    # Names resolving (through the stubbed DNS below) to refused addresses, or to a public and a refused one.
    "http://loopback.example:{port}/clip.mp4",
    "http://mixed.example:{port}/clip.mp4",
    "http://metadata.example/latest/meta-data/",
    "http://ula.example/clip.mp4",
]
DNS_ANSWERS = {
    "loopback.example": ["127.0.0.1"],
    "mixed.example": [PUBLIC_V4, "127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "ula.example": [PUBLIC_V6, "fd00::1"],
    "public.example": [PUBLIC_V4],
}


def _submit(entry: str, client, url: str, asset_id: str | None):
    """POST `url` to one of the API's URL-taking fields; returns (response, name of the field)."""
    if entry == "asset-import":
        return client.post("/api/v1/assets", {"url": url}, format="json"), "url"
    if entry == "webhook-endpoint":
        return client.post("/api/v1/webhooks", {"url": url}, format="json"), "url"
    job = {"operation": "transcode", "input": asset_id}
    if entry == "job-webhook-url":
        return client.post("/api/v1/jobs", {**job, "webhook_url": url}, format="json"), "webhook_url"
    return client.post("/api/v1/batches", {"jobs": [job], "webhook_url": url}, format="json"), "webhook_url"


ENTRIES = ["asset-import", "webhook-endpoint", "job-webhook-url", "batch-webhook-url"]


@pytest.fixture
def entry_asset(request, alice):
    """An asset of Alice's for the job and batch entries (the others need none)."""
    if request.node.callspec.params["entry"] in ("job-webhook-url", "batch-webhook-url"):
        return request.getfixturevalue("alice_clip")["id"]
    return None


@pytest.mark.parametrize("url", REFUSED_URLS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_every_url_field_of_the_api_refuses_internal_urls(entry, url, alice_api, entry_asset, canaries, dns, settings):
    settings.MEDIAHUB_SSRF_ALLOWLIST = []
    dns.answers.update({name: [answer] for name, answer in DNS_ANSWERS.items()})
    v4, v6 = canaries("127.0.0.1"), canaries("::1")
    assets_before = Asset.objects.count()

    response, field = _submit(entry, alice_api, url.format(port=v4.port, port6=v6.port), entry_asset)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    # Refused by the SSRF check (url_not_allowed, or the field's error), or already by the URL field's syntax.
    assert error["code"] == "url_not_allowed" or field in error.get("fields", {}), error
    assert v4.requests == [] and v6.requests == []
    assert Asset.objects.count() == assets_before
    assert not WebhookEndpoint.objects.exists()
    assert not Job.objects.exists() and not Batch.objects.exists()


@pytest.mark.parametrize("entry", ENTRIES[1:])
def test_url_fields_accept_a_public_name(entry, alice_api, entry_asset, dns, settings):
    """The control for the refusals above: the same request with a name resolving to a public address passes
    (nothing is sent: deliveries wait for the commit, which these tests never run)."""
    settings.MEDIAHUB_SSRF_ALLOWLIST = []
    dns.answers.update({name: [answer] for name, answer in DNS_ANSWERS.items()})

    response, _ = _submit(entry, alice_api, "https://public.example/hooks/mediahub", entry_asset)

    assert response.status_code in (201, 202), response.content


def test_import_from_loopback_is_refused_and_the_server_sees_no_request(alice_api, canary):
    response = alice_api.post("/api/v1/assets", {"url": canary.url("/clip.mp4")}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "url_not_allowed"
    assert canary.requests == []


def test_import_from_an_allowlisted_host_stores_the_video(alice_api, canary, settings):
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.1/32"]
    response = alice_api.post("/api/v1/assets", {"url": canary.url("/redirect")}, format="json")
    assert response.status_code == 201, response.content
    asset = response.json()
    assert (asset["kind"], asset["name"], asset["width"]) == ("video", "clip.mp4", 320)
    assert canary.paths == ["/redirect", "/clip.mp4"]


def test_import_larger_than_the_limit_is_413(alice_api, canary, settings):
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.1/32"]
    settings.MEDIAHUB_MAX_UPLOAD_BYTES = 1000
    response = alice_api.post("/api/v1/assets", {"url": canary.url("/clip.mp4")}, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


# --- redirects are checked at every hop --------------------------------------------------------------------------

# {inner} is a canary on 127.0.0.1 that the allowlist does NOT cover; the first hop is a canary on 127.0.0.2 that
# the allowlist (127.0.0.2/32) lets through, answering 302 with each of these.
REDIRECT_TARGETS = [
    "http://127.0.0.1:{inner}/clip.mp4",
    "http://localhost:{inner}/clip.mp4",
    "http://127.1:{inner}/clip.mp4",
    "http://2130706433:{inner}/clip.mp4",
    "http://0x7f000001:{inner}/clip.mp4",
    "http://[::ffff:127.0.0.1]:{inner}/clip.mp4",
    "http://0.0.0.0:{inner}/clip.mp4",
    "//127.0.0.1:{inner}/clip.mp4",
    "http://127.0.0.2:{outer}@127.0.0.1:{inner}/clip.mp4",
    "http://internal.example:{inner}/clip.mp4",
    "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{inner}/_GET",
    "ftp://127.0.0.1:{inner}/clip.mp4",
]


def stub_dns(names: dict[str, list[str]]):
    """A resolver for `fetch_to_file`/`check_url`: the names given, numeric hosts and localhost as the system
    resolves them (no query leaves the machine)."""
    return lambda host, port: names[host] if host in names else system_resolver(host, port)


@pytest.fixture
def hops(canaries, clip_path, settings):
    """An allowlisted first hop on 127.0.0.2 and a canary on 127.0.0.1 that is not allowlisted."""
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.2/32"]
    inner = canaries("127.0.0.1", body=clip_path.read_bytes())
    outer = canaries("127.0.0.2", body=clip_path.read_bytes())
    return SimpleNamespace(outer=outer, inner=inner)


@pytest.mark.parametrize("target", REDIRECT_TARGETS)
def test_a_redirect_to_an_internal_url_is_refused_and_never_followed(target, hops, tmp_path):
    hops.outer.redirects["/start"] = target.format(inner=hops.inner.port, outer=hops.outer.port)

    with pytest.raises(UnsafeUrl):
        fetch_to_file(
            hops.outer.url("/start"),
            tmp_path / "download",
            max_bytes=10**8,
            resolver=stub_dns({"internal.example": ["127.0.0.1"]}),
        )

    assert hops.outer.paths == ["/start"]
    assert hops.inner.requests == []
    assert not (tmp_path / "download").exists()


def test_a_redirect_within_the_allowlist_is_followed(hops, tmp_path):
    """The control: the same chain reaches the second hop when it is allowed too."""
    hops.outer.redirects["/start"] = hops.outer.url("/clip.mp4")

    download = fetch_to_file(hops.outer.url("/start"), tmp_path / "download", max_bytes=10**8)

    assert hops.outer.paths == ["/start", "/clip.mp4"]
    assert (download.name, download.size) == ("clip.mp4", len(hops.outer.body))


def test_an_import_redirected_to_loopback_is_refused_through_the_api(alice_api, hops):
    hops.outer.redirects["/start"] = hops.inner.url("/clip.mp4")

    response = alice_api.post("/api/v1/assets", {"url": hops.outer.url("/start")}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "url_not_allowed"
    assert hops.outer.paths == ["/start"]
    assert hops.inner.requests == []
    assert not Asset.objects.exists()


def test_a_redirect_loop_ends_after_the_limit(hops, tmp_path):
    hops.outer.redirects["/loop"] = "/loop"

    with pytest.raises(FetchFailed):
        fetch_to_file(hops.outer.url("/loop"), tmp_path / "download", max_bytes=10**8)

    assert 1 < len(hops.outer.requests) <= 10


def test_webhook_deliveries_do_not_follow_redirects(hops):
    hops.outer.redirects["/hook"] = hops.outer.url("/moved")

    reply = post_checked(hops.outer.url("/hook"), body=b"{}", headers={}, timeout=5)

    assert reply.status == 302
    assert hops.outer.paths == ["/hook"]


# --- the connection goes to the address that was checked (DNS rebinding) ------------------------------------------


@pytest.fixture
def rebinding(canaries, clip_path, settings, monkeypatch):
    """A name whose first answer is an allowlisted address (127.0.0.2) and every later answer another one
    (127.0.0.3, not allowlisted) — a rebinding DNS server. Both canaries listen on the same port, so a client that
    resolved the name again to connect would reach the second one. Proxy variables point at the second one too:
    a client that honoured them would hand the name to the proxy to resolve."""
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.2/32"]
    checked = canaries("127.0.0.2", body=clip_path.read_bytes())
    try:
        rebound = canaries("127.0.0.3", port=checked.port, body=clip_path.read_bytes())
    except OSError:  # the port is taken on 127.0.0.3: nothing to prove against
        pytest.skip("could not bind 127.0.0.3 on the canary's port")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, rebound.url())
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    calls = []

    def resolver(host, port):
        calls.append(host)
        return ["127.0.0.2"] if len(calls) == 1 else ["127.0.0.3"]

    return SimpleNamespace(checked=checked, rebound=rebound, resolver=resolver, calls=calls)


def test_fetch_connects_to_the_checked_address_with_the_urls_host_header(rebinding, tmp_path):
    url = f"http://media.example:{rebinding.checked.port}/clip.mp4"

    download = fetch_to_file(url, tmp_path / "download", max_bytes=10**8, resolver=rebinding.resolver)

    assert download.size == len(rebinding.checked.body)
    assert rebinding.calls == ["media.example"]  # resolved once, then connected to that answer
    assert rebinding.checked.requests == [("GET", "/clip.mp4", f"media.example:{rebinding.checked.port}")]
    assert rebinding.rebound.requests == []


def test_each_redirect_hop_is_resolved_once_and_connected_to_as_checked(rebinding, tmp_path):
    port = rebinding.checked.port
    rebinding.checked.redirects["/start"] = f"http://cdn.example:{port}/clip.mp4"
    answers = {"media.example": ["127.0.0.2"], "cdn.example": ["127.0.0.2"]}
    calls = []

    def resolver(host, port):
        calls.append(host)
        return answers.pop(host, ["127.0.0.3"])  # a second lookup of either name would rebind

    fetch_to_file(f"http://media.example:{port}/start", tmp_path / "download", max_bytes=10**8, resolver=resolver)

    assert calls == ["media.example", "cdn.example"]
    assert rebinding.checked.requests == [
        ("GET", "/start", f"media.example:{port}"),
        ("GET", "/clip.mp4", f"cdn.example:{port}"),
    ]
    assert rebinding.rebound.requests == []


def test_webhook_post_connects_to_the_checked_address_with_the_urls_host_header(rebinding):
    url = f"http://hooks.example:{rebinding.checked.port}/hooks/mediahub"

    reply = post_checked(url, body=b"{}", headers={}, timeout=5, resolver=rebinding.resolver)

    assert reply.status == 200
    assert rebinding.calls == ["hooks.example"]
    assert rebinding.checked.requests == [("POST", "/hooks/mediahub", f"hooks.example:{rebinding.checked.port}")]
    assert rebinding.rebound.requests == []


def test_an_import_through_the_api_is_pinned_to_the_checked_address(alice_api, rebinding, dns):
    """The same through the real resolver path (socket.getaddrinfo stubbed): the API resolves once per hop."""
    dns.answers["media.example"] = [["127.0.0.2"], ["127.0.0.3"]]
    url = f"http://media.example:{rebinding.checked.port}/clip.mp4"

    response = alice_api.post("/api/v1/assets", {"url": url}, format="json")

    assert response.status_code == 201, response.content
    assert dns.lookups == ["media.example"]
    assert rebinding.checked.paths == ["/clip.mp4"]
    assert rebinding.rebound.requests == []


# --- webhook delivery re-checks the URL ---------------------------------------------------------------------------


@pytest.fixture
def hook_target(alice, alice_api, canaries, dns, settings):
    """A webhook endpoint created while hooks.example resolved to a public address, and a delivery to it and one
    to a per-job URL on the same name; nothing has been sent yet."""
    settings.MEDIAHUB_SSRF_ALLOWLIST = []
    canary = canaries("127.0.0.1")
    url = f"http://hooks.example:{canary.port}/hooks/mediahub"
    dns.answers["hooks.example"] = [[PUBLIC_V4]]
    created = alice_api.post("/api/v1/webhooks", {"url": url}, format="json")
    assert created.status_code == 201, created.content
    endpoint = WebhookEndpoint.objects.get(id=created.json()["id"])

    def delivery(kind: str) -> WebhookDelivery:
        return WebhookDelivery.objects.create(
            owner=alice[0],
            endpoint=endpoint if kind == "endpoint" else None,
            url=url,
            event_id=f"evt_{kind}",
            event_type="job.succeeded",
            body="{}",
            next_attempt_at=timezone.now(),
        )

    return SimpleNamespace(canary=canary, url=url, delivery=delivery)


@pytest.mark.parametrize("kind", ["endpoint", "job-url"])
@pytest.mark.parametrize("now", [["127.0.0.1"], [PUBLIC_V4, "127.0.0.1"], ["169.254.169.254"], ["10.0.0.5"]])
def test_a_webhook_whose_name_turned_private_is_refused_at_delivery(hook_target, dns, kind, now):
    dns.answers["hooks.example"] = [now]
    delivery = hook_target.delivery(kind)

    sent = delivery_send(delivery_id=delivery.id)

    assert sent is not None
    assert sent.status == WebhookDelivery.Status.FAILED  # not retried: the URL is refused, not unreachable
    assert sent.next_attempt_at is None
    assert "not allowed" in sent.log[-1]["error"]
    assert hook_target.canary.requests == []


@pytest.mark.parametrize("kind", ["endpoint", "job-url"])
def test_a_webhook_delivery_goes_to_the_checked_address(hook_target, dns, settings, kind):
    """The control: an allowlisted receiver gets the POST, at the address checked, with the URL's Host header."""
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.1/32"]
    dns.answers["hooks.example"] = [["127.0.0.1"], ["10.0.0.5"]]  # a second lookup would be refused
    delivery = hook_target.delivery(kind)

    sent = delivery_send(delivery_id=delivery.id)

    assert sent.status == WebhookDelivery.Status.SUCCEEDED, sent.log
    assert hook_target.canary.requests == [("POST", "/hooks/mediahub", f"hooks.example:{hook_target.canary.port}")]
