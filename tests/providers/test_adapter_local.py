"""The offline provider renders a real title card with FFmpeg; poll, download and cancel work on that file."""

from pathlib import Path

import pytest

from providers.adapters import get_adapter
from providers.adapters import local as local_module
from providers.adapters.base import INVALID_REQUEST, PROVIDER_ERROR, Poll, ProviderError, Request
from providers.adapters.local import Local, frame_size, pages, printable
from tests.media import decode_errors, ffmpeg, probe, streams

MAX_BYTES = 50 * 2**20


@pytest.fixture(scope="session")
def image_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("local-provider") / "start.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(path))
    return path


@pytest.fixture
def adapter() -> Local:
    return Local()


@pytest.fixture
def folder(settings) -> Path:
    """Where the adapter keeps its videos (under this test's own work dir)."""
    return Path(settings.MEDIAHUB_WORK_DIR).absolute() / "local-provider"


@pytest.fixture
def rendered(monkeypatch) -> list[dict]:
    """Every render's FFmpeg arguments and the text files it drew, read while they still exist."""
    runs = []
    real = local_module.run_ffmpeg

    def spy(args, **kwargs):
        files = [part for arg in args for part in _textfiles(arg)]
        runs.append({"args": args, "lines": [Path(name).read_text(encoding="utf-8") for name in files]})
        return real(args, **kwargs)

    monkeypatch.setattr(local_module, "run_ffmpeg", spy)
    return runs


def _textfiles(arg: str) -> list[str]:
    """The textfile paths in a filter graph (our test paths hold no escaped characters)."""
    return [chunk.split(":", 1)[0] for chunk in arg.split("textfile=")[1:]]


def request(prompt: str = "A lighthouse at dusk", **fields) -> Request:
    return Request(
        model="title-card", prompt=prompt, **({"duration": 2, "aspect_ratio": "16:9", "resolution": "360p"} | fields)
    )


def test_the_local_provider_needs_no_key_and_costs_nothing(adapter):
    assert get_adapter("local").name == "local"
    assert adapter.label == "Local preview (offline)" and adapter.needs_credential is False
    info = adapter.models[adapter.default_model]
    assert info.price_per_second == 0 and info.image == "optional" and info.text
    assert info.durations == (2, 4, 5, 8, 10) and set(info.aspect_ratios) == {"16:9", "9:16", "1:1", "4:5"}
    assert info.resolutions[0] == "480p" and set(info.resolutions) == {"360p", "480p", "720p"}
    result = adapter.validate({})
    assert (result.status, result.message) == ("active", "The local provider needs no key.")


@pytest.mark.parametrize(
    ("ratio", "resolution", "size"),
    [
        ("16:9", "480p", (854, 480)),
        ("9:16", "480p", (480, 854)),
        ("1:1", "360p", (360, 360)),
        ("4:5", "480p", (480, 600)),
        ("16:9", "720p", (1280, 720)),
        ("16:9", "", (854, 480)),
    ],
)
def test_the_resolution_names_the_short_side(ratio, resolution, size):
    assert frame_size(ratio, resolution) == size


@pytest.mark.parametrize(
    ("ratio", "resolution", "seconds", "size"),
    [("16:9", "480p", 4, (854, 480)), ("9:16", "360p", 2, (360, 640))],
)
def test_create_renders_an_h264_aac_mp4_of_the_requested_length_and_size(
    adapter, folder, ratio, resolution, seconds, size
):
    submitted = adapter.create(request(duration=seconds, aspect_ratio=ratio, resolution=resolution), {})
    path = folder / f"{submitted.task_id}.mp4"
    info = probe(path)
    (video,), (audio,) = streams(info, "video"), streams(info, "audio")
    assert video["codec_name"] == "h264" and (video["width"], video["height"]) == size
    assert audio["codec_name"] == "aac"
    assert float(info["format"]["duration"]) == pytest.approx(seconds, abs=0.1)
    assert decode_errors(path) == ""
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no text files or partial output left


HOSTILE = 'It\'s "quoted": C:\\path\\ 100% %{pts} %{eif:1+1:d} [out];,= \\n\nnew line\ttab ünïcødé 漢字 🎬 \ud800'


