"""setup_day: title, versions, seeds and device."""

import random

import pytest
import torch

from helpers.day import pick_device, setup_day


def test_setup_day_prints_title_and_versions(capsys):
    device = setup_day(2, seed=3)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Day 2 · Softmax, cross-entropy, logits vs probabilities"
    assert out[1].startswith("python ") and "torch " in out[1]
    assert out[1].endswith("device cpu | seed 3")
    assert device == "cpu"


def test_setup_day_seeds_every_generator(capsys):
    setup_day(1, seed=7)
    a = (random.random(), torch.rand(1).item())
    setup_day(1, seed=7)
    b = (random.random(), torch.rand(1).item())
    capsys.readouterr()
    assert a == b


def test_unknown_day_is_a_clear_error():
    with pytest.raises(ValueError, match="days run from 1 to 60"):
        setup_day(61)


def test_cpu_is_the_default_device():
    assert pick_device() == "cpu"
