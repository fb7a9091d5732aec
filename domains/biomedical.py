"""Offline biomedical source: a simulator of stained cell microscopy patches.

Each patch shows one centred cell (plus, sometimes, a neighbour cut by the border) rendered with
the Beer-Lambert model of brightfield staining: a haematoxylin (nucleus) and an eosin (cytoplasm,
stroma) optical density are mixed with per-site stain colours, blurred by the site's optics and
corrupted by its sensor noise. The label is the nucleus morphology, so a model has to learn shape
while staying robust to the colour/blur/noise of the site that prepared the slide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from benchmark.data import SPLITS, DomainData, Split
from benchmark.domain import DOMAINS, Domain, OptionError

CLASS_NAMES: list[str] = ["round", "spindle", "lobed"]
GROUP_NAMES: list[str] = ["female", "male"]
RARE_IN_SEED: tuple[tuple[str, str], ...] = (
    ("lobed", "site0"), ("round", "site1"), ("spindle", "site2"),
)
_EDGE = 7.0  # sharpness of nucleus/cytoplasm borders in normalised radius units


@dataclass(frozen=True)
class Site:
    """One staining site: stain optical-density vectors (RGB), stain amount, optics and sensor."""

    name: str
    hematoxylin: tuple[float, float, float]
    eosin: tuple[float, float, float]
    stain: float  # stain amount multiplier
    blur: float  # Gaussian blur sigma in pixels at 16x16
    noise: float  # sensor noise std on [0, 1] intensities
    weight: float  # share of the site's slides among the training data
    male_share: float
    role: str  # "train" or "shift"


def make_sites(shift_strength: float) -> list[Site]:
    """Three training sites with H&E-like hues, and one shift site whose hue lies outside their
    range and whose optics are blurrier and noisier (``shift_strength`` 0 puts it at site0)."""
    train = [
        Site("site0", (0.65, 0.70, 0.29), (0.07, 0.99, 0.11), 1.00, 0.45, 0.030, 0.36, 0.50,
             "train"),
        Site("site1", (0.50, 0.85, 0.22), (0.05, 0.80, 0.35), 0.90, 0.70, 0.040, 0.34, 0.55,
             "train"),
        Site("site2", (0.85, 0.62, 0.18), (0.12, 0.85, 0.05), 1.15, 0.90, 0.045, 0.30, 0.25,
             "train"),
    ]
    base, s = train[0], shift_strength
    shift = Site(
        "site3", _lerp(base.hematoxylin, (0.49, 0.63, 0.54), s),
        _lerp(base.eosin, (0.12, 0.90, 0.22), s),
        base.stain - 0.05 * s, base.blur + 0.7 * s, base.noise + 0.025 * s, 0.0, 0.5, "shift",
    )
    return [*train, shift]


def _lerp(a: tuple[float, ...], b: tuple[float, ...], t: float) -> tuple[float, float, float]:
    r, g, b_ = (round(float(x + t * (y - x)), 4) for x, y in zip(a, b, strict=True))
    return r, g, b_


@DOMAINS.register("cells")
class CellImages(Domain):
    """Simulated stained cell patches (microscopy/histology style).

    Generative story: a site prepares a slide from a patient of some sex; the patch shows one cell
    whose nucleus is ``round`` (normal), ``spindle`` (elongated, fibroblast-like) or ``lobed``
    (2-4 lobes: segmented or dividing), with random size, aspect, orientation, position, chromatin
    texture and sometimes a neighbouring nucleus at the border; the site's stain colours, stain
    amount, blur and noise then render it. ``x``: float32 (3, H, W) in [0, 1].

    Classes: round / spindle / lobed. Group: patient sex (female / male). Female nuclei are a
    little smaller and less often lobed, and site2 has few male patients, so accuracy per sex
    differs. Rare patterns: lobed@site0, round@site1 and spindle@site2 make up ``rare_share`` each
    of ``seed`` but ~1/9 of the other training splits. Shift: ``test_shift`` comes only from site3,
    an unseen stain hue with stronger blur and noise; no other split contains site3.
    ``site_weights`` sets the training sites' shares (default 0.36 / 0.34 / 0.30).
    ``meta``: pattern (index into ``pattern_names``, ``class@site``), site, sex and every sampled
    factor (size, aspect, orientation, lobes, offsets, neighbour, stain, blur, noise).
    """

    modality = "image"
    simulated = True

    def __init__(
        self, image_size: int = 16, rare_share: float = 0.015, shift_strength: float = 1.0,
        sex_effect: float = 1.0, site_weights: Sequence[float] | None = None,
    ) -> None:
        self.image_size = image_size
        self.rare_share = rare_share
        self.shift_strength = shift_strength
        self.sex_effect = sex_effect
        self.site_weights = site_weights

    def build(self, sizes: Mapping[str, int], seed: int) -> DomainData:
        """Build the six splits; each split draws from its own child of ``seed`` so resizing one
        split leaves the others unchanged."""
        if self.image_size < 12:
            raise OptionError("image_size", f"got {self.image_size}, expected at least 12 pixels")
        missing = [s for s in SPLITS if s not in sizes]
        if missing:
            raise ValueError(f"sizes lacks splits {missing}; expected keys {list(SPLITS)}")
        sites = self._sites()
        children = np.random.SeedSequence(seed).spawn(len(SPLITS))
        splits = {
            name: self._split(name, int(sizes[name]), sites, np.random.default_rng(child))
            for name, child in zip(SPLITS, children, strict=True)
        }
        patterns = [f"{c}@{s.name}" for s in sites for c in CLASS_NAMES]
        info = {
            "sites": [asdict(s) for s in sites],
            "shift_site": sites[-1].name,
            "rare_patterns": [f"{c}@{s}" for c, s in RARE_IN_SEED],
            "rare_share_in_seed": self.rare_share,
            "image_size": self.image_size,
        }
        return DomainData("cells", self.modality, list(CLASS_NAMES), list(GROUP_NAMES),
                          splits, patterns, info)

    def _split(self, name: str, n: int, sites: list[Site], rng: np.random.Generator) -> Split:
        table = self._joint_table(sites, shift=name == "test_shift", skew=name == "seed")
        site, sex, cls = allocate(n, table, rng)
        f = sample_factors(site, sex, cls, sites, self.sex_effect, self.image_size, rng)
        x = render(f, sites, self.image_size, rng)
        f["pattern"] = site * len(CLASS_NAMES) + cls
        return Split(x, cls, sex, f)

    def _sites(self) -> list[Site]:
        """The four sites, with the training sites' shares from ``site_weights`` when set (e.g.
        ``[1, 0, 0]``: every training slide from site0, the data a transfer domain learns on)."""
        sites = make_sites(self.shift_strength)
        if self.site_weights is None:
            return sites
        w = [float(v) for v in self.site_weights]
        if len(w) != len(sites) - 1 or min(w) < 0 or sum(w) <= 0:
            raise OptionError("site_weights", f"got {list(self.site_weights)}, expected "
                              f"{len(sites) - 1} non-negative shares of the training sites "
                              "with a positive sum")
        return [replace(s, weight=w[i] / sum(w)) for i, s in enumerate(sites[:-1])] + sites[-1:]

    def _joint_table(self, sites: list[Site], shift: bool, skew: bool) -> np.ndarray:
        """P(site, sex, class) for one split: training sites (or the shift site only), class
        prevalence mildly dependent on sex, and in the seed the rare patterns squeezed."""
        delta = 0.05 * self.sex_effect * np.array([[1.0, 0.0, -1.0], [-1.0, 0.0, 1.0]])
        p_cls = np.full((2, len(CLASS_NAMES)), 1.0 / len(CLASS_NAMES)) + delta
        table = np.zeros((len(sites), 2, len(CLASS_NAMES)))
        for i, s in enumerate(sites):
            w = float(s.role == "shift") if shift else s.weight
            table[i] = w * np.array([[1 - s.male_share], [s.male_share]]) * p_cls
        table /= table.sum()
        return squeeze_rare(table, sites, self.rare_share) if skew else table


def squeeze_rare(table: np.ndarray, sites: list[Site], share: float) -> np.ndarray:
    """Rescale ``table`` so each rare (class, site) pattern holds ``share`` of the mass."""
    names = [s.name for s in sites]
    rare = np.zeros((len(sites), len(CLASS_NAMES)), dtype=bool)
    for c, s in RARE_IN_SEED:
        rare[names.index(s), CLASS_NAMES.index(c)] = True
    mass = table.sum(axis=1)
    scale = np.where(rare, share / np.maximum(mass, 1e-12),
                     (1 - share * rare.sum()) / mass[~rare].sum())
    return table * scale[:, None, :]


def allocate(n: int, table: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Exact quotas (largest remainder) of ``n`` items over the cells of ``table``, shuffled, so
    small splits still match the intended composition."""
    p = table.ravel() / table.sum()
    counts = np.floor(n * p).astype(np.int64)
    rest = np.argsort(-(n * p - counts), kind="stable")[: n - counts.sum()]
    counts[rest] += 1
    flat = rng.permutation(np.repeat(np.arange(p.size), counts))
    return np.unravel_index(flat, table.shape)  # type: ignore[return-value]


