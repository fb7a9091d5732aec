"""Progress of long stages: plain lines off a terminal, a bar on one, and never a changed number."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from benchmark import progress
from benchmark.config import TrainParams
from benchmark.evaluation import downstream
from benchmark.upstream.generators import build
from benchmark.upstream.generators.train import fit as fit_generator
from tests.conftest import make_domain

RECIPE = TrainParams(max_steps=20, batch_size=16, lr=0.01, weight_decay=0.0, val_every=10,
                     width=8)


def _terminal(monkeypatch, on: bool) -> None:
    monkeypatch.setattr(progress, "on_terminal", lambda: on)
    monkeypatch.setattr(progress, "_stdout_is_terminal", lambda: on)


def test_counts_print_plain_lines_off_a_terminal(capsys) -> None:
    bar = progress.Progress("construct d/m/seed0", 4, "round", every=2)
    for r in range(1, 5):
        bar.update(r, f"cost {r}.0/4")
    bar.close()
    assert capsys.readouterr().err.splitlines() == [
        "construct d/m/seed0: round 2/4, cost 2.0/4", "construct d/m/seed0: round 4/4, cost 4.0/4"]


def test_counts_draw_a_bar_on_a_terminal(capsys, monkeypatch) -> None:
    _terminal(monkeypatch, True)
    bar = progress.Progress("construct d/m/seed0", 3, "round")
    for r in (2, 3):  # a resumed run starts past round 1
        bar.update(r, "cost")
    bar.close()
    err = capsys.readouterr().err
    assert "\r" in err and "3/3" in err and "round 3/3," not in err


def test_a_fit_off_a_terminal_says_its_steps_in_plain_lines(tmp_path, capsys) -> None:
    data = make_domain(n=60)
    downstream.fit(data["seed"], data["val"], "tabular", 3, RECIPE, 0, tmp_path / "m.ckpt",
                   name="train toy/random/seed0")
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("train toy/")]
    assert len(lines) == 1 and lines[0].startswith("train toy/random/seed0: step 20/20, loss ")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    fit_generator(build("tabular", x, 2, 3, [16], 16, 50), x, rng.integers(0, 2, 64),
                  rng.integers(0, 3, 64), 20, 16, 1e-3, 0.1, 0, name="generator toy")
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("generator toy")]
    assert [x.split(",")[0] for x in lines] == [f"generator toy: step {s}/20"
                                                for s in range(2, 21, 2)]


@pytest.mark.parametrize("part", ["downstream", "generator"])
def test_bar_or_lines_train_the_same_weights(part, tmp_path, monkeypatch, capsys) -> None:
    """The progress output reads numbers only: a bar and plain lines give identical models."""
    data = make_domain(n=60)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    weights = []
    for on in (False, True):
        _terminal(monkeypatch, on)
        if part == "downstream":
            model = downstream.fit(data["seed"], data["val"], "tabular", 3,
                                   dataclasses.replace(RECIPE, max_steps=12, val_every=6), 1,
                                   tmp_path / f"{on}.ckpt")
        else:
            torch.manual_seed(0)  # the denoiser's initial weights
            model = build("tabular", x, 2, 3, [16], 16, 50)
            fit_generator(model, x, np.arange(64) % 2, np.arange(64) % 3, 8, 16, 1e-3, 0.1, 0)
            model = model.denoiser
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
    drawn = capsys.readouterr()
    assert "\r" in drawn.out + drawn.err  # the terminal run drew a bar (Lightning's: stdout)
