"""User-facing error types.

Every error a user can cause (bad shapes, dtypes, labels, files, options) is a
``BabysitError``: the CLI prints its message on one line and exits 2, with no
traceback. Messages name what was wrong, what was expected and what came in.
"""


class BabysitError(Exception):
    """Base class of all errors caused by the user's input or configuration."""


class InputError(BabysitError, ValueError):
    """An array given to a layer, loss or model has the wrong shape, dtype or values."""


class ConfigError(BabysitError, ValueError):
    """An option, argument or parameter value is unknown or out of range."""


class DataError(BabysitError):
    """A data source is missing, unreadable, corrupted or inconsistent."""


class CheckpointError(BabysitError):
    """A checkpoint is missing, corrupted, or does not fit the model."""


class StoreError(BabysitError):
    """The run store is unreadable or belongs to a different search."""
