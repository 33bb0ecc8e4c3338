"""hls and dash on generated clips: the ladder, aligned segments, one folder asset served member by member.

The outputs are fetched through the API the way a player does (the master from content_url, every other file
by its URI relative to the playlist that names it), then read back with ffprobe: reading our own playlists
needs the hls/dash demuxers and the file protocol, which user inputs never get."""

import json
import posixpath
import re
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx
import pytest

from jobs.ffmpeg.errors import Cancelled, MediaError
from jobs.models import Asset
from jobs.operations.streaming import run_side_by_side
from tests.jobs import test_s3_storage
from tests.media import make_clip

s3_endpoint, s3 = test_s3_storage.s3_endpoint, test_s3_storage.s3  # the S3 fixtures (moto on loopback)

MPD = "{urn:mpeg:dash:schema:mpd:2011}"
TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".mpd": "application/dash+xml",
}


@pytest.fixture(scope="session")
def ladder_clip(media_dir) -> Path:
    """4 s, 640×360, 25 fps H.264 + AAC."""
    return make_clip(media_dir / "ladder.mp4", seconds=4, size="640x360")


@pytest.fixture(scope="session")
def hd_clip(media_dir) -> Path:
    """3 s, 1280×720, 10 fps H.264 + AAC: tall enough for the canonical 720p/480p/360p ladder."""
    return make_clip(media_dir / "hd.mp4", seconds=3, size="1280x720", rate=10)


@pytest.fixture(scope="session")
def silent_ladder_clip(media_dir) -> Path:
    return make_clip(media_dir / "ladder-silent.mp4", seconds=2, size="640x360", audio=False)


def ladder_job(client, run_job, asset_id: str, operation: str, params: dict) -> dict:
    job = run_job(client, {"operation": operation, "input": asset_id, "params": params})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100
    return job


def get(client, url: str):
    response = client.get(urlparse(url).path)
    assert response.status_code == 200, (url, response.status_code)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def fetch_hls(client, master_url: str, into: Path) -> Path:
    """Fetch a master playlist, its variant playlists and their segments (and init segments) by resolving
    every URI against the URL of the playlist naming it; the files land in `into` under the same paths."""
    root = posixpath.dirname(urlparse(master_url).path) + "/"

    def save(url: str) -> bytes:
        response, body = get(client, url)
        relative = urlparse(url).path.removeprefix(root)
        assert response["Content-Type"] == TYPES[Path(relative).suffix], relative
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        return body

    for line in save(master_url).decode().splitlines():
        if line and not line.startswith("#"):
            variant_url = urljoin(master_url, line)
            for entry in save(variant_url).decode().splitlines():
                uri = entry.split('URI="')[1].rstrip('"') if entry.startswith("#EXT-X-MAP") else entry
                if uri and not uri.startswith("#"):
                    save(urljoin(variant_url, uri))
    return into / posixpath.basename(urlparse(master_url).path)


def fetch_members(client, asset: dict, into: Path) -> Path:
    """Every member the asset lists, fetched through content/<member>; returns the local main file."""
    _, body = get(client, asset["content_url"])
    main = into / posixpath.basename(urlparse(asset["content_url"]).path)
    main.parent.mkdir(parents=True, exist_ok=True)
    main.write_bytes(body)
    for member in Asset.objects.get(id=asset["id"]).files:
        response, data = get(client, f"/api/v1/assets/{asset['id']}/content/{member}")
        assert response["Content-Type"] == TYPES[Path(member).suffix]
        (into / member).parent.mkdir(parents=True, exist_ok=True)
        (into / member).write_bytes(data)
    return main


def stream_infs(master: Path) -> list[dict]:
    variants, lines = [], master.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attributes = re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1])
            variants.append({**{key: value.strip('"') for key, value in attributes}, "uri": lines[index + 1]})
    return variants


def extinfs(playlist: Path) -> list[float]:
    return [
        float(line.split(":")[1].rstrip(","))
        for line in playlist.read_text().splitlines()
        if line.startswith("#EXTINF")
    ]


