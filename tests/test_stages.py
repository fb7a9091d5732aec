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
