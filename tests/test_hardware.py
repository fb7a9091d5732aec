"""Every stage takes its device from ``params.yaml``'s ``hardware`` section, and every module a
stage uses moves with it. No GPU is needed to check the plumbing: the ``meta`` device stands in
for an accelerator, since an op that mixes a meta tensor with one made on the host raises (a
model on the GPU beside a tensor created on the CPU fails the same way)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler
from torch.utils._python_dispatch import TorchDispatchMode

from benchmark import hardware, modalities
from benchmark.config import (
    ConfigError,
    HardwareParams,
    TrainParams,
    parse_params,
    read_yaml,
    with_profile,
)
from benchmark.evaluation import downstream
from benchmark.upstream import encoders
from benchmark.upstream.generators import model as generator_model
from benchmark.upstream.generators import sampling
from benchmark.upstream.generators.train import ConditionalDDPM
from tests.conftest import make_domain
from tests.workspace import REPO

SHAPES = {"image": (3, 16, 16), "sequence": (3, 32), "tabular": (4,)}  # make_domain's items


@pytest.fixture()
def machine(monkeypatch) -> dict[str, int]:
    """A machine with as many devices of each kind as the test says (none to start)."""
    counts = {"cuda": 0, "mps": 0}
    monkeypatch.setattr(hardware, "_visible", lambda kind: None if kind in ("cpu", "auto")
                        else counts["cuda" if kind in ("gpu", "cuda") else "mps"])
    monkeypatch.setattr(hardware, "_current", HardwareParams())
    return counts


def test_the_device_resolves_from_the_params(machine) -> None:
    auto, gpu = HardwareParams("auto"), HardwareParams("gpu")
    assert hardware.device(HardwareParams("cpu")) == "cpu" and hardware.device(auto) == "cpu"
    assert hardware.trainer_args(auto) == {"accelerator": "cpu", "devices": 1,
                                           "precision": "32-true"}
    with pytest.raises(ConfigError, match=r"params\.yaml: hardware\.accelerator: got 'gpu', "
                                          r"but this machine has no such device"):
        hardware.configure(gpu)
    assert hardware.current() == HardwareParams()  # a refused configuration changes nothing
    machine["mps"] = 1
    assert hardware.device(auto) == "mps"
    machine["cuda"] = 1
    assert hardware.device(auto) == "cuda" and hardware.trainer_args(auto)["accelerator"] == "gpu"
    hardware.configure(gpu)
    assert hardware.current() is gpu and hardware.device() == "cuda"
    machine["cuda"] = 2  # one device per process whatever the machine has: cells share it
    assert hardware.trainer_args(gpu)["devices"] == 1


def test_a_stage_process_is_set_for_forks_and_deterministic_cublas() -> None:
    """Set on import, before any stage touches torch: device counts through NVML (a forked cell
    may then still start CUDA) and cuBLAS's reproducible workspace (a cell's first product may
    precede the Trainer that would set it)."""
    import os

    assert os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] == "1"
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] in (":4096:8", ":16:8")


def test_every_profile_names_a_known_accelerator_and_the_sections_none() -> None:
    raw = read_yaml(REPO / "params.yaml")
    for profile in raw["profiles"]:
        params = parse_params(with_profile(raw, profile))
        assert params.hardware.accelerator == ("auto" if profile == "paper" else "cpu")
    with pytest.raises(ConfigError, match=r"hardware\.precision: got 'fp8', expected one of"):
        parse_params(with_profile({**raw, "hardware": {**raw["hardware"], "precision": "fp8"}},
                                  "smoke"))


def _generator(kind: str) -> generator_model.Generator:
    x = np.random.default_rng(0).normal(size=(40, *SHAPES[kind])).astype(np.float32)
    if kind == "sequence":  # a channel constant along time, snapped to the levels seen
        x[:, 0] = np.array([0.0, 1.0, 2.0, 3.0])[np.arange(40) % 4, None]
    return generator_model.build(kind, x, 2, 3, [8, 16], 16, 50)


@pytest.mark.parametrize("kind", SHAPES)
def test_sampling_keeps_every_tensor_on_the_device(kind: str) -> None:
    gen = _generator(kind)
    assert kind != "sequence" or gen.static  # the snapping code runs too
    gen.denoiser.to("meta")
    sched = DDIMScheduler.from_config(gen.scheduler.config)
    labels, clusters = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 3, 2])
    out = sampling._denoise(gen, sched, labels, clusters, 3, 2.0,
                            torch.Generator().manual_seed(0), "meta")
    assert out.device.type == "meta" and tuple(out.shape) == (4, *SHAPES[kind])


def _encoder(kind: str, folder: Path) -> encoders.Encoder:
    """A small encoder as the pipeline loads one (built, saved, loaded)."""
    params = parse_params(with_profile(read_yaml(REPO / "params.yaml"), "smoke"))
    encoders.save(encoders.build(kind, SHAPES[kind], params.pretrain.model, seed=0), folder)
    return encoders.load(kind, folder, SHAPES[kind])


@pytest.mark.parametrize("kind", SHAPES)
def test_encoders_and_classifiers_run_where_their_weights_are(kind: str, tmp_path) -> None:
    shape = SHAPES[kind]
    x = torch.zeros(5, *shape, device="meta")
    z = encoders.family(kind).pool(_encoder(kind, tmp_path).to("meta"), x)
    assert z.device.type == "meta" and z.shape[0] == 5
    way = modalities.modality(kind)
    net = way.backbone(shape, 3, width=8).to("meta")
    assert net(way.augment(x)).device.type == "meta"


# aten ops that torch documents as refusing deterministic mode on CUDA (a RuntimeError under
# ``torch.use_deterministic_algorithms(True)``, which every fit's ``deterministic=True`` sets):
# the backward of adaptive / 3-d / fractional pooling, linear-family interpolation, reflection
# padding, grid sampling and CTC; max-unpooling, 2-d NLL, histc, bincount, median, put, cumsum
REFUSED_ON_CUDA = {
    "_adaptive_avg_pool2d_backward", "_adaptive_avg_pool3d_backward",
    "adaptive_max_pool2d_backward", "avg_pool3d_backward", "fractional_max_pool2d_backward",
    "fractional_max_pool3d_backward", "max_unpool2d", "max_unpool3d",
    "upsample_linear1d_backward", "upsample_bilinear2d_backward", "upsample_bicubic2d_backward",
    "upsample_trilinear3d_backward", "_upsample_bilinear2d_aa_backward",
    "_upsample_bicubic2d_aa_backward", "reflection_pad1d_backward", "reflection_pad2d_backward",
    "reflection_pad3d_backward", "grid_sampler_2d_backward", "grid_sampler_3d_backward",
    "_ctc_loss_backward", "nll_loss2d_forward", "histc", "bincount", "median", "put", "put_",
    "cumsum", "cumsum_",
}


class _Ops(TorchDispatchMode):
    """Every aten op that runs while it is active, forward and backward."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.names.add(func._overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("kind", SHAPES)
