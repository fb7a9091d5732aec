"""The sections of ``params.yaml``, one frozen dataclass each: defaults, ranges and the
cross-references a section can check alone; ``Params`` is the whole file."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any

from benchmark import modalities
from benchmark.config.convert import as_dict, build, deep_merge, require
from benchmark.data import SPLITS

ENTRY_KEYS = ("use", "postprocess")  # a methods entry's keys the harness reads, not the method
POSTPROCESSORS = ("threshold_optimizer",)  # benchmark.evaluation.mitigation


@dataclass(frozen=True)
class GridParams:
    """Which cells the pipeline runs: domains x methods x seeds, grouped as one experiment."""

    experiment: str
    domains: list[str]
    methods: list[str]
    seeds: list[int]
    workers: int | str = "auto"  # cells at once (forked processes): see cells_at_once
    tune: bool = False  # each entry with a tuning grid runs every setting (benchmark.tuning)
    # per domain, replicates beyond ``seeds`` (benchmark.experiment's sequential design writes
    # them where the paired CIs need more; a domain not named runs ``seeds`` only)
    extra_seeds: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require(self.workers == "auto" or (isinstance(self.workers, int) and self.workers >= 1),
                "workers", self.workers, "'auto' or a positive integer")
        for key in ("domains", "methods", "seeds"):
            values = getattr(self, key)
            require(len(values) > 0 and len(set(values)) == len(values), key, values,
                     "a non-empty list without duplicates")
        # seeds name run folders (seed<s>) and seed generators: reject before anything is written
        require(all(s >= 0 for s in self.seeds), "seeds", self.seeds, "non-negative integers")
        for domain, extra in self.extra_seeds.items():
            require(domain in self.domains, f"extra_seeds.{domain}", domain,
                    f"a domain of grid.domains {self.domains}")
            require(isinstance(extra, list) and len(set(extra)) == len(extra)
                    and all(isinstance(s, int) and s >= 0 for s in extra)
                    and not set(extra) & set(self.seeds), f"extra_seeds.{domain}", extra,
                    "a list of distinct non-negative seeds, none of them in grid.seeds")

    def cells_at_once(self) -> int:
        """``workers`` as a count: ``auto`` is one per core this process may use. Each cell
        runs one thread (``benchmark.stages.one_thread``), so more would only share cores and
        any count gives the same numbers; on a GPU machine each cell is a process of its own on
        the shared device, and the host side of its loop still needs a core.
        """
        if self.workers != "auto":
            return int(self.workers)
        try:
            return max(len(os.sched_getaffinity(0)), 1)
        except AttributeError:  # not Linux
            return os.cpu_count() or 1

    def seeds_of(self, domain: str) -> list[int]:
        """The replicates a domain runs: ``seeds`` and its ``extra_seeds``."""
        return [*self.seeds, *self.extra_seeds.get(domain, [])]


@dataclass(frozen=True)
class SplitSizes:
    """Items per split; real sources with fixed sizes may yield fewer."""

    seed: int
    pool: int
    val: int
    test_id: int
    test_shift: int
    reference: int

    def __post_init__(self) -> None:
        for name in SPLITS:
            require(getattr(self, name) > 0, name, getattr(self, name), "a positive item count")


@dataclass(frozen=True)
class TransferParams:
    """Where a transfer domain's encoder and generator learn: its own source built with other
    options (another site, forcing or physics) and seed. The domain's pool, construction,
    judge and tests stay its own, so its results measure how a model built elsewhere serves.
    """

    seed: int
    options: dict[str, Any] = field(default_factory=dict)  # over the domain's source options


@dataclass(frozen=True)
class DomainParams:
    """One benchmark domain: which registered source builds it, with what options."""

    source: str
    seed: int
    sizes: SplitSizes
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfer_from: TransferParams | None = None  # null: encoder + generator learn on seed + pool
    # the domain's own encoder settings over pretrain.model (say image: {view: rgb} for images
    # whose signal is intensity, not shape): domains/README.md says when the default view hurts
    encoder: dict[str, Any] = field(default_factory=dict)

    @property
    def source_options(self) -> dict[str, Any]:
        return dict(self.options.get(self.source, {}))

    @property
    def transfer_options(self) -> dict[str, Any]:
        """The source's options for the data the encoder and generator learn on."""
        extra = self.transfer_from.options if self.transfer_from is not None else {}
        return {**self.source_options, **extra}


