"""User files never make FFmpeg open other files: playlists and concat scripts are not media to us.

Each attack is one test: the hostile file is uploaded, then every operation that could take it runs (or is
refused). Nothing a user sees (API bodies, outputs, errors) and nothing stored (log_tail) may hold a line of
/etc/passwd, and a canary HTTP server on 127.0.0.1 must see no connection at all. File-level attacks (names,
empty, truncated, random, huge frames, 100 streams) end in a clear 4xx or a safely stored asset, and jobs on
them in success or a clear error code, leaving no temp files behind."""

import json
import socket
import struct
import subprocess
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jobs.models import Asset, Job
from tests.media import ffmpeg, make_clip
from tests.media import probe as probe_json

PASSWD = Path("/etc/passwd")
# "root:x:0:0" and every real line of this machine's /etc/passwd: what a leak would show.
LEAK_MARKERS = [b"root:x:0:0", *(line.encode() for line in PASSWD.read_text().splitlines() if len(line) > 8)]
SRT = "1\n00:00:00,000 --> 00:00:01,000\nHELLO\n"
JOB_TIMEOUT = 30  # seconds; every job here takes one or two


def assert_no_leak(*blobs) -> None:
    for blob in blobs:
        data = blob if isinstance(blob, bytes) else (blob if isinstance(blob, str) else json.dumps(blob)).encode()
        for marker in LEAK_MARKERS:
            assert marker not in data, f"/etc/passwd leaked: {marker!r}"


# --- the canary ------------------------------------------------------------------------------------------


class Canary(ThreadingHTTPServer):
    """Records every connection (HTTP or not) to a port on 127.0.0.1; answers HTTP with a tiny body."""

    def __init__(self):
        self.hits: list[tuple] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_HEAD = do_GET

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def verify_request(self, request, client_address) -> bool:
        self.hits.append(client_address)
        return True

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/x"


@pytest.fixture
def canary():
    server = Canary()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
    assert server.hits == [], f"the canary was reached: {server.hits}"


def test_the_canary_notices_any_connection():
    """The control for every test below: a connection that sends nothing at all is still recorded."""
    server = Canary()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        socket.create_connection(server.server_address[:2], timeout=5).close()
        for _ in range(50):
            if server.hits:
                break
            threading.Event().wait(0.05)
        assert len(server.hits) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_the_canary_is_reached_by_ffmpeg_allowed_to_follow_a_playlist(tmp_path):
    """The control that the canary would notice FFmpeg: the same kind of playlist, read with http allowed and no
    demuxer allow-list, makes FFmpeg connect. MediaHub never gives either (jobs.ffmpeg.inputs)."""
    server = Canary()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        playlist = tmp_path / "control.m3u8"
        playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{server.url}.ts\n#EXT-X-ENDLIST\n")
        allow = ["-protocol_whitelist", "file,http,tcp,crypto,data"]
        subprocess.run(["ffprobe", "-v", "error", *allow, str(playlist)], capture_output=True, timeout=30)
        assert server.hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _short_jobs(settings, tmp_path):
    """Jobs time out quickly here; uploads spool to a temp dir of the test's own, so it can be checked."""
    settings.MEDIAHUB_JOB_TIMEOUT = JOB_TIMEOUT
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()


# --- helpers ---------------------------------------------------------------------------------------------


def content(client, asset: dict) -> bytes:
    response = client.get(f"/api/v1/assets/{asset['id']}/content")
    assert response.status_code == 200, response
    return b"".join(response.streaming_content) if response.streaming else response.content


def post_job(client, operation: str, inputs: list[str], params: dict | None = None):
    return client.post("/api/v1/jobs", {"operation": operation, "inputs": inputs, "params": params or {}}, "json")


