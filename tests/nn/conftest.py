"""Fixtures of the nn tests."""

import pytest

from babysit.nn import parallel
from babysit.nn.models import MODELS, Model


@pytest.fixture(params=["whole", "parts"])
def batch_split(request, monkeypatch):
    """Run a model test twice: on the whole batch, and in 3 batch parts of any size (babysit.nn.parallel)."""
    if request.param == "parts":
        monkeypatch.setattr(parallel, "MIN_PART_SAMPLES", 1)
        for cls in (Model, *MODELS.values()):
            monkeypatch.setattr(cls, "batch_parts", 3)
    return request.param