def trusted_probe(path: Path, *args: str) -> dict:
    """ffprobe on a playlist or manifest we made (hls/dash demuxers, local files only)."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-protocol_whitelist", "file", "-print_format", "json", *args, str(path.resolve())],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def keyframe_times(playlist: Path) -> list[float]:
    """The times of a variant's video keyframes, from its first one."""
    packets = trusted_probe(playlist, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags")["packets"]
    times = [float(p["pts_time"]) for p in packets if "K" in p["flags"]]
    return [round(t - times[0], 2) for t in times]


# --- hls -------------------------------------------------------------------------------------------------


def test_hls_ladder_drops_rungs_taller_than_the_source_and_aligns_segments(
    alice_api, upload, run_job, ladder_clip, tmp_path
):
    asset = upload(alice_api, ladder_clip)
    params = {"renditions": ["480p", "360p", "240p"], "segment_seconds": 1}
    job = ladder_job(alice_api, run_job, asset["id"], "hls", params)
    [output] = job["outputs"]
    assert output["kind"] == "stream" and output["content_type"] == "application/vnd.apple.mpegurl"
    assert output["content_url"].endswith(f"/api/v1/assets/{output['id']}/content/master.m3u8")
    assert (output["width"], output["height"]) == (640, 360)
    assert output["duration"] == pytest.approx(4.0, abs=0.1)
    assert (output["video_codec"], output["audio_codec"]) == ("h264", "aac")

    result = job["result"]
    assert result["dropped"] == ["480p"] and result["strategy"] in ("single", "parallel")
    assert [(r["name"], r["width"], r["height"], r["segments"]) for r in result["renditions"]] == [
        ("360p", 640, 360, 4),
        ("240p", 426, 240, 4),
    ]

    master = fetch_hls(alice_api, output["content_url"], tmp_path / "hls")
    variants = stream_infs(master)
    assert [v["RESOLUTION"] for v in variants] == ["640x360", "426x240"]
    assert all(v["CODECS"].startswith("avc1.") and "mp4a.40.2" in v["CODECS"] for v in variants)
    assert all(int(v["BANDWIDTH"]) > 0 for v in variants)
    for variant in variants:
        durations = extinfs(master.parent / variant["uri"])
        assert durations == pytest.approx([1.0, 1.0, 1.0, 1.0], abs=0.05)
    # Every rung has its keyframes at the same instants: one per segment, at each segment's start.
    keyframes = [keyframe_times(master.parent / v["uri"]) for v in variants]
    assert keyframes[0] == keyframes[1] == [0.0, 1.0, 2.0, 3.0]

    # FFmpeg reads the master back: both variants, each with video and audio, the whole duration.
    info = trusted_probe(master, "-show_format", "-show_streams")
    heights = sorted(s["height"] for s in info["streams"] if s["codec_type"] == "video")
    assert heights == [240, 360]
    assert sum(s["codec_type"] == "audio" for s in info["streams"]) == 2
    assert float(info["format"]["duration"]) == pytest.approx(4.0, abs=0.1)


def test_hls_never_upscales(alice_api, upload, run_job, ladder_clip, tmp_path):
    asset = upload(alice_api, ladder_clip)
    job = ladder_job(
        alice_api, run_job, asset["id"], "hls", {"renditions": ["720p", "480p", "360p"], "segment_seconds": 2}
    )
    assert job["result"]["dropped"] == ["720p", "480p"]
    master = fetch_hls(alice_api, job["outputs"][0]["content_url"], tmp_path / "hls")
    assert [v["RESOLUTION"] for v in stream_infs(master)] == ["640x360"]


def test_hls_keeps_one_rung_at_the_source_height_when_all_would_upscale(
    alice_api, upload, run_job, clip_path, tmp_path
):
    asset = upload(alice_api, clip_path)  # 320×240
    job = ladder_job(alice_api, run_job, asset["id"], "hls", {"renditions": ["720p", "480p"], "segment_seconds": 1})
    assert job["result"]["dropped"] == ["720p", "480p"]
    assert [r["name"] for r in job["result"]["renditions"]] == ["240p"]
    master = fetch_hls(alice_api, job["outputs"][0]["content_url"], tmp_path / "hls")
    assert [v["RESOLUTION"] for v in stream_infs(master)] == ["320x240"]


def test_canonical_example(alice_api, upload, run_job, hd_clip, tmp_path):
    asset = upload(alice_api, hd_clip)
    job = ladder_job(
        alice_api, run_job, asset["id"], "hls", {"renditions": ["720p", "480p", "360p"], "segment_seconds": 4}
    )
    assert job["params"]["renditions"] == ["720p", "480p", "360p"]
    assert job["result"]["dropped"] == []
    master = fetch_hls(alice_api, job["outputs"][0]["content_url"], tmp_path / "hls")
    variants = stream_infs(master)
    assert [v["RESOLUTION"] for v in variants] == ["1280x720", "854x480", "640x360"]
    bandwidths = [int(v["BANDWIDTH"]) for v in variants]
    assert bandwidths == sorted(bandwidths, reverse=True)
    for variant in variants:  # 3 s source, 4 s segments: one segment of the whole clip
        assert extinfs(master.parent / variant["uri"]) == pytest.approx([3.0], abs=0.11)


def test_hls_strategies_make_the_same_ladder(alice_api, upload, run_job, ladder_clip, tmp_path):
    asset = upload(alice_api, ladder_clip)
    made = {}
    for strategy in ("single", "parallel"):
        params = {"renditions": ["360p", "240p"], "segment_seconds": 2, "strategy": strategy}
        job = ladder_job(alice_api, run_job, asset["id"], "hls", params)
        assert job["result"]["strategy"] == strategy
        master = fetch_hls(alice_api, job["outputs"][0]["content_url"], tmp_path / strategy)
        variants = stream_infs(master)
        made[strategy] = [
            (v["RESOLUTION"], v["CODECS"], extinfs(master.parent / v["uri"]), keyframe_times(master.parent / v["uri"]))
            for v in variants
        ]
        assert master.read_text().startswith("#EXTM3U\n#EXT-X-VERSION:")
        assert "part-" not in " ".join(Asset.objects.get(id=job["outputs"][0]["id"]).files)
    assert made["single"] == made["parallel"]
    assert [resolution for resolution, *_ in made["single"]] == ["640x360", "426x240"]


def test_hls_fmp4_segments(alice_api, upload, run_job, ladder_clip, tmp_path):
    asset = upload(alice_api, ladder_clip)
    params = {"renditions": ["360p", "240p"], "segment_seconds": 2, "segment_type": "fmp4"}
    job = ladder_job(alice_api, run_job, asset["id"], "hls", params)
    output = job["outputs"][0]
    assert (output["width"], output["height"], output["audio_codec"]) == (640, 360, "aac")
    files = Asset.objects.get(id=output["id"]).files
    assert {Path(f).suffix for f in files} == {".m3u8", ".m4s", ".mp4"}
    master = fetch_hls(alice_api, output["content_url"], tmp_path / "hls")
    info = trusted_probe(master, "-show_streams")
    assert sorted(s["height"] for s in info["streams"] if s["codec_type"] == "video") == [240, 360]


def test_hls_of_a_silent_video_has_video_only_variants(alice_api, upload, run_job, silent_ladder_clip, tmp_path):
    asset = upload(alice_api, silent_ladder_clip)
    job = ladder_job(alice_api, run_job, asset["id"], "hls", {"renditions": ["360p", "240p"], "segment_seconds": 1})
    master = fetch_hls(alice_api, job["outputs"][0]["content_url"], tmp_path / "hls")
    assert [v["CODECS"].startswith("avc1.") and "mp4a" not in v["CODECS"] for v in stream_infs(master)] == [True, True]
    assert job["outputs"][0]["audio_codec"] == ""


def test_stream_asset_serving_is_owner_scoped_and_limited_to_its_members(
    alice, alice_api, bob_api, upload, run_job, ladder_clip, settings, django_capture_on_commit_callbacks
):
    asset = upload(alice_api, ladder_clip)
    job = ladder_job(alice_api, run_job, asset["id"], "hls", {"renditions": ["240p"], "segment_seconds": 2})
    output = job["outputs"][0]
    base = f"/api/v1/assets/{output['id']}/content"
    files = output["files"]
    assert files == ["240p/index.m3u8", "240p/seg_00000.ts", "240p/seg_00001.ts"]
    assert Asset.objects.get(id=output["id"]).files == files

    # The plain content URL serves the master too; members have their own types and honour Range.
    for url in (base, f"{base}/master.m3u8"):
        response = alice_api.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/vnd.apple.mpegurl"
        assert b"".join(response.streaming_content).startswith(b"#EXTM3U")
    response = alice_api.get(f"{base}/240p/seg_00000.ts", HTTP_RANGE="bytes=0-187")
    assert response.status_code == 206 and response["Content-Type"] == "video/mp2t"
    assert b"".join(response.streaming_content)[0] == 0x47  # an MPEG-TS sync byte

    for member in ("nope.ts", "240p/seg_00009.ts", "../file.mp4", "240p/../master.m3u8", "240p", "file.bin"):
        assert alice_api.get(f"{base}/{member}").status_code == 404, member
    assert bob_api.get(base).status_code == 404
    assert bob_api.get(f"{base}/240p/index.m3u8").status_code == 404
    assert bob_api.get(f"{base}/master.m3u8").status_code == 404
    # A plain asset has no members.
    assert alice_api.get(f"/api/v1/assets/{asset['id']}/content/file.mp4").status_code == 404

    folder = Path(settings.MEDIA_ROOT) / "assets" / str(alice[0].id) / output["id"]
    stored = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert stored == sorted(["master.m3u8", *files])
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/assets/{output['id']}").status_code == 204
    assert [p for p in folder.rglob("*") if p.is_file()] == []
    assert alice_api.get(f"{base}/240p/index.m3u8").status_code == 404


def test_hls_on_s3_serves_playlists_and_redirects_segments(
    s3, alice, alice_api, upload, run_job, ladder_clip, django_capture_on_commit_callbacks
):
    asset = upload(alice_api, ladder_clip)
    job = ladder_job(alice_api, run_job, asset["id"], "hls", {"renditions": ["240p"], "segment_seconds": 2})
    output = job["outputs"][0]
    prefix = f"assets/{alice[0].id}/{output['id']}/"
    keys = sorted(
        item["Key"] for item in s3.list_objects_v2(Bucket="mediahub-test")["Contents"] if item["Key"].startswith(prefix)
    )
    assert keys == [
        prefix + name for name in ("240p/index.m3u8", "240p/seg_00000.ts", "240p/seg_00001.ts", "master.m3u8")
    ]

    response = alice_api.get(urlparse(output["content_url"]).path)
    assert response.status_code == 200 and response["Content-Type"] == "application/vnd.apple.mpegurl"
    assert b"240p/index.m3u8" in response.content
    assert alice_api.get(f"/api/v1/assets/{output['id']}/content/240p/index.m3u8").content.startswith(b"#EXTM3U")
    response = alice_api.get(f"/api/v1/assets/{output['id']}/content/240p/seg_00000.ts")
    assert response.status_code == 302
    assert "Signature=" in response["Location"] or "X-Amz-Signature=" in response["Location"]
    assert httpx.get(response["Location"]).content[0] == 0x47

    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/assets/{output['id']}").status_code == 204
    assert not [
        item
        for item in s3.list_objects_v2(Bucket="mediahub-test").get("Contents", [])
        if item["Key"].startswith(prefix)
    ]


# --- dash ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["single", "parallel"])
def test_dash_ladder(alice_api, upload, run_job, ladder_clip, tmp_path, strategy):
    asset = upload(alice_api, ladder_clip)
    params = {"renditions": ["480p", "360p", "240p"], "segment_seconds": 2, "strategy": strategy}
    job = ladder_job(alice_api, run_job, asset["id"], "dash", params)
    output = job["outputs"][0]
    assert output["kind"] == "stream" and output["content_type"] == "application/dash+xml"
    assert output["content_url"].endswith("/content/manifest.mpd")
    assert (output["width"], output["height"], output["video_codec"], output["audio_codec"]) == (
        640,
        360,
        "h264",
        "aac",
    )
    assert output["duration"] == pytest.approx(4.0, abs=0.1)
    assert job["result"]["dropped"] == ["480p"] and job["result"]["strategy"] == strategy

    manifest = fetch_members(alice_api, output, tmp_path / "dash")
    root = ET.parse(manifest).getroot()  # noqa: S314 (our own output)
    sets = {s.get("contentType"): s for s in root.iter(f"{MPD}AdaptationSet")}
    assert set(sets) == {"video", "audio"}
    video = sets["video"].findall(f"{MPD}Representation")
    assert [(int(r.get("width")), int(r.get("height"))) for r in video] == [(640, 360), (426, 240)]
    assert len(sets["audio"].findall(f"{MPD}Representation")) == 2  # 360p: 96k, 240p: 64k
    ids = [r.get("id") for r in root.iter(f"{MPD}Representation")]
    assert len(set(ids)) == len(ids)
    for rep in video:  # two 2 s segments each
        timeline = rep.find(f"{MPD}SegmentTemplate/{MPD}SegmentTimeline")
        assert sum(1 + int(s.get("r", "0")) for s in timeline) == 2

    info = trusted_probe(manifest, "-show_format", "-show_streams")
    assert sorted(s["height"] for s in info["streams"] if s["codec_type"] == "video") == [240, 360]
    assert float(info["format"]["duration"]) == pytest.approx(4.0, abs=0.1)


# --- catalog and bad requests ----------------------------------------------------------------------------


def test_catalog_lists_hls_and_dash(alice_api):
    operations = {op["name"]: op for op in alice_api.get("/api/v1/operations").json()["results"]}
    for name in ("hls", "dash"):
        schema = operations[name]["params_schema"]["properties"]
        assert {"renditions", "segment_seconds", "preset", "audio_bitrate", "strategy"} <= set(schema)
        assert schema["segment_seconds"]["default"] == 4 and schema["renditions"]["default"] == [
            "1080p",
            "720p",
            "480p",
            "360p",
        ]
    assert "segment_type" in operations["hls"]["params_schema"]["properties"]


@pytest.mark.parametrize(
    ("operation", "params", "field"),
    [
        ("hls", {"renditions": ["999p"]}, "params.renditions.0"),
        ("hls", {"renditions": []}, "params.renditions"),
        ("hls", {"renditions": ["720p", {"height": 720}]}, "params.renditions"),
        ("hls", {"renditions": [{"height": 721}]}, "params.renditions.0.height"),
        ("hls", {"renditions": [{"height": 720, "video_bitrate": "fast"}]}, "params.renditions.0.video_bitrate"),
        ("hls", {"segment_seconds": 0}, "params.segment_seconds"),
        ("dash", {"segment_seconds": 31}, "params.segment_seconds"),
        ("dash", {"strategy": "fastest"}, "params.strategy"),
        ("dash", {"segment_type": "fmp4"}, "params.segment_type"),
        ("hls", {"preset": "instant"}, "params.preset"),
    ],
)
def test_bad_params_name_the_field(alice_api, upload, clip_path, operation, params, field):
    asset = upload(alice_api, clip_path)
    response = alice_api.post(
        "/api/v1/jobs", {"operation": operation, "input": asset["id"], "params": params}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error["fields"]


def test_a_stream_asset_is_not_an_input(alice_api, upload, run_job, clip_path):
    asset = upload(alice_api, clip_path)
    job = ladder_job(alice_api, run_job, asset["id"], "hls", {"renditions": ["240p"], "segment_seconds": 2})
    response = alice_api.post("/api/v1/jobs", {"operation": "hls", "input": job["outputs"][0]["id"]}, format="json")
    assert response.status_code == 400
    assert "inputs.0" in response.json()["error"]["fields"]


# --- running side by side --------------------------------------------------------------------------------


class FakeContext:
    """What run_side_by_side uses of a JobContext; `cancel_after` beats, the job is cancelled."""

    def __init__(self, cancel_after: int | None = None):
        self.started, self.beats, self.cancel_after = time.monotonic(), [], cancel_after
        self.job = type("Job", (), {"progress": 0.0})()

    def set_stage(self, stage: str, progress: float) -> None:
        if self.cancel_after is not None and len(self.beats) >= self.cancel_after:
            raise Cancelled()
        self.beats.append(progress)
        self.job.progress = progress


ENDLESS = ["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25", "-f", "null", "-"]  # runs until stopped


def test_side_by_side_stops_every_process_when_one_fails(db, tmp_path):
    broken = ["-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"]
    began = time.monotonic()
    with pytest.raises(MediaError):
        run_side_by_side(FakeContext(), [ENDLESS, broken], duration=60, stage="encoding", span=(0, 97))
    assert time.monotonic() - began < 10


def test_side_by_side_stops_every_process_on_cancel(db):
    began = time.monotonic()
    with pytest.raises(Cancelled):
        run_side_by_side(FakeContext(cancel_after=2), [ENDLESS, ENDLESS], duration=60, stage="encoding", span=(0, 97))
    assert time.monotonic() - began < 10
    assert not [
        line
        for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
        if "testsrc2=size=64x64" in line
    ]


def test_side_by_side_reports_the_mean_progress(db, ladder_clip, tmp_path):
    commands = [
        ["-i", str(ladder_clip), "-f", "null", "-"],
        ["-i", str(ladder_clip), "-vf", "scale=32:18", "-f", "null", "-"],
    ]
    ctx = FakeContext()
    run_side_by_side(ctx, commands, duration=4.0, stage="encoding", span=(10, 90))
    assert ctx.beats[0] == 10 and ctx.beats == sorted(ctx.beats) and ctx.beats[-1] <= 90
