"""Find shipped catalog entries (models, topologies, devices, studies, profiles) by name, or user files by path.

The top-level folders ``models/``, ``topologies/``, ``devices/``, ``studies/`` and ``profiles/`` of the repository
are the one source of the catalog. The build copies them into the wheel as ``simtrain/data/<kind>/`` (``setup.py``),
so names resolve the same from a plain ``pip install`` (package data) and from a source or editable checkout (the
top-level folders); :func:`catalog_dir` decides which.

Examples
--------
>>> "resnet50" in names("models")
True
>>> resolve("topologies", "abci").name
'abci.yaml'
"""

from __future__ import annotations

from pathlib import Path

from simtrain.errors import ConfigError
from simtrain.inputs import check_file

__all__ = ["catalog_dir", "names", "resolve"]

_SUFFIXES = {"models": (".yaml",), "topologies": (".yaml",), "devices": (".yaml",), "studies": (".yaml",),
             "profiles": (".json",)}
#: The Python parameter that names an entry of each kind (``simtrain.simulate(model=..., topology=...)``).
_PARAMETERS = {"models": "model", "topologies": "topology", "devices": "device", "studies": "study",
               "profiles": "profile"}
_PACKAGE = Path(__file__).resolve().parent


def catalog_dir(kind: str) -> Path:
    """The folder holding the shipped entries of ``kind``.

    An installed wheel carries them as package data (``simtrain/data/<kind>``); a source or editable checkout has
    no such folder and reads the repository's top-level folder (``<kind>/`` next to the package).

    Examples
    --------
    >>> catalog_dir("models").name
    'models'
    >>> (catalog_dir("models") / "resnet50.yaml").is_file()
    True
    """
    shipped = _PACKAGE / "data" / kind
    if shipped.is_dir():
        return shipped
    return _PACKAGE.parent / kind


def names(kind: str) -> list[str]:
    """Sorted names of the shipped entries of ``kind`` ('models', 'topologies', 'devices', 'studies', 'profiles').

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
    >>> try:
    ...     resolve("models", "resnt50")
    ... except ConfigError as exc:
    ...     print(str(exc).split(";")[0])
    model: unknown model: 'resnt50' (did you mean 'resnet50'?)
    """
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or "/" in text or text.endswith((".yaml", ".yml", ".json"))
    if looks_like_path:
        # a FIFO, a device or a folder is refused here, saying what it is (simtrain.inputs)
        return check_file(Path(text), source=text, key=_PARAMETERS[kind])
    for suffix in _SUFFIXES[kind]:
        candidate = catalog_dir(kind) / f"{text}{suffix}"
        try:
            if candidate.is_file():
                return candidate
        except (OSError, ValueError):   # a name no file can have (too long, a NUL byte) names nothing here
            break
    # the library names the Python parameter; the command line maps it to its flag
    raise ConfigError(f"unknown {_PARAMETERS[kind]}", key=_PARAMETERS[kind], value=text, choices=names(kind))