@dataclass(frozen=True)
class CostParams:
    """Cost units per human action: labelling from scratch > verifying a proposed label >
    screening a synthetic item for realism.
    """

    label: float = 1.0
    verify: float = 0.4
    reject: float = 0.2

    def __post_init__(self) -> None:
        for key in ("label", "verify", "reject"):
            require(getattr(self, key) > 0, key, getattr(self, key), "a positive cost")


@dataclass(frozen=True)
class JudgeParams:
    """The judge (annotator@domain): the downstream network trained longer and wider on the
    ``reference`` split, and the realism check that rejects synthetic items.
    """

    max_steps: int = 1500
    width: int = 32
    val_every: int = 250
    k: int = 5                      # realism: distance to the k-th nearest reference item
    realism_quantile: float = 0.98  # ... above this quantile of real val items' distance
    min_confidence: float = 0.4     # judge confidence below which an item is off-target
    threads: int = 2                # the stage runs alone: both cores

    def __post_init__(self) -> None:
        for key in ("max_steps", "width", "val_every", "k", "threads"):
            require(getattr(self, key) >= 1, key, getattr(self, key), "a positive integer")
        require(self.val_every <= self.max_steps, "val_every", self.val_every,
                 "at most max_steps")
        require(0 < self.realism_quantile <= 1, "realism_quantile", self.realism_quantile,
                 "a quantile in (0, 1]")
        require(0 <= self.min_confidence < 1, "min_confidence", self.min_confidence,
                 "a probability in [0, 1)")


@dataclass(frozen=True)
class AnnotatorParams:
    """The simulated annotator: what each action costs, how often a person errs, the judge."""

    costs: CostParams = field(default_factory=CostParams)
    error_rate: float = 0.0
    name: str = "simulated"
    judge: JudgeParams = field(default_factory=JudgeParams)

    def __post_init__(self) -> None:
        require(0.0 <= self.error_rate < 1.0, "error_rate", self.error_rate,
                 "a probability in [0, 1)")


@dataclass(frozen=True)
class StopParams:
    """Early stops of the construction loop (null = off): D's coverage of ``reference``
    (PRDC, k = 5) or its normalised cluster entropy reaching a target, or the harness's
    ``probe_val_acc`` not beating its best by more than ``min_delta`` for ``patience`` rounds.
    """

    coverage: float | None = None
    diversity: float | None = None
    patience: int | None = None
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        for key in ("coverage", "diversity"):
            value = getattr(self, key)
            require(value is None or 0 < value <= 1, key, value, "null or a target in (0, 1]")
        require(self.patience is None or self.patience >= 1, "patience", self.patience,
                 "null or at least 1 round")
        require(self.min_delta >= 0, "min_delta", self.min_delta, "a non-negative accuracy")


@dataclass(frozen=True)
class ConstructParams:
    """The construction loop: total human-annotation budget (cost units) over ``rounds``, and
    optional early stops (``stop``).
    """

    budget: float
    rounds: int
    stop: StopParams = field(default_factory=StopParams)

    def __post_init__(self) -> None:
        require(self.budget >= 0, "budget", self.budget, "a non-negative cost")
        require(self.rounds >= 1, "rounds", self.rounds, "at least 1")


@dataclass(frozen=True)
class TrainParams:
    """The fixed downstream recipe, identical for every constructed dataset."""

    max_steps: int
    batch_size: int
    lr: float
    weight_decay: float
    val_every: int
    width: int
    augment: bool = True
    threads: int = 1  # torch CPU threads; 1 avoids OpenMP oversubscription on small models
    # also fit D as it stood after each earlier round (accuracy vs cost): every cell (true) or
    # the cells of these grid entries (the cost saved needs the curves of the methods measured
    # only: a reference's full-budget result is its cell's own)
    curve: bool | list[str] = False

    def __post_init__(self) -> None:
        for key in ("max_steps", "batch_size", "val_every", "width", "threads"):
            require(getattr(self, key) >= 1, key, getattr(self, key), "a positive integer")
        require(self.lr > 0, "lr", self.lr, "a positive learning rate")
        require(self.val_every <= self.max_steps, "val_every", self.val_every, "at most max_steps")


ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")  # Lightning's names
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")


