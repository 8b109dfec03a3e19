"""Build hook: the wheel carries the top-level catalog folders as package data, ``simtrain/data/<kind>/``.

The repository keeps ``models/``, ``topologies/``, ``devices/``, ``studies/`` and ``profiles/`` at the top level as
the one source of the catalog, with no symlinks (Windows checkouts and ``grep -r`` lose them). ``build_py`` copies
them into the built package, where :func:`simtrain.catalog.catalog_dir` finds them in an installed wheel; a source
or editable checkout reads the top-level folders themselves. ``MANIFEST.in`` puts the folders into the sdist, so a
wheel built from the sdist gets them too. Everything else about the build is in ``pyproject.toml``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CATALOGS = {"models": "*.yaml", "topologies": "*.yaml", "devices": "*.yaml", "studies": "*.yaml", "profiles": "*.json"}


class BuildPyWithCatalogs(build_py):
    """``build_py`` that also copies each catalog folder to ``<build_lib>/simtrain/data/<kind>/``."""

    def _catalog_files(self) -> Iterator[tuple[str, str]]:
        for kind, pattern in CATALOGS.items():
            for source in sorted((ROOT / kind).glob(pattern)):
                yield os.path.join(self.build_lib, "simtrain", "data", kind, source.name), str(source)

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's top-level folders
            return
        for target, source in self._catalog_files():
            self.mkpath(os.path.dirname(target))
            self.copy_file(source, target, preserve_mode=False)

    def get_output_mapping(self) -> dict[str, str]:
        # what a strict editable install links into its package tree
        return {**super().get_output_mapping(), **dict(self._catalog_files())}

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:  # computed from get_output_mapping, which lists the catalog already
            return outputs
        return [*outputs, *(target for target, _ in self._catalog_files())]


setup(cmdclass={"build_py": BuildPyWithCatalogs})
