"""Reading the user's subtitle files: words as shown, tags and lone punctuation handled, unreadable files."""

import pytest

from jobs.ffmpeg.errors import MediaError
from jobs.transcription.subtitles import cue_tokens, read_cues, spoken, spread


def test_cue_words_keep_their_spelling_and_glue_lone_marks_to_a_neighbour():
    assert cue_tokens("- Hello, Mr. O'Brien — really?!") == ["- Hello,", "Mr.", "O'Brien —", "really?!"]
    assert [spoken(t) for t in cue_tokens('Don\'t "stop"')] == ["don't", "stop"]


def test_vtt_cues_are_read_without_tags_in_time_order(tmp_path):
    path = tmp_path / "cues.vtt"
    path.write_text(
        "WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nsecond\n\n00:00:01.000 --> 00:00:02.500\n<b>first</b> line\n"
    )
    assert read_cues(path) == [(1.0, 2.5, ["first", "line"]), (3.0, 4.0, ["second"])]


def test_words_without_alignment_share_the_cue_by_length():
    words = spread(1.0, 2.0, ["a", "bbb"])
    assert [(w.word, w.start, w.end) for w in words] == [("a", 1.0, 1.25), ("bbb", 1.25, 2.0)]


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage", b"not a subtitle at all\n"])
def test_an_unreadable_file_is_unusable_subtitles(tmp_path, content):
    path = tmp_path / "bad.srt"
    path.write_bytes(content)
    with pytest.raises(MediaError) as error:
        read_cues(path)
    assert error.value.code == "unusable_subtitles"