@dataclass(frozen=True)
class HardwareParams:
    """Where every stage computes (``benchmark.hardware``): the fits, the embeddings, the
    generator's sampling and the judge. ``auto`` takes a GPU when one is visible, else the CPU;
    ``precision`` is Lightning's for every fit (``32-true`` gives the CPU's numbers up to
    floating-point noise; the mixed ones are a GPU speed lever that changes them). Each process
    uses one device: cells share it side by side (``grid.workers``), never spread one fit over
    several (a multi-device Lightning strategy would relaunch the stage from inside a cell).
    """

    accelerator: str = "cpu"
    precision: str = "32-true"

    def __post_init__(self) -> None:
        # whether one is present is checked when a stage configures it (benchmark.hardware)
        require(self.accelerator in ACCELERATORS, "accelerator", self.accelerator,
                 "one of " + ", ".join(repr(a) for a in ACCELERATORS))
        require(self.precision in PRECISIONS, "precision", self.precision,
                 "one of " + ", ".join(repr(p) for p in PRECISIONS))


IMAGE_VIEWS = ("rgb", "standardised", "od")
POOLINGS = ("mean", "centre", "cls", "both")


@dataclass(frozen=True)
class ImageEncoderParams:
    """ViT-MAE specifics: square patch side (pixels), the share of patches hidden, the view of
    each image the model sees (``rgb``; ``standardised`` per image and channel; ``od``: optical
    density, standardised per image), the pooling of its tokens (``mean`` of the patch tokens,
    ``centre``: of the patch tokens off the grid's border ring, ``cls``, or ``both`` = cls and
    mean concatenated), the weight of a per-image colour summary appended to the embedding
    (``colour``: how many copies, 0 = none), the strength of random stain (colour) jitter while
    pretraining (0: none), whether the reconstruction targets are normalised per patch (MAE's
    ``norm_pix_loss``) and whether the embedding is averaged over the image's 8 rotations and
    flips (``dihedral``).
    """

    patch_size: int
    mask_ratio: float
    view: str = "rgb"
    pooling: str = "mean"
    colour: int = 0
    stain_jitter: float = 0.0
    norm_pix: bool = False
    dihedral: bool = False

    def __post_init__(self) -> None:
        require(self.patch_size >= 1, "patch_size", self.patch_size, "a positive integer")
        require(self.view in IMAGE_VIEWS, "view", self.view, f"one of {IMAGE_VIEWS}")
        require(self.pooling in POOLINGS, "pooling", self.pooling, f"one of {POOLINGS}")
        require(self.colour >= 0, "colour", self.colour,
                 "a non-negative number of copies of the colour summary (0 = none)")
        require(self.stain_jitter >= 0, "stain_jitter", self.stain_jitter,
                 "a non-negative strength")


@dataclass(frozen=True)
class SequenceEncoderParams:
    """PatchTST specifics: patch length (= stride, time steps) and the share of patches hidden."""

    patch_length: int
    mask_ratio: float


@dataclass(frozen=True)
class TabularEncoderParams:
    """Masked-feature autoencoder specifics: the share of features hidden."""

    mask_ratio: float


@dataclass(frozen=True)
class EncoderParams:
    """Encoder sizes shared by every modality (embedding width, layers, attention heads)."""

    width: int
    depth: int
    heads: int
    image: ImageEncoderParams
    sequence: SequenceEncoderParams
    tabular: TabularEncoderParams

    def __post_init__(self) -> None:
        for key in ("width", "depth", "heads"):
            require(getattr(self, key) >= 1, key, getattr(self, key), "a positive integer")
        require(self.width % self.heads == 0, "width", self.width, "a multiple of heads")
        for key in modalities.KINDS:
            ratio = getattr(self, key).mask_ratio
            require(0 < ratio < 1, f"{key}.mask_ratio", ratio, "a share in (0, 1)")


@dataclass(frozen=True)
class ModalityCounts:
    """A count per modality (steps, ensemble members): one each for ``image``, ``sequence`` and
    ``tabular`` models, whose costs per step differ by an order of magnitude (pretraining: the
    image encoder keeps learning shape well past the point where the others stop gaining)."""

    image: int
    sequence: int
    tabular: int

    def __post_init__(self) -> None:
        for key in modalities.KINDS:
            require(getattr(self, key) >= 1, key, getattr(self, key), "a positive integer")

    def of(self, modality: str) -> int:
        """The count for ``modality`` (a modality of your own: that of its kind)."""
        return int(getattr(self, modalities.modality(modality).kind))


