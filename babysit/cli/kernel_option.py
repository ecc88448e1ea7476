"""``--kernels``: the option of the commands that train, choosing the kernels of the memory-bound passes."""

from __future__ import annotations

from babysit.nn.kernels import ENV, KERNELS, use_kernels


def add_kernels_argument(parser) -> None:
    """``--kernels numpy|numba`` on a command that trains (default: ``$BABYSIT_KERNELS``, else numpy)."""
    parser.add_argument("--kernels", choices=KERNELS, default=None,
                        help="the kernels of the fused conv -> ReLU -> pool and of the update rules: numpy (the "
                             "default) or numba (faster, the same results; pip install 'babysit[numba]'); the "
                             f"search's worker processes use the same (default: ${ENV}, else numpy)")


def apply_kernels(args) -> None:
    """Use the kernels ``--kernels`` names, in this process and the workers it starts; ConfigError (one line,
    exit 2) where numba is asked for and not installed. Nothing when the command has no such option or it is
    not given."""
    name = getattr(args, "kernels", None)
    if name is not None:
        use_kernels(name)
