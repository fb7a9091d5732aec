import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark import hardware, modalities
from benchmark.config import TrainParams
from benchmark.evaluation import downstream
from benchmark.evaluation.evaluate import score
from tests.conftest import make_domain

RECIPE = TrainParams(max_steps=60, batch_size=16, lr=0.01, weight_decay=0.0, val_every=20,
                     width=8)


@pytest.mark.parametrize("modality, shape", [("image", (3, 12, 12)), ("sequence", (3, 32)),
                                             ("tabular", (7,))])
def test_backbones_map_inputs_to_class_logits(modality, shape) -> None:
    net = modalities.modality(modality).backbone(shape, 4, width=8)
    assert net(torch.zeros(5, *shape)).shape == (5, 4)


def test_fit_learns_selects_on_val_and_saves_a_checkpoint(tmp_path) -> None:
    data = make_domain(n=120)
    model = downstream.fit(data["seed"], data["val"], "tabular", 3, RECIPE, 0, tmp_path / "m.ckpt")
    assert (tmp_path / "m.ckpt").is_file()
    assert model.hparams.max_steps == 60
    metrics, groups = score(lambda x: downstream.predict(model, x), data)
    assert metrics["test_id/acc"] > 0.8  # chance is 1/3
    assert {"test_shift/acc_wg", "shift_gap/acc", "val/f1_macro"} <= set(metrics)
    assert {r["split"] for r in groups} == {"val", "test_id", "test_shift"}


def test_batches_are_those_of_a_per_item_loader() -> None:
    """Slicing whole batches is a speed-up only: the same items in the same batches as the
    per-item DataLoader the recipe used before, for training (with replacement) and val."""
    from torch.utils.data import DataLoader, RandomSampler, TensorDataset

    split = make_domain(n=50)["seed"]
    ds = TensorDataset(torch.from_numpy(split.x), torch.from_numpy(split.y))
    per_item = {
        "train": DataLoader(ds, batch_size=16, sampler=RandomSampler(
            ds, replacement=True, num_samples=7 * 16, generator=torch.Generator().manual_seed(5))),
        "val": DataLoader(ds, batch_size=16)}
    sliced = {"train": hardware.batches((split.x, split.y), 16, 7, 5),
              "val": hardware.batches((split.x, split.y), 16, None)}
    for name in ("train", "val"):
        ours, theirs = list(sliced[name]), list(per_item[name])
        assert len(ours) == len(theirs) == (7 if name == "train" else 4)
        for (x, y), (x_ref, y_ref) in zip(ours, theirs, strict=True):
            assert torch.equal(x, x_ref) and torch.equal(y, y_ref)


def test_same_seed_same_model(tmp_path) -> None:
    data = make_domain(n=60)
    recipe = dataclasses.replace(RECIPE, max_steps=20, val_every=10)
    preds = []
    for k in range(2):
        model = downstream.fit(data["seed"], data["val"], "tabular", 3, recipe, 3,
                               tmp_path / f"{k}.ckpt")
        preds.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert torch.equal(preds[0], preds[1])


def test_step_count_does_not_depend_on_dataset_size(tmp_path) -> None:
    small, big = make_domain(n=20), make_domain(n=200)
    recipe = dataclasses.replace(RECIPE, max_steps=7, val_every=7)
    for data in (small, big):
        loader = hardware.batches((data["seed"].x, data["seed"].y), recipe.batch_size,
                                  recipe.max_steps, 0)
        assert len(loader) == 7
    assert np.all(np.isfinite(small["seed"].x))


def test_the_loss_curve_keeps_its_points_with_one_log_call_per_point(tmp_path, monkeypatch) -> None:
    """``self.log`` costs about 0.4 ms a call, so a fit calls it only on the steps the logger
    keeps (every ``log_every``): the logged curve has the points it had when every step called
    it, and only those calls are made."""
    import pandas as pd
    from lightning.pytorch.loggers import CSVLogger

    calls = []
    log = downstream.Classifier.log
    monkeypatch.setattr(downstream.Classifier, "log", lambda self, key, *a, **k: (
        calls.append(key), log(self, key, *a, **k)))
    data = make_domain(n=60)
    recipe = dataclasses.replace(RECIPE, max_steps=23, val_every=23)
    logger = CSVLogger(tmp_path, name="fit")
    downstream.fit(data["seed"], data["val"], "tabular", 3, recipe, 0, tmp_path / "m.ckpt",
                   logger=logger)
    curve = pd.read_csv(Path(logger.log_dir) / "metrics.csv").dropna(subset=["train/loss"])
    assert curve.step.tolist() == [9, 19]  # Lightning's own cadence: steps 10 and 20
    assert calls.count("train/loss") == 2
