"""A name -> class registry filled by decorators in the modules of one package."""

from __future__ import annotations

import pkgutil
from importlib import import_module
from typing import Callable, Generic, TypeVar

T = TypeVar("T", bound=type)


class UnknownNameError(KeyError):
    """A name not in a registry. A KeyError whose text is its message (KeyError's own quotes it as a repr)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """Classes registered by name (lower case); `package` is imported lazily on first lookup."""

    def __init__(self, kind: str, package: str, retired: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.package = package
        # names no class may take (e.g. an ambiguous old name) -> the message a lookup gives instead
        self.retired = {k.lower(): v for k, v in (retired or {}).items()}
        self._classes: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: make a class available under `name`."""

        def deco(cls: T) -> T:
            key = name.lower()
            if key in self.retired:
                raise ValueError(f"{self.kind} name {key!r} is retired: {self.retired[key]}")
            if key in self._classes and self._classes[key] is not cls:
                raise ValueError(f"{self.kind} name {key!r} is already registered by {self._classes[key].__name__}")
            cls.name = key
            self._classes[key] = cls
            return cls

        return deco

    def _load_all(self) -> None:
        """Import every module of the package once, so their @register decorators run."""
        if self._loaded:
            return
        package = import_module(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_") and info.name != "base":
                import_module(f"{self.package}.{info.name}")
        self._loaded = True

    def names(self) -> list[str]:
        self._load_all()
        return sorted(self._classes)

    def cls(self, name: str) -> T:
        self._load_all()
        key = name.lower()
        if key in self.retired:
            raise UnknownNameError(self.retired[key])
        if key not in self._classes:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; available: {', '.join(sorted(self._classes))}")
        return self._classes[key]