def test_hostile_prompt_text_reaches_drawtext_only_through_files(adapter, rendered):
    submitted = adapter.create(request(HOSTILE, duration=4), {})
    assert adapter.poll(submitted.task_id, "title-card", {}).state == "succeeded"
    (run,) = rendered
    drawn = run["lines"]
    assert " ".join(drawn) == printable(HOSTILE)
    assert "%{pts}" in " ".join(drawn) and "\n" not in "".join(drawn) and "\ud800" not in "".join(drawn)
    graph = " ".join(run["args"])
    assert graph.count("textfile=") == len(drawn) and graph.count("expansion=none") == len(drawn)
    for word in ("%{", "quoted", "ünïcødé", "漢字"):
        assert word not in graph  # the prompt never enters the filter graph itself


def test_a_long_prompt_is_cut_to_the_pages_its_duration_shows(adapter, rendered):
    adapter.create(request("word " * 800), {})
    (run,) = rendered
    assert 2 <= len(run["lines"]) <= 5 and run["lines"][-1].endswith("…")


def test_pages_wrap_and_end_a_cut_with_an_ellipsis():
    assert pages("one two three four five six", chars=9, lines=2, count=5) == [
        ["one two", "three"],
        ["four five", "six"],
    ]
    assert pages("one two three four five six", chars=9, lines=2, count=1) == [["one two", "three…"]]
    assert pages("aaaaa bbbbb ccccc", chars=5, lines=1, count=2) == [["aaaaa"], ["bbbb…"]]
    assert pages("", chars=9, lines=2, count=1) == []


def test_a_start_image_becomes_a_slow_zoom_behind_the_title(adapter, folder, rendered, image_path):
    submitted = adapter.create(request(aspect_ratio="9:16", resolution="360p", image_path=image_path), {})
    info = probe(folder / f"{submitted.task_id}.mp4")
    (video,) = streams(info, "video")
    assert (video["width"], video["height"]) == (360, 640) and len(streams(info, "audio")) == 1
    args = rendered[0]["args"]
    assert "zoompan" in " ".join(args) and "gradients" not in " ".join(args)
    opened = args.index(str(image_path))
    assert args[opened - 1] == "-i" and "-protocol_whitelist" in args[:opened] and "-format_whitelist" in args[:opened]


def test_an_unreadable_start_image_is_refused_and_leaves_nothing(adapter, folder, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture at all" * 10)
    with pytest.raises(ProviderError) as caught:
        adapter.create(request(image_path=broken), {})
    assert caught.value.code == INVALID_REQUEST
    assert list(folder.iterdir()) == []


def test_poll_reports_the_rendered_file_and_download_moves_it(adapter, folder, tmp_path):
    task = adapter.create(request(), {}).task_id
    poll = adapter.poll(task, "title-card", {})
    assert (poll.state, poll.progress, poll.error) == ("succeeded", 100, None)
    source = folder / f"{task}.mp4"
    assert poll.video_url == source.as_uri()
    dest = tmp_path / "out.download"
    assert adapter.download(poll, {}, dest, max_bytes=MAX_BYTES) == "video/mp4"
    assert not source.exists() and streams(probe(dest), "video")
    gone = adapter.poll(task, "title-card", {})
    assert gone.state == "failed" and gone.error.code == PROVIDER_ERROR


def test_download_refuses_files_over_the_limit_and_outside_its_folder(adapter, tmp_path):
    poll = adapter.poll(adapter.create(request(), {}).task_id, "title-card", {})
    with pytest.raises(ProviderError) as caught:
        adapter.download(poll, {}, tmp_path / "small", max_bytes=100)
    assert caught.value.code == PROVIDER_ERROR
    elsewhere = tmp_path / ("0" * 32 + ".mp4")
    elsewhere.write_bytes(b"x")
    for url in (elsewhere.as_uri(), poll.video_url.replace(".mp4", ".part.mp4")):
        with pytest.raises(ProviderError):
            adapter.download(Poll(state="succeeded", video_url=url), {}, tmp_path / "dest", max_bytes=MAX_BYTES)
    assert elsewhere.exists()


def test_cancel_deletes_the_video_and_ignores_unknown_tasks(adapter):
    task = adapter.create(request(), {}).task_id
    adapter.cancel(task, "title-card", {})
    assert adapter.poll(task, "title-card", {}).state == "failed"
    adapter.cancel(task, "title-card", {})
    adapter.cancel("../../etc/passwd", "title-card", {})


def test_poll_fails_for_a_task_it_never_made_or_a_malformed_id(adapter):
    for task in ("0" * 32, "../" + "0" * 32, ""):
        poll = adapter.poll(task, "title-card", {})
        assert poll.state == "failed" and poll.error.code == PROVIDER_ERROR