def run(client, django_capture_on_commit_callbacks, operation: str, inputs: list[str], params=None) -> dict:
    """Submit and run a job inline; check that it ended (success or a clear error) and leaked nothing."""
    with django_capture_on_commit_callbacks(execute=True):
        response = post_job(client, operation, inputs, params)
    assert response.status_code == 202, response.content
    assert_no_leak(response.content)
    fetched = client.get(f"/api/v1/jobs/{response.json()['id']}")
    job = fetched.json()
    assert job["status"] in ("succeeded", "failed"), job
    if job["status"] == "failed":
        assert job["error"]["code"] not in ("internal_error", "error"), job["error"]
        assert job["error"]["message"]
    assert_no_leak(fetched.content, Job.objects.get(id=job["id"]).log_tail)
    for output in job["outputs"]:
        assert_no_leak(client.get(f"/api/v1/assets/{output['id']}").content, content(client, output))
    return job


def refused(client, operation: str, inputs: list[str], params=None) -> dict:
    response = post_job(client, operation, inputs, params)
    assert response.status_code == 400, response.content
    assert_no_leak(response.content)
    return response.json()["error"]


@pytest.fixture
def srt_asset(alice_api, upload, tmp_path) -> dict:
    path = tmp_path / "clean.srt"
    path.write_text(SRT)
    asset = upload(alice_api, path)
    assert asset["kind"] == "subtitle"
    return asset


@pytest.fixture
def clean_clip(alice_api, upload, clip_path) -> dict:
    return upload(alice_api, clip_path)


def every_job_refuses(client, asset: dict, clip: dict) -> None:
    """A data asset: no operation takes it, as an input or as a param that names an asset."""
    from jobs.operations import REGISTRY

    for name, op in REGISTRY.items():
        if name == "render":  # a composition names its assets inside its spec
            error = refused(client, name, [asset["id"]], {"clips": [{"asset": asset["id"]}]})
            assert error["code"] == "validation_error" and "params.clips.0.asset" in error["fields"], error
            continue
        if op.submit_via:  # a generation's start image, through its own API
            response = client.post(op.submit_via, {"provider": "local", "prompt": "x", "image": asset["id"]},
                                   format="json")  # fmt: skip
            assert response.status_code == 400 and "image" in response.json()["error"]["fields"], response.content
            continue
        params = {**valid_params(name), **{param: asset["id"] for param in op.asset_params}}
        error = refused(client, name, [asset["id"]] * op.min_inputs, params)
        assert error["code"] == "validation_error" and "inputs.0" in error["fields"], error
        for param in op.asset_params:
            error = refused(client, name, [clip["id"]], {**valid_params(name), param: asset["id"]})
            assert error["code"] == "validation_error" and f"params.{param}" in error["fields"], error


def valid_params(operation: str) -> dict:
    """Params each operation validates with, but for the assets they name (set by the caller)."""
    return {"filters": {"filters": [{"name": "grayscale"}]}}.get(operation, {})


def every_job_runs(client, capture, asset: dict, clip: dict, srt: dict) -> list[dict]:
    """A media asset: transcode, thumbnail, analyze, audio, subtitles (burnt and soft), concat with itself and
    with a clean clip. Each ends cleanly (see `run`)."""
    jobs = []
    ops = [("analyze", {})] + ([("audio", {})] if asset["audio_codec"] else [])
    if asset["kind"] == "video":
        ops += [
            ("transcode", {}),
            ("thumbnail", {}),
            ("subtitles", {"subtitles": srt["id"]}),
            ("subtitles", {"subtitles": srt["id"], "mode": "soft", "format": "mkv"}),
        ]
    for operation, params in ops:
        jobs.append(run(client, capture, operation, [asset["id"]], params))
    jobs.append(run(client, capture, "concat", [asset["id"], asset["id"]]))
    if asset["kind"] == clip["kind"]:
        jobs.append(run(client, capture, "concat", [asset["id"], clip["id"]]))
    return jobs


# --- FFmpeg input attacks: playlists, manifests, concat scripts ------------------------------------------