@dataclass(frozen=True)
class PretrainFitParams:
    """The self-supervised recipe: a fixed number of steps (per modality) on seed + pool."""

    steps: ModalityCounts
    batch_size: int
    lr: float
    weight_decay: float
    seed: int = 0
    # encoders pretrained per domain, from seeds seed * members + 0, 1, ...: their embeddings
    # side by side (see benchmark.upstream.encoders.Ensemble); 1 = a single encoder
    members: ModalityCounts = field(default_factory=lambda: ModalityCounts(1, 1, 1))
    embed_batch_size: int = 512
    threads: int = 1  # torch CPU threads; 1 avoids OpenMP oversubscription on small models

    def __post_init__(self) -> None:
        for key in ("batch_size", "embed_batch_size", "threads"):
            require(getattr(self, key) >= 1, key, getattr(self, key), "a positive integer")
        require(self.lr > 0, "lr", self.lr, "a positive learning rate")


@dataclass(frozen=True)
class PretrainParams:
    """``pretrain@domain``: encoder sizes, the recipe, and per domain an optional local folder
    (``save_pretrained`` layout) loaded instead of pretraining.
    """

    model: EncoderParams
    fit: PretrainFitParams
    weights: dict[str, str | None]


@dataclass(frozen=True)
class PatternsParams:
    """``patterns@domain``: how the latent space is clustered and how discovery is scored."""

    k: int
    top: int
    algorithm: str = "kmeans"
    components: int = 32
    covariance: str = "full"
    committee: int = 5
    rare_ratio: float = 0.5
    seed: int = 0
    n_init: int = 16  # k-means restarts; the lowest-inertia one is kept

    def __post_init__(self) -> None:
        require(self.k >= 2, "k", self.k, "at least 2 clusters")
        require(self.n_init >= 1, "n_init", self.n_init, "a positive integer")
        require(1 <= self.top < self.k, "top", self.top, f"between 1 and k - 1 = {self.k - 1}")
        require(self.algorithm in ("kmeans", "gmm"), "algorithm", self.algorithm,
                 "one of 'kmeans', 'gmm'")
        require(self.covariance in ("full", "tied", "diag", "spherical"), "covariance",
                 self.covariance, "a GaussianMixture covariance_type")
        require(self.components >= 2, "components", self.components, "at least 2")
        require(self.committee >= 1, "committee", self.committee, "at least 1 member")
        require(0 < self.rare_ratio <= 1, "rare_ratio", self.rare_ratio, "a ratio in (0, 1]")


@dataclass(frozen=True)
class GeneratorSteps(ModalityCounts):
    """Training steps per modality: the MLP denoiser is far cheaper per step than the UNets."""

    image: int = 200
    sequence: int = 200
    tabular: int = 1500


@dataclass(frozen=True)
class GeneratorParams:
    """``generator``: each domain's conditional diffusion generator, its sampler and measurement
    (trained one thread per domain, ``grid.workers`` domains at once).
    """

    steps: GeneratorSteps = field(default_factory=GeneratorSteps)
    batch_size: int = 64
    lr: float = 0.002
    timesteps: int = 1000       # DDPM training timesteps
    drop: float = 0.1           # null-token dropout per condition (classifier-free guidance)
    channels: list[int] = field(default_factory=lambda: [16, 32, 32])  # UNet widths per level
    width: int = 128            # MLP denoiser width (tabular)
    sampler: str = "ddim"       # ddim | dpm
    sample_steps: int = 25
    guidance: float = 2.0
    eval_samples: int = 128
    seed: int = 0
    prediction: str = "v_prediction"    # the scheduler's prediction_type: v_prediction | epsilon
    schedule: str = "squaredcos_cap_v2"  # the scheduler's beta_schedule
    snr_gamma: float = 5.0  # min-SNR-gamma loss weight cap (0: plain MSE)
    ema: float = 0.999      # EMA decay cap of the weights kept (0: no EMA)

    def __post_init__(self) -> None:
        for key in ("batch_size", "timesteps", "width", "sample_steps", "eval_samples"):
            require(getattr(self, key) >= 1, key, getattr(self, key), "a positive integer")
        require(self.lr > 0, "lr", self.lr, "a positive learning rate")
        require(0 <= self.drop < 1, "drop", self.drop, "a probability in [0, 1)")
        require(self.sampler in ("ddim", "dpm"), "sampler", self.sampler, "one of 'ddim', 'dpm'")
        require(self.prediction in ("v_prediction", "epsilon"), "prediction", self.prediction,
                 "one of 'v_prediction', 'epsilon'")
        require(self.schedule in ("linear", "scaled_linear", "squaredcos_cap_v2"), "schedule",
                 self.schedule, "one of 'linear', 'scaled_linear', 'squaredcos_cap_v2'")
        require(self.snr_gamma >= 0, "snr_gamma", self.snr_gamma, "a cap >= 0 (0: off)")
        require(0 <= self.ema < 1, "ema", self.ema, "a decay in [0, 1) (0: off)")
        require(self.eval_samples >= 6, "eval_samples", self.eval_samples,
                 "at least 6 (PRDC uses k = 5 neighbours)")
        require(len(self.channels) >= 1 and all(c >= 8 and c % 8 == 0 for c in self.channels),
                 "channels", self.channels, "multiples of 8 (GroupNorm with 8 groups)")

    SAMPLING = ("sampler", "sample_steps", "guidance", "eval_samples")  # read after training

    def training(self) -> dict[str, Any]:
        """The settings the weights depend on: a sampling setting changed is measured again
        (and sampled with in ``construct``), never trained again."""
        return {k: v for k, v in as_dict(self).items() if k not in self.SAMPLING}


