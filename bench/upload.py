"""Big uploads under daphne and under uvicorn, side by side: memory, speed and how early refusals come.

Makes a 1 GiB H.264 MP4 (a short noisy clip made with FFmpeg lavfi, stream-copied in a loop), then for each
server starts its own MediaHub (`manage.py serve --server <name> --no-workers`: embedded SQLite, a fresh data
dir, a free port) and measures, sampling the RSS of the server's whole process tree from /proc every 20 ms:

  upload    an authenticated 1 GiB multipart POST /api/v1/assets until its 201 (the server hashes, probes and
            stores it): the RSS it added (peak minus before) and the rate
  no-auth   a 300 MiB POST without credentials, sent until an answer comes: the RSS added, the time to the 401
            and how much of the body had been sent by then
  413       an authenticated POST declaring 1 GiB over the limit, headers only: the time to the 413 (a server
            that waits for the body gets none within --wait seconds)

A server whose tree passes --rss-cap-mib is killed and the case reported as over the cap, so that a buffering
server cannot take the shared machine's memory. The client sends with sendfile() from raw sockets, so its own
cost stays out of the figures. Prints a table with the ratios daphne/uvicorn.

    .venv/bin/python bench/upload.py [--size-mib 1024] [--noauth-mib 300] [--rss-cap-mib 6144]
"""

import argparse
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MIB = 2**20
PAGE = os.sysconf("SC_PAGE_SIZE")
BOUNDARY = "mediahub-bench-boundary"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_media(path: Path, size: int) -> None:
    """A 4 s 720p clip of noise (incompressible, so a few MB per second), looped by stream copy to `size`."""
    clip = path.with_name("seed.mp4")
    ffmpeg = ["ffmpeg", "-hide_banner", "-v", "error", "-y"]
    subprocess.run(
        [*ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=4,noise=alls=60:allf=t",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "200M", "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [*ffmpeg, "-stream_loop", "-1", "-i", str(clip), "-c", "copy", "-fs", str(size), str(path)], check=True
    )
    clip.unlink()


# --- the server and its memory ---------------------------------------------------------------------------------


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(entry.path, "stat").read_text()
                tree.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    return tree


def tree_rss(root: int) -> tuple[int, int]:
    """Resident bytes of `root` and all its descendants: (the server's own processes, with the FFmpeg tools
    they run, such as the ffprobe of an upload)."""
    tree, pending, own, tools = children(), [root], 0, 0
    while pending:
        pid = pending.pop()
        with contextlib.suppress(OSError):
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            if Path(f"/proc/{pid}/comm").read_text().strip() in ("ffprobe", "ffmpeg"):
                tools += rss
            else:
                own += rss
        pending.extend(tree.get(pid, []))
    return own, own + tools


TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK  # all but idle and iowait


def tree_cpu(root: int) -> float:
    """CPU seconds of `root`, its descendants and the children they waited for."""
    tree, pending, total = children(), [root], 0.0
    while pending:
        pid = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15]) / TICK
        pending.extend(tree.get(pid, []))
    return total


class Others:
    """CPU seconds that processes other than the server and this client used meanwhile: on a shared machine
    they say how far a measurement is from an idle machine's."""

    def __init__(self, root: int):
        self.root = root
        self.start = (busy_seconds(), tree_cpu(root), sum(os.times()[:2]))

    def seconds(self) -> float:
        busy, server, client = busy_seconds(), tree_cpu(self.root), sum(os.times()[:2])
        return max(0.0, (busy - self.start[0]) - (server - self.start[1]) - (client - self.start[2]))


class Sampler(threading.Thread):
    """Peak RSS of a process tree while it runs; kills the tree past `cap` bytes."""

    def __init__(self, root: int, cap: int):
        super().__init__(daemon=True)
        self.root, self.cap = root, cap
        self.before = tree_rss(root)[0]
        self.peak_own = self.peak_all = self.before
        self.capped = False
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            own, everything = tree_rss(self.root)
            self.peak_own, self.peak_all = max(self.peak_own, own), max(self.peak_all, everything)
            if everything > self.cap and not self.capped:
                self.capped = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.root, signal.SIGKILL)

    def added(self) -> tuple[int, int]:
        """(RSS added to the server's processes, and with its FFmpeg tools counted too)."""
        self.done.set()
        self.join()
        return self.peak_own - self.before, self.peak_all - self.before


