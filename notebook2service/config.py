"""Settings: rule selection from ``[tool.nb2svc]`` in the nearest pyproject.toml and the CLI."""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


def _toml():  # imported on first use: most runs find no [tool.nb2svc] table at all
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib


class ConfigError(Exception):
    """A pyproject.toml cannot be read or its [tool.nb2svc] table is wrong."""


_KEYS = {"select", "ignore", "extend-select", "extend-ignore", "exclude", "per-file-ignores"}


def _codes(value: Any, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: [tool.nb2svc] {key} must be a list of rule codes")
    return tuple(v.strip().upper() for v in value)


def _matches(code: str, selectors: tuple[str, ...]) -> bool:
    return any(s == "ALL" or code.startswith(s) for s in selectors)


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    root: str | None = None  # folder of the pyproject.toml the settings came from
    source: str | None = None

    def enabled(self, code: str, path: str | None = None) -> bool:
        if not _matches(code, self.select) or _matches(code, self.ignore):
            return False
        if path and self.per_file_ignores:
            rel = self._relative(path)
            for pattern, codes in self.per_file_ignores:
                if fnmatch.fnmatch(rel, pattern) and _matches(code, codes):
                    return False
        return True

    def excluded(self, path: str) -> bool:
        rel = self._relative(path)
        name = Path(path).name
        return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in self.exclude)

    def _relative(self, path: str) -> str:
        p = Path(path).resolve()
        if self.root:
            try:
                return p.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return p.as_posix()

    def with_cli(
        self,
        select: tuple[str, ...] | None,
        ignore: tuple[str, ...] | None,
        extend_select: tuple[str, ...] | None = None,
    ) -> Settings:
        """CLI --select replaces the configured selection; --ignore adds to it (as ruff does)."""
        sel = tuple(select) if select else self.select
        if extend_select:
            sel = sel + tuple(extend_select)
        ign = self.ignore + tuple(ignore or ())
        return Settings(sel, ign, self.exclude, self.per_file_ignores, self.root, self.source)

    def key(self) -> str:
        return repr((self.select, self.ignore, self.per_file_ignores))


def from_table(
    table: dict[str, Any], root: str | None = None, source: str = "<config>"
) -> Settings:
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(f"{source}: unknown [tool.nb2svc] key(s): {', '.join(sorted(unknown))}")
    select = _codes(table.get("select"), "select", source) or ("ALL",)
    select += _codes(table.get("extend-select"), "extend-select", source)
    ignore = _codes(table.get("ignore"), "ignore", source) + _codes(
        table.get("extend-ignore"), "extend-ignore", source
    )
    exclude = table.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(v, str) for v in exclude):
        raise ConfigError(f"{source}: [tool.nb2svc] exclude must be a list of glob patterns")
    pfi = table.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise ConfigError(f"{source}: [tool.nb2svc] per-file-ignores must be a table")
    per_file = tuple((k, _codes(v, "per-file-ignores", source)) for k, v in pfi.items())
    return Settings(select, ignore, tuple(exclude), per_file, root, source)


@lru_cache(maxsize=256)
def _settings_for_dir(directory: str) -> Settings:
    d = Path(directory)
    for folder in (d, *d.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{candidate}: cannot read: {exc}") from None
            if "nb2svc" not in text:
                continue  # no [tool.nb2svc] table: keep looking, without parsing TOML
            tomllib = _toml()
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{candidate}: cannot read: {exc}") from None
            table = data.get("tool", {}).get("nb2svc")
            if table is None:
                continue  # like ruff: a pyproject without our table does not stop the search
            if not isinstance(table, dict):
                raise ConfigError(f"{candidate}: [tool.nb2svc] must be a table")
            return from_table(table, root=str(folder), source=str(candidate))
    return Settings()


def settings_for(path: str | Path) -> Settings:
    """Settings from the nearest pyproject.toml with a [tool.nb2svc] table above `path`."""
    p = Path(path).resolve()
    return _settings_for_dir(str(p if p.is_dir() else p.parent))


@dataclass
class Options:
    """What the caller asked for on top of the configuration files."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] | None = None
    use_config: bool = True
    settings: Settings | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def resolve(self, path: str | None) -> Settings:
        if self.settings is not None:
            base = self.settings
        elif self.use_config and path and not path.startswith("<"):
            base = settings_for(path)
        else:
            base = Settings()
        return base.with_cli(self.select, self.ignore, self.extend_select)