@pytest.fixture
def playlist_to_local_media(tmp_path, clip_path):
    """An HLS playlist whose one segment is a real local file: readable media if FFmpeg followed it."""
    segment = tmp_path / "segment.ts"
    ffmpeg("-i", str(clip_path), "-c", "copy", "-f", "mpegts", str(segment))
    playlist = tmp_path / "evil.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:2,\nfile://{segment}\n#EXT-X-ENDLIST\n")
    return playlist


@pytest.fixture
def concat_script(tmp_path, clip_path):
    script = tmp_path / "list.txt"
    script.write_text(f"ffconcat version 1.0\nfile '{clip_path}'\n")
    return script


@pytest.mark.parametrize("fixture", ["playlist_to_local_media", "concat_script"])
def test_playlists_and_concat_scripts_are_stored_as_data_and_refused_by_jobs(request, fixture, alice_api, upload):
    asset = upload(alice_api, request.getfixturevalue(fixture))
    assert asset["kind"] == "data"
    assert asset["duration"] is None and asset["video_codec"] == ""
    response = alice_api.post(
        "/api/v1/jobs", {"operation": "transcode", "input": asset["id"], "params": {}}, format="json"
    )
    assert response.status_code == 400
    assert "inputs.0" in response.json()["error"]["fields"]


def hls_playlist(canary_url: str) -> str:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXTINF:1.0,\nfile:///etc/passwd\n"
        "#EXTINF:1.0,\nconcat:/etc/passwd|/etc/passwd\n"
        f"#EXTINF:1.0,\n{canary_url}\n"
        "#EXT-X-ENDLIST\n"
    )


