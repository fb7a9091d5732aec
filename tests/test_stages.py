import pytest

from benchmark.config import ConfigError
from benchmark.stages import run


def test_input_errors_end_in_one_clear_line() -> None:
    def main() -> None:
        raise ConfigError("params.yaml: construct.budget: got -1.0, expected a non-negative cost")

    with pytest.raises(SystemExit) as exit_:
        run(main)
    assert exit_.value.code == ("error: params.yaml: construct.budget: got -1.0, "
                                "expected a non-negative cost")


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
            "benchmark.stages.report, benchmark.metrics, benchmark.annotation, benchmark.method; "
            "print(sorted(m for m in ('torch', 'torchmetrics', 'lightning') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
