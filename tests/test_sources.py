"""Offline by default: one switch, one clear sentence."""

import pytest

from helpers import sources


def test_offline_by_default_and_error_names_the_switch(monkeypatch):
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    assert not sources.online()
    with pytest.raises(sources.OfflineError) as err:
        sources.require_online("CIFAR-10")
    message = str(err.value)
    assert "CIFAR-10" in message and "COURSE_ONLINE=1" in message
    assert "\n" not in message  # one sentence, not a stack of errors


def test_switch_turns_downloads_on_and_off(monkeypatch):
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    sources.allow_downloads()
    assert sources.online()
    sources.require_online("gpt2")  # no error
    sources.allow_downloads(False)
    assert not sources.online()


def test_hugging_face_libraries_are_told_to_stay_offline(monkeypatch):
    import os

    sources.allow_downloads(False)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_missing_data_file_gives_one_sentence():
    with pytest.raises(FileNotFoundError, match="data/no_such_file.txt is missing"):
        sources.data_path("no_such_file.txt")


def test_data_dir_can_be_moved(monkeypatch, tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    assert sources.data_path("x.txt").read_text() == "hi"