def dash_manifest(canary_url: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S" minBufferTime="PT1S"
     profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <BaseURL>file:///etc/passwd</BaseURL>
  <Period>
    <AdaptationSet mimeType="video/mp4">
      <Representation id="0" bandwidth="1000" width="160" height="120" codecs="avc1.42c00a">
        <BaseURL>file:///etc/passwd</BaseURL>
        <SegmentList duration="1">
          <Initialization sourceURL="{canary_url}"/><SegmentURL media="/etc/passwd"/>
        </SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""


HOSTILE_SCRIPTS = {
    "evil.m3u8": hls_playlist,
    "evil.mpd": dash_manifest,
    "list.txt": lambda url: "ffconcat version 1.0\nfile '/etc/passwd'\nfile 'concat:/etc/passwd|/etc/passwd'\n",
    "list.concat": lambda url: f"ffconcat version 1.0\nfile '{url}'\nfile 'file:/etc/passwd'\n",
    "plain.ffconcat": lambda url: "file /etc/passwd\nfile ../../../../etc/passwd\n",
    # The extension says video, the content is an HLS playlist (the classic upload trick).
    "playlist.avi": hls_playlist,
    "playlist.mp4": hls_playlist,
    # A RIFF/AVI header and then the playlist.
    "header.avi": lambda url: "RIFF\x40\0\0\0AVI " + hls_playlist(url),
}


@pytest.mark.parametrize("name", HOSTILE_SCRIPTS)
def test_playlists_manifests_and_scripts_are_data_that_no_job_takes(
    name, tmp_path, canary, alice_api, upload, clean_clip
):
    path = tmp_path / name
    path.write_bytes(HOSTILE_SCRIPTS[name](canary.url).encode("latin-1"))
    asset = upload(alice_api, path)
    assert asset["kind"] == "data", asset
    assert_no_leak(alice_api.get(f"/api/v1/assets/{asset['id']}").content, content(alice_api, asset))
    every_job_refuses(alice_api, asset, clean_clip)


def test_asset_params_cannot_name_files_or_protocols(alice_api, clean_clip):
    for operation, param in (("subtitles", "subtitles"), ("watermark", "image"), ("quality", "reference")):
        for value in ("/etc/passwd", "file:///etc/passwd", "concat:/etc/passwd|/etc/passwd", "../../etc/passwd"):
            error = refused(alice_api, operation, [clean_clip["id"]], {param: value})
            assert error["code"] == "validation_error"
            assert f"params.{param}" in error["fields"], error


def test_a_url_import_of_the_canary_is_refused_before_any_connection(canary, alice_api):
    response = alice_api.post("/api/v1/assets", {"url": canary.url}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"]


# --- hostile media: files that are real media but point elsewhere ------------------------------------------


def _riff(kind: bytes, fourcc: bytes, items: list[bytes]) -> bytes:
    body = fourcc + b"".join(items)
    return kind + struct.pack("<I", len(body)) + body


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def avi_with_gab2(subtitle: bytes, width: int = 64, height: int = 48, frames: int = 5, rate: int = 5) -> bytes:
    """An AVI by hand: raw RGB frames and a GAB2 subtitle stream whose payload is `subtitle`. FFmpeg's AVI
    demuxer probes a GAB2 payload and opens it with a nested demuxer: the 2017 AVI+HLS exploit put an HLS
    playlist there, which then read local files."""
    frame_size = width * height * 3
    desc = "English\0".encode("utf-16-le")
    gab2 = b"GAB2\0" + struct.pack("<HI", 2, len(desc)) + desc + struct.pack("<HI", 4, len(subtitle)) + subtitle

    def strh(kind: bytes, handler: bytes, length: int, size: int) -> bytes:
        # type, handler, flags, priority, language, initial frames, scale, rate, start, length, buffer size,
        # quality, sample size, frame rectangle
        fields = (kind, handler, 0, 0, 0, 0, 1, rate, 0, length, size, 0xFFFFFFFF, 0, 0, 0, width, height)
        return struct.pack("<4s4sIHHIIIIIIIIhhhh", *fields)

    # µs per frame, max bytes/s, padding, flags (has index), frames, initial frames, streams, buffer, size
    main = (1_000_000 // rate, 0, 0, 0x10, frames, 0, 2, frame_size, width, height, 0, 0, 0, 0)
    avih = struct.pack("<IIIIIIIIII4I", *main)
    bitmap = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, frame_size, 0, 0, 0, 0)
    video = _riff(
        b"LIST", b"strl", [_chunk(b"strh", strh(b"vids", b"DIB ", frames, frame_size)), _chunk(b"strf", bitmap)]
    )
    text = _riff(b"LIST", b"strl", [_chunk(b"strh", strh(b"txts", b"\0\0\0\0", 1, len(gab2))), _chunk(b"strf", b"")])
    hdrl = _riff(b"LIST", b"hdrl", [_chunk(b"avih", avih), video, text])
    items = [_chunk(b"01tx", gab2)] + [_chunk(b"00db", bytes([n * 40]) * frame_size) for n in range(frames)]
    index, offset = [], 4
    for item in items:
        index.append(struct.pack("<4sIII", item[:4], 0x10, offset, struct.unpack("<I", item[4:8])[0]))
        offset += len(item)
    return _riff(b"RIFF", b"AVI ", [hdrl, _riff(b"LIST", b"movi", items), _chunk(b"idx1", b"".join(index))])


_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"dinf"}


def _mp4_boxes(data: bytes):
    position = 0
    while position < len(data):
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        yield kind, data[position + 8 : position + size]
        position += size


def _mp4_box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def alias_record(path: bytes) -> bytes:
    """A QuickTime 'alis' data reference (a Mac alias record) naming `path` as where a track's samples are."""
    volume, name = b"Macintosh HD", path.rsplit(b"/", 1)[-1]
    body = bytes(10) + bytes([len(volume)]) + volume.ljust(27, b"\0") + bytes(12)
    body += bytes([len(name)]) + name.ljust(63, b"\0") + bytes(16) + struct.pack(">hh", 1, 1) + bytes(16)
    body += struct.pack(">hH", 2, len(path)) + path + bytes(len(path) % 2) + struct.pack(">hH", -1, 0)
    return _mp4_box(b"alis", b"\0\0\0\0" + body)


def with_external_data_reference(mp4: bytes, path: bytes) -> bytes:
    """`mp4` (moov after mdat, so chunk offsets stay valid) with every track's data reference replaced by an
    alias to `path`: a player with external references enabled reads the samples from there."""

    def rewrite(data: bytes) -> bytes:
        out = b""
        for kind, payload in _mp4_boxes(data):
            if kind in _MP4_CONTAINERS:
                payload = rewrite(payload)
            elif kind == b"dref":
                payload = struct.pack(">II", 0, 1) + alias_record(path)
            out += _mp4_box(kind, payload)
        return out

    return rewrite(mp4)


@pytest.fixture
def gab2_hls_avi(tmp_path, canary) -> Path:
    path = tmp_path / "gab2.avi"
    path.write_bytes(avi_with_gab2(hls_playlist(canary.url).encode()))
    return path


@pytest.fixture
def mkv_with_references(tmp_path, canary) -> Path:
    """Matroska whose tags, chapter, attachment name and stream titles point at /etc/passwd and the canary."""
    attachment = tmp_path / "passwd"
    attachment.write_text(f"see file:///etc/passwd and {canary.url}\n")
    chapters = tmp_path / "chapters.txt"
    chapters.write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\ntitle=file:///etc/passwd\n")
    path = tmp_path / "refs.mkv"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1"),
        *("-f", "lavfi", "-i", "sine=frequency=440:duration=1"),
        *("-i", str(chapters), "-map", "0", "-map", "1", "-map_chapters", "2"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"),
        *("-attach", str(attachment), "-metadata:s:t:0", "mimetype=text/plain"),
        *("-metadata:s:t:0", "filename=/etc/passwd"),
        *("-metadata", "title=file:///etc/passwd", "-metadata", "comment=concat:/etc/passwd|/etc/passwd"),
        *("-metadata", f"url={canary.url}", "-metadata:s:v:0", "title=/etc/passwd"),
        str(path),
    )
    return path


@pytest.fixture
def mp4_with_external_reference(tmp_path, media_dir) -> Path:
    source = media_dir / "hostile-dref-source.mp4"
    if not source.exists():
        make_clip(source, seconds=1, size="160x120")
    path = tmp_path / "dref.mp4"
    path.write_bytes(with_external_data_reference(source.read_bytes(), bytes(PASSWD)))
    return path


def test_the_hand_built_files_are_what_they_claim(tmp_path, mp4_with_external_reference):
    """Controls for the builders: FFmpeg reads the AVI's GAB2 payload as a subtitle stream (SRT here), and the
    MP4's tracks as external data at /etc/passwd (which it declines to open)."""
    avi = tmp_path / "srt-in-gab2.avi"
    avi.write_bytes(avi_with_gab2(SRT.encode()))
    codecs = [stream.get("codec_name") for stream in probe_json(avi)["streams"]]
    assert codecs == ["rawvideo", "subrip"]
    done = subprocess.run(
        ["ffprobe", "-v", "warning", str(mp4_with_external_reference)], capture_output=True, text=True, timeout=30
    )
    assert "Skipped opening external track" in done.stderr and "path='/etc/passwd'" in done.stderr


@pytest.mark.parametrize("fixture", ["gab2_hls_avi", "mkv_with_references", "mp4_with_external_reference"])
def test_media_that_points_at_other_files_is_processed_without_following_it(
    request, fixture, alice_api, upload, clean_clip, srt_asset, django_capture_on_commit_callbacks
):
    asset = upload(alice_api, request.getfixturevalue(fixture))
    assert asset["kind"] == "video", asset
    assert_no_leak(alice_api.get(f"/api/v1/assets/{asset['id']}").content)
    jobs = every_job_runs(alice_api, django_capture_on_commit_callbacks, asset, clean_clip, srt_asset)
    if fixture != "mp4_with_external_reference":  # its tracks' samples are elsewhere: nothing to decode
        assert {job["operation"] for job in jobs if job["status"] == "succeeded"} >= {"transcode", "thumbnail"}


def test_a_slideshow_frame_rate_is_not_mistaken_for_a_truncated_input(
    tmp_path, alice_api, upload, django_capture_on_commit_callbacks
):
    """Found with the AVI above (5 fps): FFmpeg's progress time trails the output's end by the encoder's
    reorder delay, which at 1 fps is seconds; the truncation check allows a few frames of it."""
    path = tmp_path / "slides.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=1:duration=6", "-c:v", "libx264", "-bf", "0", str(path))
    asset = upload(alice_api, path)
    job = run(alice_api, django_capture_on_commit_callbacks, "transcode", [asset["id"]], {"preset": "medium"})
    assert job["status"] == "succeeded", job["error"]


