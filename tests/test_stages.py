import dataclasses

import numpy as np
import pytest

from benchmark.config import ConfigError
from benchmark.stages import run
from tests.conftest import make_domain


def test_input_errors_end_in_one_clear_line() -> None:
    def main() -> None:
        raise ConfigError("params.yaml: train.lr: got -1.0, expected a positive learning rate")

    with pytest.raises(SystemExit) as exit_:
        run(main)
    assert exit_.value.code == ("error: params.yaml: train.lr: got -1.0, "
                                "expected a positive learning rate")


def test_a_folder_it_may_not_write_is_one_line_naming_it(tmp_path) -> None:
    """A read-only results folder (root ignores permissions, so the error is raised as the
    OS raises it): the path, in one line, no traceback."""
    folder = tmp_path / "results" / "robotics"

    def main() -> None:
        raise PermissionError(13, "Permission denied", str(folder / "metrics.json"))

    with pytest.raises(SystemExit) as exit_:
        run(main)
    assert exit_.value.code == (f"error: {folder / 'metrics.json'}: permission denied; the "
                                "stage must be able to write its outputs there")


def test_bugs_still_raise_with_their_traceback() -> None:
    def main() -> None:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        run(main)


def test_light_stages_do_not_import_torch() -> None:
    """prepare, patterns and report never train or score a network: importing them (and the
    metrics and annotation packages they read) must not pay for torch, seconds per process."""
    import subprocess
    import sys

    code = ("import sys, benchmark.stages.prepare, benchmark.stages.patterns, "
            "benchmark.stages.report, benchmark.evaluation.metrics, benchmark.annotation, "
            "benchmark.method; "
            "print(sorted(m for m in ('torch', 'torchmetrics', 'lightning') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_forked_workers_die_with_the_stage_process(tmp_path) -> None:
    """SIGKILL a stage running two cells at once: its workers go with it, so none is left
    writing the cells' outputs beside the rerun that resumes them.
    """
    import subprocess
    import sys
    import time

    from tests.processes import kill_tree

    code = ("import os, sys, time\n"
            "from benchmark.stages import run_cells\n"
            "def cell(method, seed):\n"
            "    open(os.path.join(sys.argv[1], str(os.getpid())), 'w').close()\n"
            "    time.sleep(120)\n"
            "run_cells(cell, [('a', 0), ('b', 0)], 2)\n")
    stage = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)])
    deadline = time.monotonic() + 60
    while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(tmp_path.iterdir())) == 2  # both workers are in their cell
    assert kill_tree(stage, wait=10) == 0


def test_pattern_probes_train_on_seed_and_on_pool_labels(smoke_params) -> None:
    """``probe_acc`` learns from the seed's labels, ``probe_acc_pool`` from the pool's: with the
    seed's labels scrambled only the first falls to chance."""
    from benchmark.upstream.pattern_scores import scores

    data = make_domain(n=300)
    seed = data["seed"]
    scrambled = np.random.default_rng(1).permutation(seed.y)
    data = dataclasses.replace(data, splits={**data.splits, "seed": dataclasses.replace(
        seed, y=scrambled)})
    z = {s: data[s].x for s in ("seed", "pool", "val")}
    result = scores(z, data, {}, None, smoke_params.patterns)
    assert result["probe_acc_pool"] > 0.95
    assert result["probe_acc"] < 0.6
