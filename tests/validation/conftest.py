"""What the probe case modules share: each module's new cases (its ``NEW``), evaluated once per module."""

from __future__ import annotations

from typing import Any

import pytest

from simtrain.validation import CASES
from simtrain.validation.base import evaluate


@pytest.fixture(scope="module")
def rows(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each of the module's ``NEW`` cases by name, evaluated (a module may define its own ``rows`` instead)."""
    return {name: evaluate(CASES.get(name)) for name in request.module.NEW}
