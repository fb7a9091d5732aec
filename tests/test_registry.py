import pytest

from benchmark.domain import DOMAINS
from benchmark.evaluation.metrics import METRICS
from benchmark.method import METHODS
from benchmark.registry import Registry, UnknownNameError


def test_unknown_name_lists_valid_ones() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    reg.register("b")(2)
    with pytest.raises(UnknownNameError, match=r"unknown widget 'c'; valid names: a, b"):
        reg.get("c")


def test_double_registration_of_another_object_fails() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)


def test_builtin_plugins_load_through_entry_points() -> None:
    assert {"cells", "lorenz96", "hopper"} <= set(DOMAINS.names())
    assert {"seed_only", "random"} <= set(METHODS.names())
    assert {"acc", "f1_macro", "acc_wg", "acc_gap", "dpd", "eod"} <= set(METRICS.names())


def test_unknown_plugin_says_how_to_register_one() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown domain source 'ham10000'; valid names: "
                       r".*cells.*entry-point group 'benchmark.domains'.*pip install -e \."):
        DOMAINS.get("ham10000")


def test_module_is_read_from_entry_points_without_importing() -> None:
    assert DOMAINS.module("hopper") == "domains.robotics"
    assert METHODS.module("adaptive") == "methods.adaptive"
    assert DOMAINS.module("ham10000") is None


def test_a_class_has_one_name() -> None:
    registry: Registry[type] = Registry("thing")

    class Good:
        pass

    class Bad:
        name = "other"

    assert registry.register("good")(Good).name == "good"  # set from the registered name
    with pytest.raises(ValueError, match=r"thing Bad is registered as 'bad' but says "
                                         r"name = 'other'"):
        registry.register("bad")(Bad)