def test_no_fit_or_sampler_runs_an_op_cuda_refuses_in_deterministic_mode(kind: str,
                                                                         tmp_path) -> None:
    """The fits run with ``deterministic=True``; one op without a deterministic CUDA kernel
    (an adaptive pooling layer in a backbone, bilinear upsampling in a UNet) would end the
    first GPU run of the stage in a RuntimeError. Recorded here on the CPU: the training step
    (forward and backward) of the encoder's pretraining, the downstream classifier and the
    generator, then sampling and embedding."""
    shape = SHAPES[kind]
    x, y = torch.randn(8, *shape), torch.arange(8) % 3
    params = parse_params(with_profile(read_yaml(REPO / "params.yaml"), "smoke"))
    encoder = encoders.build(kind, shape, params.pretrain.model, seed=0)
    classifier = downstream.Classifier(kind, shape, 3, 8, 0.01, 0.0, 10)
    gen = _generator(kind)
    ddpm = ConditionalDDPM(gen, 1e-3, 0.1, snr_gamma=5.0)
    classifier.log = ddpm.log = lambda *a, **k: None  # no Trainer here to log to
    with _Ops() as ops:
        encoders.family(kind).loss(encoder, x).backward()
        classifier.training_step((x, y), 0).backward()
        ddpm.training_step([torch.as_tensor(gen.scale(x.numpy())), y % 2, y], 0).backward()
        sampling.sample(copy.deepcopy(gen), 4, label=1, steps=3)
        encoders.embed(kind, _encoder(kind, tmp_path), x.numpy())
    assert "nll_loss_backward" in ops.names  # backward passes are recorded
    assert not ops.names & REFUSED_ON_CUDA


