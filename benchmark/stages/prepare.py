"""``prepare@domain``: build a domain's six splits from its configured source and save them."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from benchmark import modalities
from benchmark.config import PARAMS_FILE, ConfigError, DomainParams, Params, load_params
from benchmark.data import LEARNING_SPLITS, SPLITS, TRANSFER_FOLDER, DomainData, save_domain
from benchmark.domain import DOMAINS, OptionError
from benchmark.io import atomic_write_json
from benchmark.paths import domain_dir, prepare_summary, transfer_dir
from benchmark.stages import domain_args, run

MIN_ITEMS = 20  # a split a real source shrank below this many items measures nothing


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_args(__doc__, argv)
    params = load_params()
    if args.domain not in params.domains:
        raise ConfigError(f"{PARAMS_FILE}: domains.{args.domain}: missing; expected a section "
                          f"for the domain (have {sorted(params.domains)})")
    spec = params.domains[args.domain]
    start = time.perf_counter()
    data = build(spec, spec.source_options, asdict(spec.sizes), spec.seed,
                 f"domains.{args.domain}.options.{spec.source}")
    short = shortfall(data, spec, args.domain)
    check_shape(params, args.domain, data.modality, data.input_shape)
    other = transfer_data(spec, data, args.domain)
    data.name = args.domain
    data.info.update(source=spec.source, options=spec.source_options, seed=spec.seed)
    if short:
        data.info["shortfall"] = short
    # the other site first: the domain card, written last, says whether it must be there
    shutil.rmtree(transfer_dir(args.domain), ignore_errors=True)
    if other is not None:
        save_domain(other, transfer_dir(args.domain))
        data.info["transfer_from"] = {"seed": other.info["seed"],
                                      "options": other.info["options"]}
    save_domain(data, domain_dir(args.domain))
    # seconds apart from the data: identical splits must not look changed downstream
    atomic_write_json(prepare_summary(args.domain),
                      {"compute/prepare_s": round(time.perf_counter() - start, 3)})


def build(spec: DomainParams, options: dict[str, Any], sizes: dict[str, int], seed: int,
          where: str) -> DomainData:
    """The source's splits; a bad option is a one-line error naming its params key."""
    source = DOMAINS.get(spec.source)(**options)
    try:
        return source.build(sizes, seed)
    except OptionError as err:
        raise ConfigError(f"{PARAMS_FILE}: {where}.{err.option}: {err.problem}") from None


def transfer_data(spec: DomainParams, data: DomainData, domain: str) -> DomainData | None:
    """For a transfer domain (``transfer_from``), the other site's seed + pool at the domain's
    sizes (its other splits: :data:`MIN_ITEMS` each, never read), which must have the
    domain's inputs and classes: the encoder and the generator learn there and serve here.
    """
    if spec.transfer_from is None:
        return None
    sizes = {s: MIN_ITEMS for s in SPLITS} | {s: getattr(spec.sizes, s) for s in LEARNING_SPLITS}
    key = f"domains.{domain}.transfer_from"
    other = build(spec, spec.transfer_options, sizes, spec.transfer_from.seed, f"{key}.options")
    for what, mine, theirs in (("input shape", data.input_shape, other.input_shape),
                               ("classes", data.class_names, other.class_names)):
        if mine != theirs:
            raise ConfigError(f"{PARAMS_FILE}: {key}: the other site has {what} {theirs}; "
                              f"expected the domain's {mine}")
    other.name = f"{domain}/{TRANSFER_FOLDER}"
    other.info.update(source=spec.source, options=spec.transfer_options,
                      seed=spec.transfer_from.seed)
    return other


def check_shape(params: Params, domain: str, modality: str, shape: tuple[int, ...]) -> None:
    """Inputs the encoder and the generator can take, checked before anything is written: the
    ViT cuts square images into patches and PatchTST sequences into patch-long pieces (a
    ragged rest would be dropped silently), and the generator's UNet halves the side or length
    once per level after the first (a length that does not divide comes back changed).
    """
    levels = len(params.generator.channels)
    factor = 2 ** (levels - 1)
    where = f"{PARAMS_FILE}: domains.{domain}"
    try:
        cut = modalities.modality(modality).patching(shape, params.pretrain_for(domain).model)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    if cut is None:
        return
    length, patch, key = cut
    if length % patch:
        raise ConfigError(f"{where}: input size {length} is not a multiple of {key} = {patch}; "
                          "expected a size the encoder's patches tile exactly")
    if length % factor:
        raise ConfigError(f"{where}: input size {length} is not a multiple of {factor}, which "
                          f"the generator's {levels} UNet levels (generator.channels) need")


def shortfall(data: DomainData, spec: DomainParams, domain: str) -> dict[str, list[int]]:
    """Splits the source filled with fewer items than ``sizes`` asks, as ``[got, wanted]``.

    A real data set may be smaller than the sizes (its source then shrinks the splits
    together): that is said on stderr and recorded in ``domain.json``, and when a split ends
    below :data:`MIN_ITEMS` the stage fails instead of benchmarking on a handful of items.
    """
    wanted = asdict(spec.sizes)
    short = {s: [len(data[s]), wanted[s]] for s in SPLITS if len(data[s]) < wanted[s]}
    if not short:
        return short
    where = data.info.get("file") or data.info.get("folder")
    source = f"source {spec.source!r}" + (f" ({where})" if where else "")
    listing = ", ".join(f"{s} {got} of {want}" for s, (got, want) in short.items())
    if any(got < MIN_ITEMS for got, _ in short.values()):
        raise ConfigError(f"{PARAMS_FILE}: domains.{domain}.sizes: {source} has too few items: "
                          f"{listing}; expected at least {MIN_ITEMS} per split: lower the sizes "
                          "or give the source more data")
    print(f"prepare {domain}: {source} has fewer items than domains.{domain}.sizes asks: "
          f"{listing} (recorded in domain.json)", file=sys.stderr)
    return short


if __name__ == "__main__":
    run(main)
