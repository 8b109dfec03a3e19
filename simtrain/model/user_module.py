"""A model from the user's own PyTorch code: ``module:PATH.py:FACTORY`` wherever a model name is accepted.

``PATH.py`` is a Python file the user names (it runs, as ``python PATH.py`` would: it is the user's code, asked
for by name; simtrain never unpickles anything). ``FACTORY`` (default ``model``) is a function in it, called with
no arguments, that returns ``(module, example_input)``, ``(module, example_input, batch_dim)`` or a mapping with
the keys ``module``, ``example_input`` and optionally ``batch_dim`` and ``name``. The module is traced by
:func:`~simtrain.model.torch_fx.from_torch`. Building the module on the ``meta`` device (``with
torch.device("meta"):`` around it and the example) traces large models without allocating them.

The file runs with its folder first on ``sys.path``, as ``python PATH.py`` runs it. A model is known by the
content of the ``.py`` files under its file's folder, packages included (:func:`module_digest`), not the one file
alone: a helper it imports from there (``import helper``, ``from pkg import w``) is part of the model, and an
edited helper makes another model (in the library's caches and in a study's fingerprint). The modules imported
from under that folder are dropped from ``sys.modules`` after the factory ran, so the next load imports the edited
ones. Code imported from elsewhere (an installed package) is not tracked.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "net.py").write_text(
...     "import torch\\n"
...     "def model():\\n"
...     "    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))\\n"
...     "    return net, torch.randn(4, 8)\\n")
>>> spec = load_module_model(f"module:{folder / 'net.py'}")
>>> spec.name, spec.num_params
('net', 178)
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simtrain.errors import ConfigError
from simtrain.model.spec import ModelSpec

__all__ = ["PREFIX", "is_module_reference", "load_module_model", "module_digest", "parse_module_reference"]

#: What starts a reference to the user's own PyTorch code.
PREFIX = "module:"
_MAX_BYTES = 8 * 2**20   # a model file, not a data set
#: The most ``.py`` files of a model's folder its digest reads (a project's folder, not a home directory).
MAX_FOLDER_FILES = 256


def is_module_reference(value: Any) -> bool:
    """Whether ``value`` names a model in the user's own Python code.

    Examples
    --------
    >>> is_module_reference("module:models/net.py:build"), is_module_reference("resnet50")
    (True, False)
    """
    return isinstance(value, str) and value.startswith(PREFIX)


def parse_module_reference(text: str) -> tuple[Path, str]:
    """The file and the factory of ``module:PATH.py[:FACTORY]``, checked (a regular ``.py`` file).

    Examples
    --------
    >>> parse_module_reference("module:/nonexistent/net.py:build")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: /nonexistent/net.py: model: file not found
    """
    match = re.fullmatch(r"(?P<path>.+?\.py)(?::(?P<factory>[^:/\\]*))?", text[len(PREFIX):])
    if match is None:
        raise ConfigError("must be module:PATH.py or module:PATH.py:FACTORY", key="model", value=text)
    path_text, factory = match["path"], match["factory"] or "model"
    if not factory.isidentifier():
        raise ConfigError("the factory must be a Python function name", source=path_text, key="model",
                          value=factory)
    from simtrain.inputs import check_file

    path = check_file(path_text, key="model")
    if path.stat().st_size > _MAX_BYTES:
        raise ConfigError(f"is larger than {_MAX_BYTES // 2**20} MiB: not a model's source file", source=path_text,
                          key="model")
    return path, factory


def load_module_model(text: str) -> ModelSpec:
    """The model of ``module:PATH.py[:FACTORY]`` (see the module docstring); cached by the content of its folder's
    ``.py`` files (:func:`module_digest`)."""
    path, factory = parse_module_reference(text)
    return _load(str(path.resolve()), module_digest(path), factory)


def module_digest(path: Path) -> str:
    """The SHA-256 of the ``.py`` files under ``path``'s folder, its packages included (relative names and contents,
    in name order): what a model in ``path`` may import from beside it. Refused past :data:`MAX_FOLDER_FILES` files
    or a file over 8 MiB.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "net.py").write_text("import helper\\n")
    >>> _ = (folder / "helper.py").write_text("WIDTH = 64\\n")
    >>> before = module_digest(folder / "net.py")
    >>> _ = (folder / "helper.py").write_text("WIDTH = 65536\\n")
    >>> module_digest(folder / "net.py") != before
    True
    """
    from simtrain.digest import file_digest

    folder = Path(path).resolve().parent
    files = sorted(f for f in folder.rglob("*.py") if "__pycache__" not in f.relative_to(folder).parts)
    if len(files) > MAX_FOLDER_FILES:
        raise ConfigError(f"the model's folder holds {len(files):,} .py files; a model is known by all of them "
                          f"(what it may import), at most {MAX_FOLDER_FILES}", source=str(path), key="model",
                          allowed="a folder of its own for the model and its helpers")
    digest = hashlib.sha256()
    for file in files:
        if not file.is_file():
            continue
        if file.stat().st_size > _MAX_BYTES:
            raise ConfigError(f"is larger than {_MAX_BYTES // 2**20} MiB: not a model's source file",
                              source=str(file), key="model")
        # each file's SHA-256, read again only when its times, size or inode change: a model's digest is asked for
        # at every load and every cache key
        content = file_digest(str(file))
        if content is None:
            raise ConfigError("cannot be read (a model is known by every .py file beside it)", source=str(file),
                              key="model")
        digest.update(str(file.relative_to(folder)).encode() + b"\0" + content.encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=16)
def _load(path: str, digest: str, factory: str) -> ModelSpec:
    from simtrain.model.torch_fx import from_torch

    name = f"_simtrain_user_model_{digest[:16]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
        raise ConfigError("cannot be imported", source=path, key="model")
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    folder = str(Path(path).parent)
    sys.path.insert(0, folder)   # as `python PATH.py` runs it: its folder first on the path, for its helpers
    try:
        sys.modules[name] = module      # dataclasses and pickling inside the user's code look it up
        spec.loader.exec_module(module)
        make = getattr(module, factory, None)
        if not callable(make):
            # the functions it does define (its own, not those it imported), one of which module:PATH:NAME names
            own = sorted(n for n, f in vars(module).items() if inspect.isfunction(f) and not n.startswith("_")
                         and getattr(f, "__module__", None) == name)
            raise ConfigError(f"has no function {factory!r} (module:PATH:NAME names another)", source=path,
                              key="model", choices=own or None,
                              allowed=None if own else "a file that defines a function building the model")
        made = make()
    except ConfigError:
        raise
    except SystemExit as exc:   # sys.exit() in the user's module would end simtrain with its status, silently
        raise ConfigError(f"the module called sys.exit({exc.code!r}) while simtrain imported it and ran {factory}()",
                          source=path, key="model") from None
    except Exception as exc:   # the user's code failed: say where, in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(f"running {factory}() failed: {type(exc).__name__}: {first}"[:400], source=path,
                          key="model") from None
    finally:
        sys.modules.pop(name, None)
        if folder in sys.path:
            sys.path.remove(folder)
        _forget_helpers(before, Path(path).parent)
    if isinstance(made, Mapping):
        if "module" not in made or "example_input" not in made:
            raise ConfigError(f"{factory}() must return keys 'module' and 'example_input'", source=path, key="model")
        parts = (made["module"], made["example_input"], made.get("batch_dim", 0), made.get("name"))
    elif isinstance(made, tuple) and len(made) in (2, 3):
        parts = (made[0], made[1], made[2] if len(made) == 3 else 0, None)
    else:
        raise ConfigError(f"{factory}() must return (module, example_input[, batch_dim]) or a mapping",
                          source=path, key="model", value=type(made).__name__)
    return from_torch(parts[0], parts[1], batch_dim=parts[2], name=parts[3] or Path(path).stem, source=path)


def _forget_helpers(before: set[str], folder: Path) -> None:
    """Drop the modules imported from ``folder`` since ``before`` (the user's helpers): the next load, after an
    edit, imports them again instead of Python's copy of the old ones."""
    root = folder.resolve()
    for module_name in set(sys.modules) - before:
        origin = getattr(sys.modules.get(module_name), "__file__", None)
        if origin is not None and root in Path(origin).resolve().parents:   # the folder's files and packages
            sys.modules.pop(module_name, None)
