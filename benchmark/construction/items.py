"""The loop's own copies of every item a construction run can touch, by id.

``seed:<i>`` and ``pool:<i>`` are rows of the run's seed and pool splits, ``synth:<r>:<j>`` the
j-th item generated in round r. The loop copies the splits once, keeps every generated batch and
embeds each item once; a method gets read-only copies of what it may see and refers to items by
id, so whatever it does to the arrays it holds, the inputs that a person answers about, that
enter D and that the harness measures are these.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.annotation.ledger import content_digest
from benchmark.data import Split
from benchmark.method import UNKNOWN_GROUP, VISIBLE_EMBEDDINGS, Candidates, ProtocolError


def own_copy(split: Split, meta: bool = True) -> Split:
    """A copy of ``split`` whose arrays refuse writes: the loop's, shared with nobody."""
    arrays = [np.array(a, copy=True) for a in (split.x, split.y, split.group)]
    columns = {k: np.array(v, copy=True) for k, v in split.meta.items()} if meta else {}
    for a in [*arrays, *columns.values()]:
        a.setflags(write=False)
    return Split(*arrays, columns)


class RunItems:
    """The seed, the pool and the generated items of one run, with their embeddings."""

    def __init__(self, seed: Split, pool: Split, resources: Any, run_seed: int) -> None:
        self.seed, self.pool = own_copy(seed), own_copy(pool, meta=False)
        self.resources, self.run_seed = resources, run_seed
        self.batches: dict[int, list[Candidates]] = {}  # per round, in generation order
        self._synthetic: dict[str, tuple[Candidates, int]] = {}  # id -> (batch, row)
        self._z: dict[str, np.ndarray] = {}  # embeddings of synthetic items, by id
        self._visible: dict[str, np.ndarray] | None = None

    # ------------------------------------------------------------------ candidates
    def pool_candidates(self, taken: set[str]) -> Candidates:
        """The pool items not in ``taken``, without their hidden labels."""
        items = np.array([f"pool:{i}" for i in range(len(self.pool))])
        keep = np.array([item not in taken for item in items], dtype=bool)
        return Candidates(items[keep], self.pool.x[keep], self.pool.group[keep])

    def generate(self, round_: int, n: int, label: int | np.ndarray | None = None,
                 cluster: int | np.ndarray | None = None) -> Candidates:
        """``n`` items of the requested class / cluster (None: untargeted), kept as round
        ``round_``'s. Sampling seeds derive from (run seed, round, call), so a replayed round
        regenerates the same items under the same ids.
        """
        if self.resources is None:
            raise RuntimeError("this run has no generator (resources) to sample from")
        batches = self.batches.setdefault(round_, [])
        sample_seed = int(np.random.default_rng([self.run_seed, round_, len(batches)]
                                                ).integers(2**31))
        x, meta = self.resources.sample(int(n), label, cluster, sample_seed)
        start = sum(len(b) for b in batches)
        ids = np.array([f"synth:{round_}:{start + j}" for j in range(int(n))])
        cands = Candidates(ids, x, np.full(int(n), UNKNOWN_GROUP), {
            "source": np.full(int(n), "synthetic"), "target_label": meta["target_label"],
            "target_cluster": meta["target_cluster"]})
        self._keep(cands)
        # embedded here, as one batch: an item's embedding must not depend on which items a
        # method asked about together (batch composition moves the last bits of a float)
        self._z.update(zip(ids.tolist(), self.resources.embed(cands.x), strict=True))
        batches.append(cands)
        return cands

    def _keep(self, cands: Candidates) -> None:
        for array in (cands.items, cands.x, cands.group, *cands.meta.values()):
            array.setflags(write=False)
        self._synthetic.update({item: (cands, j) for j, item in enumerate(cands.items)})

    def register(self, dataset: Split, z: np.ndarray | None) -> None:
        """Take a saved D's synthetic rows (and their embeddings ``z``, as the run that made
        them computed them) as items of their rounds: a resumed run.
        """
        synthetic = np.flatnonzero(dataset.meta["source"] == "synthetic")
        if len(synthetic):
            part = dataset.subset(synthetic)
            self._keep(Candidates(part.meta["item"], part.x, part.group, {
                k: part.meta[k] for k in ("source", "target_label", "target_cluster")}))
            if z is not None and len(z) == len(synthetic):
                self._z.update(zip(part.meta["item"].tolist(), z, strict=True))

    def synthetic_embeddings(self, dataset: Split) -> np.ndarray | None:
        """The embeddings of D's synthetic rows, to save with the state (None: no encoder)."""
        if self.resources is None:
            return None
        return self.embed(dataset.meta["item"][dataset.meta["source"] == "synthetic"])

    def owned(self, items: Any, pool: Candidates, round_: int, method: str) -> Candidates:
        """The loop's own copies of the items a method proposed: pool items of ``pool`` (the
        round's remaining pool) or items generated in ``round_``; anything else is refused.
        """
        ids = [str(i) for i in np.asarray(items).tolist()]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ProtocolError(f"method {method!r} proposed item {dup!r} twice")
        owned = Candidates.concat([pool, *self.batches.get(round_, [])])
        where = {item: i for i, item in enumerate(owned.items.tolist())}
        unknown = [item for item in ids if item not in where]
        if unknown:
            raise ProtocolError(
                f"method {method!r} proposed {unknown[0]!r}, which is neither a pool item "
                "outside D that nobody answered nor an item generated this round through "
                "view.generate")
        return owned.subset(np.array([where[item] for item in ids], dtype=np.int64))

    # ------------------------------------------------------------------ lookups
    def holds(self, item: str) -> bool:
        split, _, index = item.partition(":")
        return item in self._synthetic or (split in ("seed", "pool") and index.isdigit()
                                           and int(index) < len(getattr(self, split)))

    def rows(self, items: list[str]) -> Candidates:
        """Pool and synthetic items by id, from the loop's copies (provenance meta included)."""
        parts = []
        for item in items:
            split, _, index = item.partition(":")
            if split == "pool":
                i = int(index)
                parts.append(Candidates(np.array([item]), self.pool.x[i:i + 1],
                                        self.pool.group[i:i + 1]))
            else:
                batch, row = self._synthetic[item]
                parts.append(batch.subset(np.array([row])))
        if not parts:
            shape = (0, *self.pool.x.shape[1:])
            return Candidates(np.zeros(0, str), np.zeros(shape, np.float32),
                              np.zeros(0, np.int64))
        return Candidates.concat(parts)

    def digest(self, item: str) -> str:
        """The content digest of an item's inputs (what a ledger answer was given for)."""
        return content_digest(self.rows([item]).x[0])

    # ------------------------------------------------------------------ embeddings
    def embed(self, items: np.ndarray) -> np.ndarray:
        """Embeddings by id: seed and pool items from the ``pretrain`` cache, generated items
        encoded once, on first use.
        """
        z = self.resources.embeddings
        out = np.zeros((len(items), z["seed"].shape[1]), np.float32)
        todo = []
        for row, item in enumerate(np.asarray(items).astype(str).tolist()):
            split, _, index = item.partition(":")
            if split in ("seed", "pool"):
                out[row] = z[split][int(index)]
            elif item in self._z:
                out[row] = self._z[item]
            else:
                todo.append(row)
        if todo:
            names = np.asarray(items).astype(str)[todo].tolist()
            computed = self.resources.embed(self.rows(names).x)
            out[todo] = computed
            self._z.update(zip(names, computed, strict=True))
        return out

    def visible_embeddings(self) -> dict[str, np.ndarray]:
        """Copies of the embeddings a method may see (seed, pool, val), made once per run."""
        if self._visible is None:
            z = self.resources.embeddings if self.resources is not None else {}
            self._visible = {k: np.array(z[k], copy=True) for k in VISIBLE_EMBEDDINGS
                             if k in z}
        return self._visible
