"""Fetching user-supplied URLs without letting them reach our own network.

Every hop is resolved, every resolved address checked, and the connection made to the checked address (the
Host header and TLS name stay the URL's), so DNS rebinding between check and connect cannot redirect it."""

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

from mediahub.errors import AppError, TooLarge

MAX_REDIRECTS = 5
Resolver = Callable[[str, int], list[str]]


class UnsafeUrl(AppError):
    status = 400
    code = "url_not_allowed"


class FetchFailed(AppError):
    status = 400
    code = "url_fetch_failed"


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise FetchFailed(f"The host {host!r} could not be resolved.") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def _allowlist() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.MEDIAHUB_SSRF_ALLOWLIST]


def address_allowed(address: str) -> bool:
    """Public unicast addresses are allowed; private, loopback, link-local (metadata), multicast and reserved
    ones only when MEDIAHUB_SSRF_ALLOWLIST names them."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in network for network in _allowlist()):
        return True
    if isinstance(ip, ipaddress.IPv6Address) and (ip.sixtofour or ip.is_site_local):
        # 6to4 (2002::/16, embeds an IPv4 address: 2002:a9fe:a9fe:: is 169.254.169.254) and site-local
        # (fec0::/10) count as global before Python 3.11.10 / 3.12.4; refused whatever the Python.
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


@dataclass
class Target:
    url: str
    host: str
    port: int
    address: str


def check_url(url: str, *, resolver: Resolver = system_resolver) -> Target:
    """The address to connect to for `url`, or UnsafeUrl when the URL or any address it resolves to is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("Only http and https URLs are accepted.")
    if not parts.hostname or parts.username or parts.password:
        raise UnsafeUrl("The URL needs a host name and no credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("The URL's port is not valid.") from None
    addresses = resolver(parts.hostname, port)
    if not addresses:
        raise FetchFailed(f"The host {parts.hostname!r} has no address.")
    refused = [address for address in addresses if not address_allowed(address)]
    if refused:
        raise UnsafeUrl("The URL points at a private, loopback or link-local address, which is not allowed.")
    return Target(url=url, host=parts.hostname, port=port, address=addresses[0])


def _pinned(target: Target) -> str:
    parts = urlsplit(target.url)
    host = f"[{target.address}]" if ":" in target.address else target.address
    return parts._replace(netloc=f"{host}:{target.port}").geturl()


@dataclass
class Download:
    path: Path
    name: str
    content_type: str
    size: int


def fetch_to_file(
    url: str, dest: Path, *, max_bytes: int, timeout: float = 30, resolver: Resolver = system_resolver
) -> Download:
    """Download `url` into `dest`, re-checking every redirect hop; stops at `max_bytes`."""
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            target = check_url(url, resolver=resolver)
            netloc = urlsplit(url).netloc.rsplit("@", 1)[-1]
            request = client.build_request(
                "GET", _pinned(target), headers={"Host": netloc}, extensions={"sni_hostname": target.host}
            )
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise FetchFailed(f"Fetching the URL failed: {type(exc).__name__}.") from None
            try:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code >= 400:
                    raise FetchFailed(f"The URL answered HTTP {response.status_code}.")
                size = 0
                with open(dest, "wb") as fh:
                    for chunk in response.iter_bytes(1024 * 1024):
                        size += len(chunk)
                        if size > max_bytes:
                            limit_mb = max_bytes // 2**20
                            raise TooLarge(f"The file at the URL is larger than the {limit_mb} MB limit.")
                        fh.write(chunk)
                name = urlsplit(url).path.rsplit("/", 1)[-1] or "download"
                content_type = response.headers.get("content-type", "application/octet-stream").split(";")[0]
                return Download(path=dest, name=name, content_type=content_type, size=size)
            finally:
                response.close()
    raise FetchFailed(f"The URL redirected more than {MAX_REDIRECTS} times.")


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    text: str


def post_checked(
    url: str, *, body: bytes, headers: dict, timeout: float, resolver: Resolver = system_resolver, limit: int = 2048
) -> Reply:
    """POST `body` to `url` after the SSRF check, connected to the checked address; redirects are not followed
    (a receiver that moved must be updated by its owner). Network failures raise httpx errors."""
    target = check_url(url, resolver=resolver)
    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1]
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        request = client.build_request(
            "POST",
            _pinned(target),
            content=body,
            headers={**headers, "Host": netloc},
            extensions={"sni_hostname": target.host},
        )
        response = client.send(request, stream=True)
        try:
            snippet = b""
            for chunk in response.iter_bytes():
                snippet += chunk
                if len(snippet) >= limit:
                    break
            return Reply(response.status_code, response.headers, snippet[:limit].decode(errors="replace"))
        finally:
            response.close()