def sample_factors(
    site: np.ndarray, sex: np.ndarray, cls: np.ndarray, sites: list[Site], sex_effect: float,
    size: int, rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Per-item generative factors (all numeric) that :func:`render` turns into pixels."""
    n = len(cls)
    aspect = np.select(
        [cls == 0, cls == 1], [rng.uniform(1.0, 1.45, n), rng.uniform(1.8, 3.2, n)], 1.0,
    )
    lobes = np.where(cls == 2, rng.choice([2, 3, 4], n, p=[0.3, 0.4, 0.3]), 1)
    blur = np.array([s.blur for s in sites])[site] * rng.uniform(0.75, 1.25, n) * size / 16
    return {
        "site": site.astype(np.int64), "sex": sex.astype(np.int64),
        "size": (0.36 * (1 + 0.06 * sex_effect * (2 * sex - 1)) * rng.lognormal(0, 0.12, n)),
        "aspect": aspect, "orientation": rng.uniform(0, np.pi, n), "lobes": lobes,
        "lobe_spread": rng.uniform(0.45, 0.85, n),
        "offset_x": rng.normal(0, 0.1, n), "offset_y": rng.normal(0, 0.1, n),
        "neighbour": (rng.random(n) < 0.5).astype(np.int64),
        "neighbour_angle": rng.uniform(0, 2 * np.pi, n),
        "stain": np.array([s.stain for s in sites])[site] * rng.uniform(0.8, 1.2, n),
        "blur": blur, "noise": np.array([s.noise for s in sites])[site] * rng.uniform(0.8, 1.2, n),
    }


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    t = ((np.arange(size) + 0.5) / size * 2 - 1).astype(np.float32)
    yy, xx = np.meshgrid(t, t, indexing="ij")
    return xx[None], yy[None]


def _col(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)[:, None, None]


def _blob(du: np.ndarray, dv: np.ndarray, theta: np.ndarray, a: np.ndarray,
          b: np.ndarray) -> np.ndarray:
    """Soft ellipse with semi-axes ``a`` (along ``theta``) and ``b``."""
    c, s = np.cos(theta), np.sin(theta)
    u, v = du * c + dv * s, -du * s + dv * c
    rho = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    return 1.0 / (1.0 + np.exp(-_EDGE * (1.0 - rho)))


def _lobes(du: np.ndarray, dv: np.ndarray, theta: np.ndarray, spread: np.ndarray,
           r0: np.ndarray, n_lobes: np.ndarray) -> np.ndarray:
    """Segmented/dividing nucleus: ``n_lobes`` round lobes evenly spaced around the centre."""
    out = np.zeros(np.broadcast_shapes(du.shape, dv.shape), dtype=np.float32)
    n = _col(n_lobes)
    for k in range(int(n_lobes.max(initial=0))):
        ang = theta + np.float32(2 * np.pi * k) / n
        lobe = _blob(du - spread * np.cos(ang), dv - spread * np.sin(ang), theta, 0.62 * r0,
                     0.62 * r0)
        out = np.maximum(out, np.where(k < n, lobe, np.float32(0)))
    return out


def nucleus_and_cytoplasm(f: dict[str, np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Haematoxylin (nucleus) and eosin (cytoplasm) density maps, shape (n, H, W)."""
    xx, yy = _grid(size)
    du, dv = xx - _col(f["offset_x"]), yy - _col(f["offset_y"])
    r0, asp, th = _col(f["size"]), _col(f["aspect"]), _col(f["orientation"])
    a, b = r0 * np.sqrt(asp), r0 / np.sqrt(asp)
    nucleus = _blob(du, dv, th, a, b)
    is_lobed = f["lobes"] > 1
    spread = _col(f["lobe_spread"]) * r0
    nucleus[is_lobed] = _lobes(du[is_lobed], dv[is_lobed], th[is_lobed], spread[is_lobed],
                               r0[is_lobed], f["lobes"][is_lobed])
    ca = np.where(is_lobed[:, None, None], spread + 0.62 * r0, a) * 1.7
    cb = np.where(is_lobed[:, None, None], spread + 0.62 * r0, b) * 1.7
    cyto = _blob(du, dv, th, ca, cb)
    na = _col(f["neighbour_angle"])
    nb = _blob(xx - 1.15 * np.cos(na), yy - 1.15 * np.sin(na), na, 0.9 * r0, 0.9 * r0)
    nucleus = np.maximum(nucleus, nb * _col(f["neighbour"]))
    return nucleus, cyto


def _stain_vectors(per_site: list[tuple[float, float, float]], f: dict[str, np.ndarray],
                   scale: float, rng: np.random.Generator) -> np.ndarray:
    """Per-image stain OD vectors (n, 3, 1, 1): the site's colour and amount, jittered per slide."""
    jitter = np.clip(rng.normal(1, 0.15, (len(f["site"]), 3)), 0.5, 1.5)
    vec = np.array(per_site)[f["site"]] * jitter
    return (scale * f["stain"][:, None] * vec).astype(np.float32)[:, :, None, None]


def render(f: dict[str, np.ndarray], sites: list[Site], size: int,
           rng: np.random.Generator) -> np.ndarray:
    """Beer-Lambert rendering, then the site's blur and noise: float32 (n, 3, H, W) in [0, 1]."""
    n = len(f["site"])
    nucleus, cyto = nucleus_and_cytoplasm(f, size)
    chromatin = 1 + np.float32(0.25) * rng.standard_normal(nucleus.shape, np.float32)
    nucleus *= np.maximum(chromatin, 0)
    xx, yy = _grid(size)
    phi, freq = _col(rng.uniform(0, np.pi, n)), _col(rng.uniform(3, 7, n))
    fibres = 0.5 + 0.5 * np.sin(freq * (xx * np.cos(phi) + yy * np.sin(phi)) * np.pi)
    stroma = _col(rng.uniform(0.15, 0.35, n)) * (0.7 + 0.6 * fibres)
    eosin_density = np.maximum(stroma * (1 - cyto), 0.55 * cyto)
    h_vec = _stain_vectors([s.hematoxylin for s in sites], f, 1.6, rng)
    e_vec = _stain_vectors([s.eosin for s in sites], f, 1.0, rng)
    od = h_vec * nucleus[:, None] + e_vec * eosin_density[:, None]
    img = blur_images(np.exp(-od), f["blur"])
    img += _col(f["noise"])[:, None] * rng.standard_normal(img.shape, np.float32)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def blur_images(img: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Separable Gaussian blur with a different ``sigma`` per image, as two batched matrix
    products (rows renormalised, so borders keep their brightness)."""
    size = img.shape[-1]
    d = np.arange(size)[:, None] - np.arange(size)[None, :]
    k = np.exp(-0.5 * (d[None] / np.maximum(sigma, 1e-3)[:, None, None]) ** 2).astype(np.float32)
    k /= k.sum(axis=2, keepdims=True)
    k = k[:, None]
    return k @ img @ np.swapaxes(k, -1, -2)
