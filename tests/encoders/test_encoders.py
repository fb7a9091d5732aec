import copy
import dataclasses

import numpy as np
import pytest
import torch

from benchmark import encoders
from benchmark.config import ConfigError, ModalitySteps, PretrainFitParams, parse_params
from benchmark.encoders.pretrain import pretrain
from benchmark.stages.pretrain import fit_encoder
from tests.conftest import make_domain

SHAPES = {"image": (3, 12, 12), "sequence": (2, 32), "tabular": (7,)}


@pytest.fixture
def model_params(smoke_params):
    return smoke_params.pretrain.model


@pytest.mark.parametrize("modality", sorted(SHAPES))
def test_forward_save_load_round_trip(modality, model_params, tmp_path) -> None:
    shape = SHAPES[modality]
    model = encoders.build(modality, shape, model_params, seed=0)
    x = torch.randn(6, *shape)
    loss = encoders.family(modality).loss(model, x)
    loss.backward()
    assert torch.isfinite(loss)
    encoders.save(model, tmp_path / "enc")
    encoder = encoders.load(modality, tmp_path / "enc", shape)
    z = encoders.embed(modality, encoder, x.numpy(), batch_size=4)
    assert z.shape[0] == 6 and z.dtype == np.float32 and np.isfinite(z).all()
    np.testing.assert_allclose(z, encoders.embed(modality, encoder, x.numpy()), atol=1e-5)
    saved = model.base_model.state_dict()
    for key, value in encoder.state_dict().items():
        torch.testing.assert_close(value, saved[key])


@pytest.mark.parametrize("modality", sorted(SHAPES))
def test_the_same_items_always_get_the_same_embedding(modality, model_params, tmp_path) -> None:
    """Bit for bit, whatever the global random state (ViT-MAE shuffles patches at random)."""
    shape = SHAPES[modality]
    encoders.save(encoders.build(modality, shape, model_params, seed=0), tmp_path / "enc")
    encoder = encoders.load(modality, tmp_path / "enc", shape)
    x = np.random.default_rng(0).normal(size=(5, *shape)).astype(np.float32)
    first = encoders.embed(modality, encoder, x)
    torch.manual_seed(123)
    np.testing.assert_array_equal(first, encoders.embed(modality, encoder, x))


@pytest.mark.parametrize("modality", sorted(SHAPES))
def test_random_init_keeps_the_architecture_not_the_weights(modality, model_params,
                                                            tmp_path) -> None:
    shape = SHAPES[modality]
    encoders.save(encoders.build(modality, shape, model_params, seed=0), tmp_path / "enc")
    trained = encoders.load(modality, tmp_path / "enc")
    untrained = encoders.random_like(trained, seed=1)
    assert untrained.config.to_dict() == trained.config.to_dict()
    x = np.random.default_rng(0).normal(size=(3, *shape)).astype(np.float32)
    z, z0 = encoders.embed(modality, trained, x), encoders.embed(modality, untrained, x)
    assert z.shape == z0.shape and not np.allclose(z, z0)


def test_pretraining_lowers_the_masked_loss(model_params) -> None:
    data = make_domain(n=64)
    model = encoders.build("tabular", data.input_shape, model_params, seed=0)
    fit = PretrainFitParams(steps=ModalitySteps(image=1, sequence=1, tabular=40), batch_size=32,
                            lr=0.01, weight_decay=0.0)
    losses = pretrain(model, "tabular", data["pool"].x, fit)
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_local_weights_are_loaded_instead_of_pretraining(smoke_params, tmp_path) -> None:
    data = make_domain(n=16)
    theirs = encoders.build("tabular", data.input_shape, smoke_params.pretrain.model, seed=7)
    encoders.save(theirs.base_model, tmp_path / "theirs")  # an encoder-only checkpoint
    summary = fit_encoder(data, smoke_params.pretrain, str(tmp_path / "theirs"), tmp_path / "ours")
    assert summary == {"source": str(tmp_path / "theirs")}
    ours = encoders.load("tabular", tmp_path / "ours", data.input_shape)
    np.testing.assert_allclose(encoders.embed("tabular", ours, data["val"].x),
                               encoders.embed("tabular", theirs.base_model.eval(),
                                              data["val"].x), atol=1e-6)


def test_loading_checks_the_folder_and_the_input_shape(model_params, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="save_pretrained"):
        encoders.load("tabular", tmp_path / "missing")
    encoders.save(encoders.build("tabular", (7,), model_params, seed=0), tmp_path / "enc")
    with pytest.raises(ValueError, match=r"\(7,\).*\(9,\)"):
        encoders.load("tabular", tmp_path / "enc", (9,))
    with pytest.raises(ValueError, match="no encoder for modality 'audio'"):
        encoders.family("audio")


def test_every_domain_must_name_its_weights(raw_params) -> None:
    raw = copy.deepcopy(raw_params)
    del raw["pretrain"]["weights"]["climate"]
    with pytest.raises(ConfigError, match="pretrain.weights.*one entry per domain"):
        parse_params(raw)


def test_dihedral_pooling_makes_image_embeddings_rotation_invariant(model_params,
                                                                    tmp_path) -> None:
    """A cell's angle is a nuisance: rotating or flipping the image keeps its embedding."""
    image = dataclasses.replace(model_params.image, view="standardised", colour=True,
                                dihedral=True)
    params = dataclasses.replace(model_params, image=image)
    encoders.save(encoders.build("image", SHAPES["image"], params, seed=0), tmp_path / "enc")
    encoder = encoders.load("image", tmp_path / "enc", SHAPES["image"])
    x = np.random.default_rng(0).uniform(0.05, 1, size=(4, *SHAPES["image"])).astype(np.float32)
    z = encoders.embed("image", encoder, x)
    assert z.shape[1] == params.width + 6  # patch-token mean + colour summary
    turned = np.ascontiguousarray(np.rot90(x, 1, axes=(2, 3))[..., ::-1])
    np.testing.assert_allclose(encoders.embed("image", encoder, turned), z, atol=1e-5)
