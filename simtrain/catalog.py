"""Find shipped catalog entries (models, topologies, studies, profiles) by name, or user files by path.

Catalog files ship inside the package (``simtrain/data/<kind>/NAME.yaml``), so names resolve the same from a
plain ``pip install`` and from an editable install.

Examples
--------
>>> "resnet50" in names("models")
True
>>> resolve("topologies", "abci").name
'abci.yaml'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from simtrain.errors import ConfigError

__all__ = ["catalog_dir", "names", "resolve"]

_SUFFIXES = {"models": (".yaml",), "topologies": (".yaml",), "studies": (".yaml",), "profiles": (".json",)}
_FLAGS = {"models": "--model", "topologies": "--topology", "studies": "study", "profiles": "--profile"}


def catalog_dir(kind: str) -> Path:
    """The folder holding the shipped entries of ``kind``."""
    return Path(str(resources.files("simtrain") / "data" / kind))


def names(kind: str) -> list[str]:
    """Sorted names of the shipped entries of ``kind`` ('models', 'topologies', 'studies', 'profiles').

    Examples
    --------
    >>> names("topologies")[:2]
    ['abci', 'cloud-25g']
    """
    folder = catalog_dir(kind)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix in _SUFFIXES[kind] and not p.stem.startswith("_"))


def resolve(kind: str, name_or_path: str | Path) -> Path:
    """Return the file for a catalog name or a path; unknown names get a close-match suggestion.

    A value that contains a path separator or ends in a known suffix is treated as a path.

    Examples
    --------
    >>> resolve("models", "resnet50").stem
    'resnet50'
    """
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or "/" in text or text.endswith((".yaml", ".yml", ".json"))
    if looks_like_path:
        path = Path(text)
        if not path.is_file():
            raise ConfigError("file not found", source=text, key=_FLAGS[kind])
        return path
    for suffix in _SUFFIXES[kind]:
        candidate = catalog_dir(kind) / f"{text}{suffix}"
        if candidate.is_file():
            return candidate
    singular = kind[:-1] if not kind.endswith("ies") else kind[:-3] + "y"
    raise ConfigError(f"unknown {singular}", source="<cli>", key=_FLAGS[kind], value=text, choices=names(kind))