SUBTITLE_LOOKALIKES = {
    # SRT cues whose markup names files and URLs.
    "refs.txt": lambda url: (
        "1\n00:00:00,000 --> 00:00:01,000\n"
        '<font face="/etc/passwd">file:///etc/passwd</font> {\\fn/etc/passwd}' + f"{url}\n\n"
        '2\n00:00:01,000 --> 00:00:02,000\n<img src="file:///etc/passwd"/>concat:/etc/passwd|/etc/passwd\n'
    ),
    # ASS whose style font is a path, with a [Fonts] section and an embedded-file style reference.
    "refs.ass.txt": lambda url: (
        "[Script Info]\nScriptType: v4.00+\nPlayResX: 160\nPlayResY: 120\n\n"
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, Bold, Italic, Alignment\n"
        "Style: Default,/etc/passwd,12,&H00FFFFFF,0,0,2\n\n"
        "[Fonts]\nfontname: passwd.ttf\n!!!!\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Text\n"
        f"Dialogue: 0,0:00:00.00,0:00:01.00,Default,{{\\fn/etc/passwd}}{url}\n"
    ),
    # WebVTT with a style block that loads a URL.
    "refs.vtt.txt": lambda url: (
        "WEBVTT\n\nSTYLE\n::cue { background-image: url(file:///etc/passwd); }\n\n"
        f"00:00:00.000 --> 00:00:01.000\n<c.{url}>file:///etc/passwd</c>\n"
    ),
}


