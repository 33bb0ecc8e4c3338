"""User files never make FFmpeg open other files: playlists and concat scripts are not media to us."""

import pytest

from tests.media import ffmpeg


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
