"""A small trained checkpoint (digits classes 0-4, a conv net with batchnorm) shared by the zoo tests."""

from __future__ import annotations

import pytest

from babysit.train.recipe import TrainConfig, train_model

BASE_CONFIG = TrainConfig(data="digits?classes=0-4", model="conv:4/16", normalization="batchnorm", update="adam",
                          lr=5e-3, epochs=3, batch_size=50)


@pytest.fixture(scope="session")
def base_checkpoint(tmp_path_factory):
    """The folder of a conv:4/16 (batchnorm) trained 3 epochs on digits 0-4: blocks 1 (conv), 2 (affine), 3 (classifier)."""
    out = tmp_path_factory.mktemp("base")
    train_model(BASE_CONFIG, out, verbose=False)
    return out
