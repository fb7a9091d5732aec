import copy
import dataclasses

import numpy as np
import pytest
import torch

from benchmark.config import ConfigError, ModalityCounts, PretrainFitParams, parse_params
from benchmark.stages.pretrain import fit_encoder
from benchmark.upstream import encoders
from benchmark.upstream.encoders.pretrain import pretrain
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
    fit = PretrainFitParams(steps=ModalityCounts(image=1, sequence=1, tabular=40), batch_size=32,
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
    with pytest.raises(ValueError, match="unknown modality 'audio'"):
        encoders.family("audio")


@pytest.mark.parametrize("modality", sorted(SHAPES))
def test_an_ensemble_saves_loads_and_embeds_its_members_side_by_side(modality, model_params,
                                                                      tmp_path) -> None:
    shape = SHAPES[modality]
    members = [encoders.build(modality, shape, model_params, seed=s) for s in (0, 1)]
    encoders.save(encoders.Ensemble(members), tmp_path / "ens")
    assert not (tmp_path / "ens" / "config.json").exists()
    ensemble = encoders.load(modality, tmp_path / "ens", shape)
    assert isinstance(ensemble, encoders.Ensemble) and len(ensemble.members) == 2
    x = np.random.default_rng(0).uniform(0.05, 1, size=(3, *shape)).astype(np.float32)
    for i, member in enumerate(members):
        encoders.save(member, tmp_path / f"alone-{i}")
    alone = [encoders.embed(modality, encoders.load(modality, tmp_path / f"alone-{i}"), x)
             for i in range(2)]
    np.testing.assert_allclose(encoders.embed(modality, ensemble, x), np.concatenate(alone, 1),
                               atol=1e-5)
    assert not np.allclose(alone[0], alone[1])
    untrained = encoders.random_like(ensemble, seed=0)
    assert isinstance(untrained, encoders.Ensemble) and len(untrained.members) == 2
    assert encoders.embed(modality, untrained, x).shape == (3, 2 * alone[0].shape[1])
    with pytest.raises(ValueError, match=r"\(9, 9\)"):
        encoders.load(modality, tmp_path / "ens", (9, 9))


def test_ensemble_members_are_pretrained_from_their_own_seeds(smoke_params, tmp_path) -> None:
    """Member i of pretraining seed s starts from seed s * members + i: a one-member run is the
    first member of a two-member one, and pretraining seeds never share a member."""
    data = make_domain(n=32)

    def fitted(seed: int, members: int) -> np.ndarray:
        fit = dataclasses.replace(smoke_params.pretrain.fit, seed=seed,
                                  members=ModalityCounts(image=1, sequence=1, tabular=members))
        folder = tmp_path / f"{seed}-{members}"
        summary = fit_encoder(data, dataclasses.replace(smoke_params.pretrain, fit=fit), None,
                              folder)
        assert summary["members"] == members
        return encoders.embed("tabular", encoders.load("tabular", folder), data["val"].x)

    one, two, next_two = fitted(0, 1), fitted(0, 2), fitted(1, 2)
    width = one.shape[1]
    assert two.shape[1] == 2 * width
    np.testing.assert_allclose(two[:, :width], one, atol=1e-6)
    assert not np.allclose(two[:, width:], one, atol=1e-3)
    for a in (two[:, :width], two[:, width:]):
        for b in (next_two[:, :width], next_two[:, width:]):
            assert not np.allclose(a, b, atol=1e-3)


def test_every_domain_must_name_its_weights(raw_params) -> None:
    raw = copy.deepcopy(raw_params)
    del raw["pretrain"]["weights"]["climate"]
    with pytest.raises(ConfigError, match="pretrain.weights.*one entry per domain"):
        parse_params(raw)


def test_dihedral_pooling_makes_image_embeddings_rotation_invariant(model_params,
                                                                    tmp_path) -> None:
    """A cell's angle is a nuisance: rotating or flipping the image keeps its embedding."""
    image = dataclasses.replace(model_params.image, view="standardised", pooling="centre",
                                colour=2, dihedral=True)
    params = dataclasses.replace(model_params, image=image)
    encoders.save(encoders.build("image", SHAPES["image"], params, seed=0), tmp_path / "enc")
    encoder = encoders.load("image", tmp_path / "enc", SHAPES["image"])
    x = np.random.default_rng(0).uniform(0.05, 1, size=(4, *SHAPES["image"])).astype(np.float32)
    z = encoders.embed("image", encoder, x)
    assert z.shape[1] == params.width + 12  # inner patch-token mean + 2 x colour summary
    np.testing.assert_array_equal(z[:, -12:-6], z[:, -6:])
    turned = np.ascontiguousarray(np.rot90(x, 1, axes=(2, 3))[..., ::-1])
    np.testing.assert_allclose(encoders.embed("image", encoder, turned), z, atol=1e-5)


def test_centre_pooling_reads_only_the_inner_patch_tokens(model_params, tmp_path) -> None:
    """``centre`` drops the border ring of patches (where a neighbouring cell is cut by the
    border), so it equals the mean of the inner tokens, and it differs from ``mean``."""
    image = dataclasses.replace(model_params.image, view="rgb", pooling="centre", colour=0,
                                dihedral=False)
    params = dataclasses.replace(model_params, image=image)
    encoder = encoders.build("image", SHAPES["image"], params, seed=0)
    encoders.save(encoder, tmp_path / "enc")
    encoder = encoders.load("image", tmp_path / "enc", SHAPES["image"])
    x = np.random.default_rng(1).uniform(0.05, 1, size=(3, *SHAPES["image"])).astype(np.float32)
    side = SHAPES["image"][1] // image.patch_size
    assert side > 2, "the test needs a patch grid with an inside"
    noise = torch.arange(side * side, dtype=torch.float32).expand(len(x), side * side)
    with torch.no_grad():
        hidden = encoder(pixel_values=torch.from_numpy(x), noise=noise).last_hidden_state
    grid = hidden[:, 1:].reshape(len(x), side, side, -1)
    inner = grid[:, 1:-1, 1:-1].reshape(len(x), -1, grid.shape[-1]).mean(dim=1)
    z = encoders.embed("image", encoder, x)
    np.testing.assert_allclose(z, inner.numpy(), atol=1e-5)
    assert not np.allclose(z, hidden[:, 1:].mean(dim=1).numpy(), atol=1e-3)


@pytest.mark.parametrize("colour", [True, -1, 1.5])
def test_colour_weight_must_be_a_count(raw_params, colour) -> None:
    raw = copy.deepcopy(raw_params)
    raw["pretrain"]["model"]["image"]["colour"] = colour
    with pytest.raises(ConfigError, match=r"pretrain\.model\.image\.colour"):
        parse_params(raw)


def test_tabular_embedding_keeps_the_magnitude_the_final_norm_drops(model_params) -> None:
    """The embedding is read before the encoder's LayerNorm, which would give every item's
    vector the same mean and spread (0 and 1 for a fresh model)."""
    encoder = encoders.build("tabular", SHAPES["tabular"], model_params, seed=0).tabular
    x = np.random.default_rng(0).normal(size=(8, *SHAPES["tabular"])).astype(np.float32)
    z = encoders.embed("tabular", encoder, np.concatenate([x, 4 * x]))
    normed = encoder(features=torch.from_numpy(np.concatenate([x, 4 * x]))).last_hidden_state
    np.testing.assert_allclose(normed.detach().numpy().std(axis=1), 1.0, atol=0.05)
    assert z.std(axis=1)[8:].mean() > 2 * z.std(axis=1)[:8].mean()
