"""Shared check of the search tests: a ConfigError in babysit.validation's format, naming its parameter."""

from __future__ import annotations

import contextlib

import pytest

from babysit.errors import ConfigError


@pytest.fixture
def config_error():
    """``with config_error(owner, parameter[, match]):`` expects the ConfigError of that parameter of that owner."""

    @contextlib.contextmanager
    def expect(owner: str, parameter: str, match: str | None = None):
        with pytest.raises(ConfigError, match=match) as err:
            yield err
        assert (err.value.owner, err.value.parameter) == (owner, parameter), str(err.value)
        assert str(err.value).startswith(f"The '{parameter}' parameter of {owner} must be "), str(err.value)
        assert str(err.value).endswith(f"Got {err.value.got} instead.") and "\n" not in str(err.value)
        assert "--" not in str(err.value)  # library messages never name a CLI flag

    return expect