def test_the_recorder_names_the_ops_cuda_refuses() -> None:
    """The names above are the ops' own: the layers torch lists are caught."""
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    with _Ops() as ops:
        torch.nn.AdaptiveAvgPool2d(3)(x).sum().backward()  # (1 is a mean: no pooling kernel)
        torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear").sum().backward()
        torch.nn.ReflectionPad2d(1)(x).sum().backward()
        torch.cumsum(x, 0)
    assert ops.names & REFUSED_ON_CUDA == {
        "_adaptive_avg_pool2d_backward", "upsample_bilinear2d_backward",
        "reflection_pad2d_backward", "cumsum"}


@pytest.mark.parametrize("kind", SHAPES)
def test_every_training_step_runs_where_its_module_is(kind: str) -> None:
    """A training step of each fit, forward, backward and the hooks around it, with the module
    and the batch on the stand-in device: the encoder's masked loss, the downstream classifier,
    and the generator's diffusion loss with its weight average (an ``EMAModel`` is no module,
    so Lightning does not move it with the weights)."""
    shape = SHAPES[kind]
    x, y = torch.randn(8, *shape, device="meta"), (torch.arange(8) % 3).to("meta")
    params = parse_params(with_profile(read_yaml(REPO / "params.yaml"), "smoke"))
    encoder = encoders.build(kind, shape, params.pretrain.model, seed=0).to("meta")
    assert encoders.family(kind).loss(encoder, x).device.type == "meta"
    classifier = downstream.Classifier(kind, shape, 3, 8, 0.01, 0.0, 10).to("meta")
    ddpm = ConditionalDDPM(_generator(kind), 1e-3, 0.1, snr_gamma=5.0, ema=0.999).to("meta")
    classifier.log = ddpm.log = lambda *a, **k: None  # no Trainer here to log to
    classifier.training_step((x, y), 0).backward()
    ddpm.on_train_start()
    ddpm.training_step([x, y % 2, y], 0).backward()
    ddpm.on_train_batch_end()
    ddpm.on_train_end()
    assert {p.device.type for p in ddpm.ema.shadow_params} == {"meta"}


def test_training_batches_live_on_the_device() -> None:
    split = make_domain(n=50)["seed"]
    for steps in (7, None):
        batches = list(hardware.batches((split.x, split.y), 16, steps, 0, "meta"))
        assert {b.device.type for batch in batches for b in batch} == {"meta"}


def test_cpu_and_auto_give_identical_outputs_on_a_cpu_only_machine(machine, tmp_path) -> None:
    """Sampling, embedding and a fit under ``auto`` are the CPU's, bit for bit."""
    data = make_domain(n=80)
    recipe = TrainParams(max_steps=20, batch_size=16, lr=0.01, weight_decay=0.0, val_every=10,
                         width=8)
    gen = _generator("tabular")
    encoder = _encoder("tabular", tmp_path / "encoder")
    out = {}
    for accelerator in ("cpu", "auto"):
        hardware.configure(HardwareParams(accelerator))
        x, _ = sampling.sample(copy.deepcopy(gen), 6, label=1, steps=3)
        z = encoders.embed("tabular", copy.deepcopy(encoder), data["val"].x)
        model = downstream.fit(data["seed"], data["val"], "tabular", 3, recipe, 0,
                               tmp_path / f"{accelerator}.ckpt")
        out[accelerator] = (x, z, downstream.proba(model, data["test_id"].x))
    for cpu, auto in zip(out["cpu"], out["auto"], strict=True):
        assert np.array_equal(cpu, auto)
