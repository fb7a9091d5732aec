"""``params.yaml`` -> frozen, typed dataclasses: the one place where configuration is validated.

Every stage reads its section through :func:`load_params`; an unknown key, a missing key or a
value of the wrong type or range fails with the file, the dotted key, the value and what was
expected. Plugin options (a domain source's or a method's) are checked against the keyword
arguments of the plugin's ``__init__``.
"""

from benchmark.config.convert import (
    ConfigError,
    as_dict,
    deep_merge,
    plugin_options,
)
from benchmark.config.load import (
    PARAMS_FILE,
    as_written,
    file_form,
    load_params,
    parse_params,
    read_yaml,
    with_profile,
    yaml_error,
)
from benchmark.config.sections import *  # noqa: F403  (every section's dataclass)
from benchmark.config.sections import ENTRY_KEYS, POSTPROCESSORS, Params

__all__ = ["ConfigError", "ENTRY_KEYS", "PARAMS_FILE", "POSTPROCESSORS", "Params", "as_dict",
           "as_written", "deep_merge", "file_form", "load_params", "parse_params",
           "plugin_options", "read_yaml", "with_profile", "yaml_error"]