@pytest.mark.parametrize("name", SUBTITLE_LOOKALIKES)
def test_subtitle_files_that_reference_other_files_are_only_text(
    name, tmp_path, canary, alice_api, upload, clean_clip, django_capture_on_commit_callbacks
):
    path = tmp_path / name
    path.write_text(SUBTITLE_LOOKALIKES[name](canary.url))
    asset = upload(alice_api, path)
    if asset["kind"] == "data":
        every_job_refuses(alice_api, asset, clean_clip)
        return
    assert asset["kind"] == "subtitle", asset
    for params in ({}, {"mode": "soft", "format": "mkv"}, {"style": {"box": True}}):
        job = run(
            alice_api,
            django_capture_on_commit_callbacks,
            "subtitles",
            [clean_clip["id"]],
            params | {"subtitles": asset["id"]},
        )
        if not (params.get("style") and "ass" in name):
            assert job["status"] == "succeeded", job["error"]


def test_concat_reads_its_list_in_safe_mode_with_relative_parts(
    alice_api, upload, clip_path, django_capture_on_commit_callbacks, monkeypatch
):
    """The copy mode's list names `part-NNN.ext` links beside it and FFmpeg reads it with `-safe 1`, which
    refuses any absolute path, `..` or protocol the list might hold."""
    from jobs.execution import JobContext

    seen: list[tuple[list[str], str]] = []
    original = JobContext.ffmpeg

    def spy(self, args, **kwargs):
        listing = self.workdir / "concat.ffconcat"
        seen.append((list(args), listing.read_text() if listing.exists() else ""))
        return original(self, args, **kwargs)

    monkeypatch.setattr(JobContext, "ffmpeg", spy)
    first, second = upload(alice_api, clip_path), upload(alice_api, clip_path)
    job = run(alice_api, django_capture_on_commit_callbacks, "concat", [first["id"], second["id"]], {"mode": "copy"})
    assert job["status"] == "succeeded", job["error"]
    [(args, listing)] = seen
    assert args[args.index("-safe") + 1] == "1"
    assert listing.splitlines() == ["ffconcat version 1.0", "file 'part-000.mp4'", "file 'part-001.mp4'"]


