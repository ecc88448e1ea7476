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
    """An option, argument or parameter value is unknown or out of range.

    Raised by ``babysit.validation`` with the parts of its message: ``parameter`` (the
    argument's name in the library), ``owner`` (the class or function), ``expected`` (what
    it must be) and ``got`` (the repr of what came in); all None for a free-form message.
    """

    def __init__(self, message: str, *, parameter: str | None = None, owner: str | None = None,
                 expected: str | None = None, got: str | None = None):
        super().__init__(message)
        self.parameter, self.owner, self.expected, self.got = parameter, owner, expected, got

    def for_flag(self, flag: str) -> str:
        """The message worded for a command-line user: "--epochs must be an int in [1, inf). Got 0 instead."."""
        if self.expected is None:  # a free-form message about the parameter: say which flag it is about
            return f"{flag}: {self}"
        return f"{flag} must be {self.expected}. Got {self.got} instead."


class DataError(BabysitError):
    """A data source is missing, unreadable, corrupted or inconsistent."""


class CheckpointError(BabysitError):
    """A checkpoint is missing, corrupted, or does not fit the model."""


class StoreError(BabysitError):
    """The run store is unreadable or belongs to a different search."""