@dataclass(frozen=True)
class TrackingParams:
    """Weights & Biases settings; ``offline`` by default so nothing touches the network."""

    project: str = "adaptive-dataset-bench"
    mode: str = "offline"
    entity: str | None = None

    def __post_init__(self) -> None:
        require(self.mode in ("offline", "online", "disabled"), "mode", self.mode,
                 "one of 'offline', 'online', 'disabled'")


@dataclass(frozen=True)
class PluginsParams:
    """Every folder that holds plugin code (domain sources, methods), by name. ``dvc.yaml``
    tracks each one (``plugin_code@<name>``), so a plugin package outside this repository is
    named here by its folder, and editing it reruns the stages that run its code.
    """

    code: dict[str, str] = field(default_factory=lambda: {"domains": "domains",
                                                          "methods": "methods"})

    def __post_init__(self) -> None:
        require(bool(self.code), "code", self.code, "at least one folder (domains, methods)")
        for name, folder in self.code.items():
            require(re.fullmatch(r"[A-Za-z0-9_-]+", name) is not None, f"code.{name}", name,
                    "a name of letters, digits, '_' and '-' (a DVC stage key)")
            require(isinstance(folder, str) and bool(folder), f"code.{name}", folder,
                    "a folder path (relative to the repository root, or absolute)")


@dataclass(frozen=True)
class ReplicatesParams:
    """What a seed varies. Without ``redraw`` every seed constructs and trains on the domain's
    own draw of data, so seeds vary construction and training only; with it seed s gets a draw
    of its own (``draws@domain``): the source built anew with seed ``domains.<d>.seed + 1 + s``
    (seed, pool, val and test splits; ``test_size`` items in each test split when set),
    embedded by the domain's encoder, while the upstream models (encoder, clusters, generator,
    judge) stay those learnt on the domain's own draw. Simulator sources only.
    """

    redraw: bool = False
    test_size: int | None = None

    def __post_init__(self) -> None:
        require(self.test_size is None or self.test_size > 0, "test_size", self.test_size,
                 "null or a positive item count")


@dataclass(frozen=True)
class TuningParams:
    """Each method's small grid of its own options, chosen per domain on a ``val`` metric
    (``benchmark.tuning``; runs with ``grid.tune``).
    """

    metric: str = "val/acc"
    grids: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    # replicates the settings are chosen on, apart from the reported seeds: the experiment
    # runner tunes on them first (empty: chosen on the reported seeds themselves)
    seeds: list[int] = field(default_factory=list)
    # per domain and entry, the setting chosen on ``seeds`` (written by benchmark.experiment)
    chosen: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require(self.metric.startswith("val/"), "metric", self.metric,
                 "a val metric (val/...): a setting is never chosen on a test split")
        for entry, grid in self.grids.items():
            require(bool(grid) and all(isinstance(v, list) and v for v in grid.values()),
                     f"grids.{entry}", grid, "a mapping of option -> non-empty list of values")