class Server:
    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.port = free_port()
        self.log = workdir / f"{name}.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME", "MEDIA_ROOT", "MEDIAHUB_WORK_DIR")
        }
        self.env.update(MEDIAHUB_DATA_DIR=str(workdir / f"{name}-data"), MEDIAHUB_ENV="development")
        self.url = f"http://127.0.0.1:{self.port}/api/v1/assets"
        self.proc: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self) -> str:
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("createcachetable")
        key = self.manage("createapikey", "bench", "--name", "bench").strip().splitlines()[-1]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [PYTHON, "manage.py", "serve", "--server", self.name, "--no-workers", "--port", str(self.port)],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                # The first request loads the URLs and the API; the baseline is taken after it.
                request = urllib.request.Request(self.url, headers={"Authorization": f"Token {key}"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
                return key
            time.sleep(0.3)
        raise SystemExit(f"{self.name} did not start:\n{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None


# --- the client ------------------------------------------------------------------------------------------------


def request_head(length: int, key: str | None) -> bytes:
    auth = f"Authorization: Token {key}\r\n" if key else ""
    return (
        f"POST /api/v1/assets HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def read_status(sock: socket.socket, timeout: float) -> int | None:
    """The answer's status code, or None when none came within `timeout` seconds or the connection broke."""
    sock.settimeout(timeout)
    raw = b""
    try:
        while b"\r\n" not in raw and (data := sock.recv(65536)):
            raw += data
    except (TimeoutError, ConnectionResetError):
        pass
    return int(raw.split()[1]) if raw.startswith(b"HTTP/") else None


def multipart_framing() -> tuple[bytes, bytes]:
    """What goes before and after a file's bytes in a multipart body with one field, `file`."""
    pre = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
    return (pre + "Content-Type: video/mp4\r\n\r\n").encode(), f"\r\n--{BOUNDARY}--\r\n".encode()


def upload(port: int, key: str, path: Path) -> tuple[int | None, float]:
    """The whole file as multipart field `file`; (status, seconds to the answer)."""
    pre, post = multipart_framing()
    size = path.stat().st_size
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock, open(path, "rb") as fh:
        sock.sendall(request_head(len(pre) + size + len(post), key) + pre)
        try:
            sock.sendfile(fh)
            sock.sendall(post)
        except (BrokenPipeError, ConnectionResetError):
            return None, time.monotonic() - started
        status = read_status(sock, 600)
    return status, time.monotonic() - started


def unauthenticated(port: int, size: int) -> tuple[int | None, float, int]:
    """A well-formed multipart body of `size` bytes without credentials, sent until an answer is readable;
    (status, seconds, body bytes sent)."""
    pre, post = multipart_framing()
    body = pre + b"\0" * (size - len(pre) - len(post)) + post
    view = memoryview(body)
    sent = 0
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request_head(size, None))
        while sent < size and not select.select([sock], [], [], 0)[0]:
            try:
                sent += sock.send(view[sent : sent + MIB])
            except (BrokenPipeError, ConnectionResetError):
                break
        status = read_status(sock, 120)
    return status, time.monotonic() - started, sent


def declared_too_large(port: int, key: str, wait: float) -> tuple[int | None, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request_head(4096 * MIB + 1024 * MIB, key))
        status = read_status(sock, wait)
    return status, time.monotonic() - started


# --- the run -----------------------------------------------------------------------------------------------------


def measure(name: str, workdir: Path, media: Path, args) -> dict:
    server = Server(name, workdir)
    result: dict = {}
    try:
        key = server.start()
        cap = args.rss_cap_mib * MIB

        sampler = Sampler(server.proc.pid, cap)
        sampler.start()
        others = Others(server.proc.pid)
        status, seconds = upload(server.port, key, media)
        added, with_tools = sampler.added()
        result["upload"] = (status, seconds, added, sampler.capped, with_tools)
        result["others"] = others.seconds() / seconds
        print(
            f"  {name}: upload → {status} in {seconds:.1f} s, +{added / MIB:.0f} MiB"
            f" (other processes used {result['others']:.1f} of {os.cpu_count()} CPUs meanwhile)",
            flush=True,
        )
        if sampler.capped:
            server.stop()
            key = server.start()

        sampler = Sampler(server.proc.pid, cap)
        sampler.start()
        status, seconds, sent = unauthenticated(server.port, args.noauth_mib * MIB)
        added = sampler.added()[1]
        result["noauth"] = (status, seconds, added, sent)
        print(f"  {name}: no credentials → {status} in {seconds:.2f} s, +{added / MIB:.0f} MiB", flush=True)

        result["413"] = declared_too_large(server.port, key, args.wait)
        print(f"  {name}: declared too large → {result['413'][0]} in {result['413'][1]:.2f} s", flush=True)
    finally:
        server.stop()
    return result


def ratio(before: float, after: float, at_least: bool = False) -> str:
    if after <= 0:
        return "—"
    return f"{'> ' if at_least else ''}{before / after:.1f}×"


def table(results: dict, size: int, args) -> None:
    daphne, uvicorn = results["daphne"], results["uvicorn"]
    rows = []

    def upload_cells(r):
        status, seconds, added, capped, with_tools = r["upload"]
        if capped:  # the peak before it was stopped: the real one is higher
            return f"> +{added / MIB:.0f} MiB (cap)", f"> +{with_tools / MIB:.0f} MiB (cap)", f"> {seconds:.1f} s"
        rate = f"{size / seconds / 1e6:.0f} MB/s" if status == 201 else f"status {status}"
        return f"+{added / MIB:.0f} MiB", f"+{with_tools / MIB:.0f} MiB", f"{seconds:.1f} s ({rate})"

    (d_rss, d_all, d_time), (u_rss, u_all, u_time) = upload_cells(daphne), upload_cells(uvicorn)
    d, u = daphne["upload"], uvicorn["upload"]
    upload_name = f"{size / MIB:.0f} MiB upload"
    rows.append((f"{upload_name}: RSS added, server", d_rss, u_rss, ratio(d[2], u[2], d[3])))
    rows.append((f"{upload_name}: RSS added, with ffprobe", d_all, u_all, ratio(d[4], u[4], d[3])))
    rows.append((f"{upload_name}: time to 201", d_time, u_time, ratio(d[1], u[1], d[3])))
    others = f"{daphne['others']:.1f} CPUs", f"{uvicorn['others']:.1f} CPUs"
    rows.append((f"{upload_name}: other processes' load", *others, ""))
    noauth = f"{args.noauth_mib} MiB, no credentials"
    d, u = daphne["noauth"], uvicorn["noauth"]
    rows.append((f"{noauth}: RSS added", f"+{d[2] / MIB:.0f} MiB", f"+{u[2] / MIB:.0f} MiB", ratio(d[2], u[2])))
    rows.append((f"{noauth}: answer", f"{d[0]} after {d[1]:.2f} s", f"{u[0]} after {u[1]:.3f} s", ratio(d[1], u[1])))
    rows.append((f"{noauth}: body sent", f"{d[3] / MIB:.0f} MiB", f"{u[3] / MIB:.1f} MiB", ratio(d[3], u[3])))
    d, u = daphne["413"], uvicorn["413"]
    cell = lambda r: f"{r[0]} after {r[1]:.3f} s" if r[0] else f"none in {args.wait:.0f} s"  # noqa: E731
    rows.append(("Content-Length over the limit", cell(d), cell(u), ratio(d[1], u[1], d[0] is None)))

    rows.insert(0, ("case", "daphne", "uvicorn", "daphne/uvicorn"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--noauth-mib", type=int, default=300)
    parser.add_argument("--rss-cap-mib", type=int, default=6144)
    parser.add_argument("--wait", type=float, default=10, help="seconds to wait for the 413")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mediahub-bench-upload-") as tmp:
        workdir = Path(tmp)
        media = workdir / "big.mp4"
        print(f"making a {args.size_mib} MiB MP4…", flush=True)
        make_media(media, args.size_mib * MIB)
        size = media.stat().st_size
        results = {}
        for name in ("daphne", "uvicorn"):
            print(f"{name}:", flush=True)
            results[name] = measure(name, workdir, media, args)
        print(f"\nMediaHub uploads, daphne vs uvicorn ({size / MIB:.0f} MiB file, loopback, {os.cpu_count()} CPUs)")
        table(results, size, args)


if __name__ == "__main__":
    main()
