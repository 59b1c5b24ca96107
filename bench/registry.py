"""One small typed registry, used for derainers, datasets, tasks, metrics and evaluators.

Entries are either objects registered with a decorator, or lazy ``"package.module:attr"``
strings that are imported on first use, so that ``import bench`` imports no model code.
Third-party packages add entries through an entry-point group (e.g. ``bench.derainers``).

Example:
    >>> from bench.registry import Registry
    >>> colours: Registry[tuple[int, int, int]] = Registry("colours")
    >>> colours.add("red", (255, 0, 0), aliases=("rot",), summary="the colour red")
    >>> colours.get("ROT")
    (255, 0, 0)
    >>> colours.add("sqrt", "math:sqrt")  # a string is a lazy "module:attr" reference, imported on first get
    >>> colours.get("sqrt")(16.0)
    4.0
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised when a name is not registered; the message suggests close matches."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


@dataclass
class Entry(Generic[T]):
    """One registered name: the object itself or a lazy reference to it."""

    name: str
    target: T | str | EntryPoint
    summary: str = ""
    aliases: tuple[str, ...] = ()
    origin: str = "builtin"
    _loaded: bool = field(default=False, repr=False)

    @property
    def is_lazy(self) -> bool:
        return not self._loaded and isinstance(self.target, str | EntryPoint)


@dataclass
class Family(Generic[T]):
    """Names ``<prefix>:<name>`` made on demand by ``factory(name)`` (e.g. every pyiqa metric).

    ``factory`` is a callable or a lazy ``"module:attr"`` reference to one; what it returns for a name is
    kept, so each name is made once. The family is listed as one pattern, not name by name.
    """

    prefix: str
    factory: Callable[[str], T] | str
    summary: str = ""
    made: dict[str, T] = field(default_factory=dict, repr=False)

    @property
    def pattern(self) -> str:
        return f"{self.prefix}:<name>"


def _import_reference(reference: str) -> Any:
    module_name, _, attr = reference.partition(":")
    if not attr:
        raise ValueError(f"lazy reference {reference!r} must look like 'package.module:attr'")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """A name → object map with aliases, lazy entries, entry points and helpful errors.

    Names are case-insensitive. Registering a name twice raises unless ``force=True``.

    Args:
        kind: What is registered (used in error messages), e.g. ``"derainer"``.
        entry_point_group: Optional ``importlib.metadata`` group scanned on first lookup.
    """

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}
        self._lock = threading.RLock()
        self._entry_points_loaded = entry_point_group is None
        self._frozen = False
        self._families: dict[str, Family[T]] = {}

    # ------------------------------------------------------------------ registration
    def add(
        self,
        name: str,
        target: T | str | EntryPoint,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        summary: str = "",
        origin: str = "builtin",
        force: bool = False,
    ) -> None:
        """Register ``target`` (an object, or a lazy ``"module:attr"`` string) under ``name``."""
        with self._lock:
            if self._frozen:
                raise RuntimeError(f"the {self.kind} registry is frozen; cannot add {name!r}")
            key = name.lower()
            taken = [k for k in (key, *(a.lower() for a in aliases)) if k in self._aliases]
            if taken and not force:
                owner = self._aliases[taken[0]]
                raise ValueError(
                    f"{self.kind} name {taken[0]!r} is already registered (by {owner!r}, "
                    f"origin {self._entries[owner].origin}); pass force=True to replace it"
                )
            entry: Entry[T] = Entry(name=name, target=target, summary=summary, aliases=tuple(aliases), origin=origin)
            entry._loaded = not isinstance(target, str | EntryPoint)
            self._entries[key] = entry
            self._aliases[key] = key
            for alias in aliases:
                self._aliases[alias.lower()] = key

    def register(
        self,
        name: str | None = None,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        summary: str | None = None,
        force: bool = False,
    ) -> Callable[[T], T]:
        """Decorator form of :meth:`add`; the summary defaults to the docstring's first line."""

        def decorate(obj: T) -> T:
            reg_name = name or getattr(obj, "__name__", None)
            if not reg_name:
                raise ValueError("cannot infer a name; pass name=")
            doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
            text = summary if summary is not None else (doc[0] if doc else "")
            key = reg_name.lower()
            existing = self._entries.get(key)
            if existing is not None and existing.is_lazy and not force:
                # A lazy placeholder being materialised by its own module: resolve in place.
                existing.target = obj
                existing._loaded = True
                if text and not existing.summary:
                    existing.summary = text
                return obj
            self.add(reg_name, obj, aliases=aliases, summary=text, force=force)
            return obj

        return decorate

    def add_family(self, prefix: str, factory: Callable[[str], T] | str, *, summary: str = "") -> None:
        """Register the names ``<prefix>:<name>``, each made by ``factory(name)`` on first :meth:`get`.

        Example:
            >>> squares: Registry[int] = Registry("square")
            >>> squares.add_family("sq", lambda n: int(n) ** 2, summary="the square of <name>")
            >>> squares.get("sq:12"), squares.families()
            (144, [('sq:<name>', 'the square of <name>')])
        """
        with self._lock:
            if self._frozen:
                raise RuntimeError(f"the {self.kind} registry is frozen; cannot add {prefix!r}")
            self._families[prefix.lower()] = Family(prefix, factory, summary)

    def families(self) -> list[tuple[str, str]]:
        """``(pattern, summary)`` of each family, sorted (``("pyiqa:<name>", "...")``)."""
        return sorted((f.pattern, f.summary) for f in self._families.values())

    def _family_member(self, name: str) -> tuple[Family[T], str] | None:
        prefix, sep, member = name.partition(":")
        family = self._families.get(prefix.lower()) if sep else None
        return (family, member) if family is not None and member else None

    def freeze(self) -> None:
        """Disallow further registration (useful in tests)."""
        self._frozen = True

    # ------------------------------------------------------------------ lookup
    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        assert self.entry_point_group is not None
        for ep in entry_points(group=self.entry_point_group):
            if ep.name.lower() in self._aliases:
                continue  # built-ins win; a plugin cannot silently shadow them
            self.add(ep.name, ep, summary=f"plugin from {ep.value}", origin=f"entry point {ep.value}")

    def _key(self, name: str) -> str:
        self._load_entry_points()
        key = self._aliases.get(name.lower())
        if key is None:
            raise UnknownNameError(self._unknown_message(name))
        return key

    def _unknown_message(self, name: str) -> str:
        known = sorted(self._aliases)
        close = difflib.get_close_matches(name.lower(), known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        families = f" Families: {', '.join(p for p, _ in self.families())}." if self._families else ""
        return (
            f"unknown {self.kind} {name!r}.{hint} "
            f"Registered {self.kind}s: {', '.join(sorted(e.name for e in self._entries.values()))}.{families}"
        )

    def entry(self, name: str) -> Entry[T]:
        """The :class:`Entry` for ``name`` (not materialised)."""
        return self._entries[self._key(name)]

    def get(self, name: str) -> T:
        """Return the object registered under ``name`` or an alias, importing it if lazy.

        A name ``<prefix>:<member>`` of a family (:meth:`add_family`) is made by the family's factory,
        which raises its own errors for members it does not know.

        Raises:
            UnknownNameError: ``name`` is not registered; the message lists close matches.
        """
        member = self._family_member(name) if name.lower() not in self._aliases else None
        if member is not None:
            family, key = member
            with self._lock:
                if key not in family.made:
                    factory = family.factory
                    make = _import_reference(factory) if isinstance(factory, str) else factory
                    family.made[key] = make(key)
                return family.made[key]
        entry = self.entry(name)
        with self._lock:
            if not entry._loaded:
                target = entry.target
                obj = target.load() if isinstance(target, EntryPoint) else _import_reference(str(target))
                entry.target = obj
                entry._loaded = True
        return cast(T, entry.target)  # loaded above: the object itself

    def canonical(self, name: str) -> str:
        """The registered (canonical) spelling of ``name`` or one of its aliases."""
        return self.entry(name).name

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._load_entry_points()
        return name.lower() in self._aliases

    def names(self) -> list[str]:
        """Canonical names, sorted."""
        self._load_entry_points()
        return sorted(e.name for e in self._entries.values())

    def entries(self) -> Iterator[Entry[T]]:
        self._load_entry_points()
        yield from sorted(self._entries.values(), key=lambda e: e.name.lower())

    def __len__(self) -> int:
        self._load_entry_points()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"