@dataclass(frozen=True)
class ReportParams:
    """How results are summarised: CI level, the reference of the paired differences
    (``strongest``: per domain, the baseline with the best ``tuning.metric`` on ``val``; or a
    grid entry), the methods under study (every other entry is a baseline) and the CI
    half-width the paired differences should reach (the replicates it needs are printed).
    """

    confidence: float = 0.95
    baseline: str = "strongest"
    metrics: list[str] = field(default_factory=lambda: ["test_id/acc", "test_shift/acc"])
    # cost saved is measured against each of these (empty: against ``baseline``)
    cost_references: list[str] = field(default_factory=list)
    study: list[str] = field(default_factory=lambda: ["adaptive"])
    target_halfwidth: float = 0.03
    # benchmark.experiment's sequential design: after the reported seeds, each domain gets the
    # replicates its paired CIs need for ``target_halfwidth`` at the spread seen, up to this
    # many in all (null: the reported seeds only)
    max_replicates: int | None = None

    def __post_init__(self) -> None:
        require(0 < self.confidence < 1, "confidence", self.confidence, "a level in (0, 1)")
        require(self.target_halfwidth > 0, "target_halfwidth", self.target_halfwidth,
                 "a positive CI half-width")
        require(self.max_replicates is None or self.max_replicates >= 2, "max_replicates",
                self.max_replicates, "null or at least 2 replicates")


@dataclass(frozen=True)
class Params:
    """The whole validated ``params.yaml``."""

    profile: str
    grid: GridParams
    domains: dict[str, DomainParams]
    annotator: AnnotatorParams
    construct: ConstructParams
    methods: dict[str, dict[str, Any]]
    train: TrainParams
    pretrain: PretrainParams
    patterns: PatternsParams
    tracking: TrackingParams
    report: ReportParams
    profiles: dict[str, dict[str, Any]]
    generator: GeneratorParams = field(default_factory=GeneratorParams)
    tuning: TuningParams = field(default_factory=TuningParams)
    replicates: ReplicatesParams = field(default_factory=ReplicatesParams)
    plugins: PluginsParams = field(default_factory=PluginsParams)
    hardware: HardwareParams = field(default_factory=HardwareParams)

    def method_plugin(self, name: str) -> str:
        """The registered method a grid entry runs: itself, or the one its ``use`` key names
        (a variant such as ``adaptive_nofair: {use: adaptive, fairness: 0.0}``).
        """
        return str((self.methods.get(name) or {}).get("use", name))

    def method_options(self, name: str, domain: str | None = None) -> dict[str, Any]:
        """The keyword arguments of a grid entry's method: a variant's own values over those
        of the method it uses (so it differs from it in exactly what it says), without the
        harness's own keys (``use``, ``postprocess``); on ``domain``, the setting chosen there
        on the tuning replicates (``tuning.chosen``) over them.
        """
        plugin = self.method_plugin(name)
        base = dict(self.methods.get(plugin) or {}) if plugin != name else {}
        own = dict(self.methods.get(name) or {})
        chosen = self.tuning.chosen.get(domain, {}).get(name, {}) if domain else {}
        return {k: v for k, v in {**base, **own, **chosen}.items() if k not in ENTRY_KEYS}

    def pretrain_for(self, domain: str) -> PretrainParams:
        """The pretraining settings of one domain: ``pretrain.model`` with the domain's own
        ``encoder`` values over it.
        """
        own = self.domains[domain].encoder
        if not own:
            return self.pretrain
        merged = deep_merge(as_dict(self.pretrain.model), own)
        model = build(EncoderParams, merged, f"domains.{domain}.encoder")
        return dataclasses.replace(self.pretrain, model=model)

    def postprocess(self, name: str) -> str | None:
        """The model-side mitigation a grid entry applies after training
        (``benchmark.evaluation.mitigation``)."""
        return (self.methods.get(name) or {}).get("postprocess")

    def cell(self, domain: str, method: str, seed: int) -> dict[str, Any]:
        """The resolved params one (domain, method, seed) cell depends on."""
        return {
            "experiment": self.grid.experiment, "profile": self.profile, "domain": domain,
            "method": method, "seed": seed, "data": as_dict(self.domains[domain]),
            "method_plugin": self.method_plugin(method), "postprocess": self.postprocess(method),
            "method_options": self.method_options(method, domain),
            "construct": as_dict(self.construct), "annotator": as_dict(self.annotator),
            "train": {**as_dict(self.train), "curve": self.fits_curve(method)},
        }

    def fits_curve(self, method: str) -> bool:
        """Whether the cells of a grid entry (or of a variant of it) fit the curve."""
        from benchmark.tuning import entry_of

        curve = self.train.curve
        return curve if isinstance(curve, bool) else entry_of(method) in curve
