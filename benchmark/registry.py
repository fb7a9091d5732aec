"""Name -> plugin registries for domains, methods and metrics.

Plugins outside the core (``domains/``, ``methods/``, third-party packages) register through
entry points, so the core never imports them by name; the registry loads the entry-point group
on the first lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """An unknown plugin name; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class Registry(Generic[T]):
    """A mapping from names to plugins that loads entry points lazily."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._installed: dict[str, EntryPoint] | None = None

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("name")``."""

        def add(obj: T) -> T:
            existing = self._items.get(name)
            if existing is not None and existing is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered as {existing!r}")
            if isinstance(obj, type):  # a class knows its name: the registered one, only
                own = obj.__dict__.get("name")
                if own is not None and own != name:
                    raise ValueError(f"{self.kind} {obj.__name__} is registered as {name!r} "
                                     f"but says name = {own!r}; one name, please")
                obj.name = name  # type: ignore[attr-defined]
            self._items[name] = obj
            return obj

        return add

    def unregister(self, name: str) -> None:
        """Remove a plugin (used by tests that register throw-away plugins)."""
        self._items.pop(name, None)

    def _entry_points(self) -> dict[str, EntryPoint]:
        """The group's entry points, read once per process (a scan of every installed package's
        metadata: too slow for a lookup per training step)."""
        if self._installed is None:
            group = self.entry_point_group
            self._installed = {} if group is None else {
                ep.name: ep for ep in entry_points(group=group)}
        return self._installed

    def _load(self, name: str) -> None:
        """Import the one entry point named ``name``: a broken plugin breaks only its own name."""
        if name in self._items:
            return
        ep = self._entry_points().get(name)
        if ep is None:
            return
        try:
            ep.load()  # importing the module runs its @register decorators
        except Exception as err:
            raise PluginLoadError(
                f"{self.kind} {name!r} is registered by entry point {ep.value!r} "
                f"(group {self.entry_point_group}), which failed to import: "
                f"{type(err).__name__}: {err}") from err
        if name not in self._items:
            raise PluginLoadError(f"entry point {ep.value!r} of group {self.entry_point_group} "
                                  f"did not register a {self.kind} named {name!r}")

    def get(self, name: str) -> T:
        self._load(name)
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(self.names()) or "(none registered)"
            hint = (f"; a plugin registers through the entry-point group "
                    f"'{self.entry_point_group}' of an installed package (pip install -e . "
                    "after adding it)" if self.entry_point_group else "")
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; valid names: {valid}{hint}") from None

    def module(self, name: str) -> str | None:
        """The module that registers ``name``, read from entry-point metadata without importing
        it (the ``plugins`` stage digests its code); None for an unknown name.
        """
        ep = self._entry_points().get(name)
        if ep is not None:
            return ep.module
        item = self._items.get(name)
        return getattr(item, "__module__", None) if item is not None else None

    def names(self) -> list[str]:
        """Registered names and installed entry-point names (without importing them)."""
        return sorted(set(self._items) | set(self._entry_points()))

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


class PluginLoadError(ImportError):
    """An installed plugin whose module fails to import or does not register itself."""


# The plugin registries, here rather than beside their base classes so that validating params
# never imports the method or domain machinery.
DOMAINS: Registry[type] = Registry("domain source", entry_point_group="benchmark.domains")
METHODS: Registry[type] = Registry("method", entry_point_group="benchmark.methods")
