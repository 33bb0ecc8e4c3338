"""The whisper engine is chosen only when a local model is configured, and says clearly what is missing; the
system check names the same problem. (faster-whisper itself is an optional extra, not installed for tests.)"""

import importlib.util

import pytest

from jobs.ffmpeg.errors import MediaError
from jobs.transcription import whisper
from jobs.transcription.engines import resolve, transcribe_audio
from mediahub.checks import whisper_model


def test_auto_is_pocketsphinx_without_a_model_and_whisper_with_one(settings, tmp_path):
    settings.MEDIAHUB_WHISPER_MODEL_DIR = ""
    assert resolve("auto") == "pocketsphinx"
    assert resolve("auto", subtitles=True) == "subtitles"
    settings.MEDIAHUB_WHISPER_MODEL_DIR = str(tmp_path)
    assert resolve("auto") == "whisper"
    assert resolve("pocketsphinx") == "pocketsphinx"


def test_whisper_without_a_model_dir_is_unavailable(settings, speech):
    settings.MEDIAHUB_WHISPER_MODEL_DIR = ""
    with pytest.raises(MediaError) as error:
        transcribe_audio(speech.wav, engine="whisper")
    assert error.value.code == "engine_unavailable"
    assert "MEDIAHUB_WHISPER_MODEL_DIR" in error.value.message


def test_whisper_without_the_package_names_the_extra(settings, speech, tmp_path):
    settings.MEDIAHUB_WHISPER_MODEL_DIR = str(tmp_path)
    assert importlib.util.find_spec("faster_whisper") is None
    with pytest.raises(MediaError) as error:
        transcribe_audio(speech.wav, engine="whisper", language="de")
    assert error.value.code == "engine_unavailable"
    assert "mediahub[whisper]" in error.value.message


def test_a_directory_that_is_not_a_model_is_named(settings, tmp_path, monkeypatch):
    settings.MEDIAHUB_WHISPER_MODEL_DIR = str(tmp_path)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())  # as if the extra were installed
    assert "no model.bin, config.json" in whisper.problem()
    (tmp_path / "model.bin").write_bytes(b"x")
    (tmp_path / "config.json").write_text("{}")
    assert whisper.problem() is None


def test_system_check_reports_an_unusable_whisper_setting(settings, tmp_path):
    settings.MEDIAHUB_WHISPER_MODEL_DIR = ""
    assert whisper_model(None) == []
    settings.MEDIAHUB_WHISPER_MODEL_DIR = str(tmp_path / "missing")
    [error] = whisper_model(None)
    assert error.id == "mediahub.E008"
    assert "faster-whisper" in error.msg