# --- file attacks: names, sizes, broken and enormous media ---------------------------------------------------


def multipart(filename: bytes, data: bytes) -> tuple[bytes, str]:
    """A hand-built multipart body: the file name reaches the server byte for byte (no client clean-up)."""
    boundary = b"hostile-boundary-7f3a"
    head = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
    body = head + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary.decode()}"


def listing(*folders: Path) -> set[str]:
    return {str(path) for folder in folders if folder.exists() for path in folder.rglob("*")}


def assert_stored_safely(asset_id: str, owner) -> None:
    """The file is at MEDIA_ROOT/assets/<owner>/<id>/file.<ext>, nothing was written anywhere else under
    MEDIA_ROOT, and the name shown is one plain, printable file name."""
    from django.conf import settings

    media = Path(settings.MEDIA_ROOT)
    stored = Asset.objects.get(id=asset_id)
    home = media / "assets" / str(owner.id) / asset_id
    path = Path(stored.file.path)
    assert path.resolve().parent == home.resolve() and path.name.startswith("file."), path
    allowed = {str(media / "assets"), str(home.parent)}
    allowed |= {str(p) for asset in Asset.objects.all() for p in (Path(asset.file.path), Path(asset.file.path).parent)}
    assert listing(media) <= allowed
    name = stored.name
    assert name and len(name) <= 200 and "/" not in name and "\\" not in name
    assert all(ch.isprintable() for ch in name) and name == name.strip()


HOSTILE_NAMES = [
    b"../../x.mp4",
    b"..\\..\\x.mp4",
    b"/etc/x.mp4",
    b"C:\\Windows\\x.mp4",
    b"a\x00b.mp4",
    b"x.mp4\x00.png",
    b"x" * 10_000 + b".mp4",  # longer than Django's multipart header limit: 400
    b"y" * 1_000 + b".mp4",
    "\x1b[31mred\x07\x08\x7f\u202egnp.mp4".encode(),
    b"tab\tand\x0bvertical.mp4",
    b"..",
    b".",
    b"",
    b"\xff\xfe invalid utf-8.mp4",
    b'quote".mp4',
    b"semi;colon=1.mp4",
    # Names that would be protocols or filter-graph syntax if they ever reached an FFmpeg command line.
    b"concat:passwd|passwd.mp4",
    b"file:passwd.mp4",
    b"http:127.0.0.1:9.mp4",
    b"x.mp4,negate;[0]split[a].mp4",
]


@pytest.mark.parametrize("filename", HOSTILE_NAMES, ids=lambda n: repr(n[:24]))
def test_hostile_upload_names_give_a_safe_name_or_a_clear_error(
    filename, settings, alice, alice_api, clip_path, django_capture_on_commit_callbacks
):
    body, content_type = multipart(filename, clip_path.read_bytes())
    response = alice_api.post("/api/v1/assets", body, content_type=content_type)
    assert response.status_code in (200, 201, 400, 413), response.content
    if response.status_code >= 400:
        assert response.json()["error"]["code"]
        assert listing(settings.FILE_UPLOAD_TEMP_DIR, settings.MEDIA_ROOT) == set()
        return
    asset = response.json()
    assert_stored_safely(asset["id"], alice[0])
    job = run(alice_api, django_capture_on_commit_callbacks, "transcode", [asset["id"]])
    assert job["status"] == "succeeded", job["error"]
    assert "/" not in job["outputs"][0]["name"] and len(job["outputs"][0]["name"]) <= 200
    disposition = alice_api.get(f"/api/v1/assets/{asset['id']}/content")["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition.split(";", 1)[1]
    assert listing(settings.FILE_UPLOAD_TEMP_DIR, settings.MEDIAHUB_WORK_DIR) <= {str(settings.MEDIAHUB_WORK_DIR)}


@pytest.mark.parametrize("name", ["../../x.mp4", "..\\..\\x.mp4", "/etc/x.mp4", "a\x00b.mp4", "x" * 10_000])
def test_the_upload_service_itself_never_uses_the_name_as_a_path(name, settings, alice, tmp_path, clip_path):
    """Below the multipart parser (which already drops folders): the service stores under our ids only."""
    from jobs.services.assets import asset_upload

    path = tmp_path / "upload.tmp"
    path.write_bytes(clip_path.read_bytes())
    asset, created = asset_upload(owner=alice[0], path=path, name=name)
    assert created and asset.kind == "video"
    assert_stored_safely(asset.id, alice[0])


def truncated_mp4(clip_path: Path, tmp_path: Path, *, faststart: bool) -> Path:
    source = tmp_path / "whole.mp4"
    ffmpeg("-i", str(clip_path), "-c", "copy", *(["-movflags", "+faststart"] if faststart else []), str(source))
    data = source.read_bytes()
    path = tmp_path / ("truncated-faststart.mp4" if faststart else "truncated.mp4")
    path.write_bytes(data[: len(data) // 2])
    return path


def png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def hundred_streams(path: Path) -> Path:
    """1 tiny video stream and 99 audio streams of one sine source, in Matroska."""
    maps = ["-map", "0:v"] + ["-map", "1:a"] * 99
    ffmpeg(
        *("-f", "lavfi", "-i", "color=c=gray:s=32x32:r=10:d=1", "-f", "lavfi", "-i", "sine=d=1:sample_rate=8000"),
        *maps,
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", str(path)),
    )
    return path


FILE_ATTACKS = {
    "empty.mp4": lambda tmp, clip: b"",
    "truncated.mp4": lambda tmp, clip: truncated_mp4(clip, tmp, faststart=False).read_bytes(),
    "truncated-faststart.mp4": lambda tmp, clip: truncated_mp4(clip, tmp, faststart=True).read_bytes(),
    "random.mp4": lambda tmp, clip: bytes((i * 7919 + 13) % 256 for i in range(64 * 1024)),
    "huge.png": lambda tmp, clip: png_declaring(100_000, 100_000),
    "huge.y4m": lambda tmp, clip: b"YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\x80" * 64,
    "hundred-streams.mkv": lambda tmp, clip: hundred_streams(tmp / "100.mkv").read_bytes(),
}


@pytest.mark.parametrize("name", FILE_ATTACKS)
def test_broken_and_enormous_files_fail_cleanly(
    name, settings, tmp_path, alice, alice_api, clip_path, clean_clip, srt_asset, django_capture_on_commit_callbacks
):
    data = FILE_ATTACKS[name](tmp_path, clip_path)
    settings.MEDIAHUB_WORK_DIR.mkdir(parents=True, exist_ok=True)
    work_before = listing(settings.MEDIAHUB_WORK_DIR)
    body, content_type = multipart(name.encode(), data)
    response = alice_api.post("/api/v1/assets", body, content_type=content_type)
    if not data:
        assert response.status_code == 400, response.content
        assert response.json()["error"]["fields"]["file"]
    else:
        assert response.status_code == 201, response.content
        asset = response.json()
        assert_stored_safely(asset["id"], alice[0])
        if asset["kind"] == "data":
            every_job_refuses(alice_api, asset, clean_clip)
        elif asset["kind"] == "image":  # only a watermark takes an image
            run(alice_api, django_capture_on_commit_callbacks, "watermark", [clean_clip["id"]], {"image": asset["id"]})
        else:
            every_job_runs(alice_api, django_capture_on_commit_callbacks, asset, clean_clip, srt_asset)
    assert listing(settings.FILE_UPLOAD_TEMP_DIR) == set()
    assert listing(settings.MEDIAHUB_WORK_DIR) == work_before
