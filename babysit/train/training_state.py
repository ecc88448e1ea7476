"""Resumable training state: everything a Solver needs to go on exactly where it stopped.

A checkpoint (``train.checkpoint``) is a *model*: the best epoch's weights, for evaluation and the
zoo. A training state is a *run in progress*: ``save_training_state('state.safetensors', solver)``
writes, in one safetensors file (atomically, no pickle),

- the model's current parameters (``param.NAME``) and BatchNorm running statistics (``buffer.NAME``),
- the update rule's per-parameter state (``optim.NAME.BUFFER``: momentum's velocity, Adam's moments),
- the best epoch's parameters (``best.NAME``),

and in its header, as JSON: epochs and iterations done, the update rule's step count, the
histories (loss, lr, train and val accuracy per epoch), the best epoch and its accuracy, the
minibatch RNG's and every dropout layer's RNG state, the seconds trained so far, and a
*fingerprint* of the training (architecture, parameter shapes, update rule and its settings,
learning-rate multipliers, schedule, batch size, epochs, training rows).

``restore_training_state(path, solver)`` loads it into a Solver built the same way (the same
recipe: ``make_solver``); ``solver.train()`` then runs the remaining epochs and gives the
bit-identical result of a run that was never interrupted. A state whose fingerprint differs from
the Solver's (another model, update rule, epochs or data) is refused with a CheckpointError naming
what differs, and so is a missing, truncated or foreign file.

``SaveTrainingState(path, at_epochs=None)`` is the callback: it saves at the end of the listed
epochs (or of every epoch), so that a killed run resumes from its last complete epoch and a search
rung hands its trials on. Callbacks' own state is not part of it: a resumed run's callbacks start
afresh (the explosion guard takes its reference loss from the restored history; a training
monitor records from the resume on).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from babysit.errors import CheckpointError
from babysit.fileio import atomic_path, dumps
from babysit.train.callbacks import Callback
from babysit.train.checkpoint import model_buffers
from babysit.validation import AT_LEAST_ONE, NON_NEGATIVE, check_float, check_int

FORMAT = "babysit-training-state"
FORMAT_VERSION = 1
STATE_KEY = "babysit_training_state"  # the safetensors header entry holding the JSON part


def save_training_state(path, solver) -> Path:
    """Write ``solver``'s training state to ``path`` (a ``.safetensors`` file) atomically; returns the path."""
    from safetensors.numpy import save_file

    path = Path(path)
    model, optimizer = solver.model, solver.optimizer
    tensors = {f"param.{k}": v for k, v in model.params.items()}
    tensors.update({f"buffer.{k}": v for k, v in model_buffers(model).items()})
    for key, state in optimizer.state.items():
        tensors.update({f"optim.{key}.{b}": state[b] for b in optimizer.buffers})
    if solver.best_params is not None:
        tensors.update({f"best.{k}": v for k, v in solver.best_params.items()})
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "fingerprint": fingerprint(solver),
        "epoch": solver.epoch, "iteration": solver.iteration, "optimizer_steps": optimizer.t,
        "loss": solver.loss if math.isfinite(solver.loss) else None, "seconds": float(solver.elapsed()),
        "loss_history": solver.loss_history, "lr_history": solver.lr_history,
        "train_acc_history": solver.train_acc_history, "val_acc_history": solver.val_acc_history,
        "best_val_acc": solver.best_val_acc, "best_epoch": solver.best_epoch,
        "rng": solver.rng.bit_generator.state, "layer_rngs": [g.bit_generator.state for g in _layer_rngs(model)],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp),
                      metadata={"format": FORMAT, STATE_KEY: dumps(header)})
    except Exception as exc:  # OSError, or safetensors' own error for a failed write (a full disk)
        raise CheckpointError(f"cannot write the training state {path}: {exc}; the state there before (if any) "
                              "is unchanged") from None
    return path


def training_state_info(path) -> dict:
    """The JSON part of the state at ``path`` (epoch, iteration, fingerprint, histories, ...), tensors unread."""
    from safetensors import safe_open

    path = _existing(path)
    try:
        with safe_open(str(path), framework="np") as f:
            return _header(path, f.metadata() or {})
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors raises its own error types for truncated/garbled files
        raise CheckpointError(f"{path}: not a readable training state ({type(exc).__name__}: {exc})") from None


def restore_training_state(path, solver) -> dict:
    """Load the state at ``path`` into ``solver`` (built like the one that saved it); returns its header.

    Nothing in the Solver changes when the state is refused (checked whole before anything is copied).
    """
    from safetensors import safe_open

    path = _existing(path)
    try:
        with safe_open(str(path), framework="np") as f:
            header = _header(path, f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable training state ({type(exc).__name__}: {exc})") from None
    mine = fingerprint(solver)
    differing = sorted(k for k in mine.keys() | header["fingerprint"].keys() if mine.get(k) != header["fingerprint"].get(k))
    if differing:
        shown = "; ".join(f"{k}: {header['fingerprint'].get(k)!r} there, {mine.get(k)!r} here" for k in differing[:3])
        raise CheckpointError(f"{path} is the state of another training ({shown}); start afresh or give the "
                              "settings it was saved with")
    model, optimizer = solver.model, solver.optimizer
    targets = {f"param.{k}": v for k, v in model.params.items()}
    targets.update({f"buffer.{k}": v for k, v in model_buffers(model).items()})
    missing = sorted(set(targets) - set(tensors))
    if missing:
        raise CheckpointError(f"{path}: the training state lacks {', '.join(missing[:4])}")
    layer_rngs = _layer_rngs(model)
    if len(layer_rngs) != len(header["layer_rngs"]):
        raise CheckpointError(f"{path}: the state holds {len(header['layer_rngs'])} layer RNGs, the model has "
                              f"{len(layer_rngs)}")
    for name, target in targets.items():
        np.copyto(target, tensors[name])  # in place: the layers hold these arrays
    optimizer.state = {}
    for key, p in model.params.items():
        if any(f"optim.{key}.{b}" in tensors for b in optimizer.buffers):
            state = optimizer._state(key, p)
            for b in optimizer.buffers:
                np.copyto(state[b], tensors[f"optim.{key}.{b}"])
    optimizer.t = int(header["optimizer_steps"])
    best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
    solver.best_params = {k: np.array(best[k], dtype=v.dtype) for k, v in model.params.items()} if best else None
    solver.epoch, solver.iteration = int(header["epoch"]), int(header["iteration"])
    solver.loss = math.nan if header["loss"] is None else float(header["loss"])
    solver.loss_history = [math.nan if v is None else float(v) for v in header["loss_history"]]
    solver.lr_history = [float(v) for v in header["lr_history"]]
    solver.train_acc_history = [float(v) for v in header["train_acc_history"]]
    solver.val_acc_history = [float(v) for v in header["val_acc_history"]]
    solver.best_val_acc, solver.best_epoch = float(header["best_val_acc"]), header["best_epoch"]
    solver.seconds = float(header["seconds"])
    solver.resumed_from = {"path": str(path), "epoch": solver.epoch, "iteration": solver.iteration}
    solver.rng.bit_generator.state = header["rng"]
    for generator, state in zip(layer_rngs, header["layer_rngs"]):
        generator.bit_generator.state = state
    solver.lr = solver.schedule.lr_at(solver.epoch, solver.iteration)
    return header


def fingerprint(solver) -> dict:
    """What a training state must agree on with the Solver it is loaded into (JSON values)."""
    model, optimizer = solver.model, solver.optimizer
    config = getattr(model, "config", None)
    return json.loads(dumps({
        "architecture": config() if callable(config) else type(model).__name__,
        "params": {k: [list(v.shape), v.dtype.name] for k, v in model.params.items()},
        "update_rule": type(optimizer).__name__, "optim_config": optimizer.config,
        "lr_mults": optimizer.lr_mults, "schedule": repr(solver.schedule), "batch_size": solver.batch_size,
        "num_epochs": solver.num_epochs, "train_rows": len(solver.X_train),
        "trainable": sorted(solver._trainable_params()),
    }))


class SaveTrainingState(Callback):
    """Saves the training state to ``path`` at the end of the epochs in ``at_epochs`` (1-based counts of
    epochs completed; None: every epoch), but only once ``every_seconds`` have passed since the run began
    or was last saved (0: at each of them; a save of a CIFAR-10 fc:50 state costs ~9 ms, a whole digits
    epoch about as much). ``saved_epoch`` is the last epoch saved (None before). ``required=False``: a save
    that fails (a full disk) is kept in ``error`` and the run goes on (a search's states only save time).
    ``clock``: for tests."""

    def __init__(self, path, at_epochs=None, every_seconds: float = 0.0, required: bool = True,
                 clock=time.monotonic):
        self.path = Path(path)
        self.at_epochs = None if at_epochs is None else {check_int("SaveTrainingState", "epoch", e, AT_LEAST_ONE)
                                                          for e in at_epochs}
        self.every_seconds = check_float("SaveTrainingState", "every_seconds", every_seconds, NON_NEGATIVE)
        self.clock, self.required = clock, bool(required)
        self.saved_epoch = self.error = None
        self._last = None

    def on_train_begin(self, solver):
        self._last = self.clock()

    def on_epoch_end(self, solver):
        due = self._last is None or self.clock() - self._last >= self.every_seconds
        if (self.at_epochs is None or solver.epoch in self.at_epochs) and due:
            try:
                save_training_state(self.path, solver)
            except CheckpointError as exc:
                if self.required:
                    raise
                self.error = str(exc)
                return
            self.saved_epoch, self._last = solver.epoch, self.clock()


def _layer_rngs(model) -> list[np.random.Generator]:
    """The random generators the model's layers draw from (dropout masks), in layer order, each once."""
    found: list[np.random.Generator] = []
    for layer in getattr(model, "layers", None) or ():
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator) and all(rng is not g for g in found):
            found.append(rng)
    return found


def _existing(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"training state {path} not found; it is written by SaveTrainingState while a run trains")
    return path


def _header(path: Path, metadata: dict) -> dict:
    if metadata.get("format") != FORMAT or STATE_KEY not in metadata:
        raise CheckpointError(f"{path}: not a babysit training state (no '{FORMAT}' marker in its header)")
    try:
        header = json.loads(metadata[STATE_KEY])
    except ValueError as exc:
        raise CheckpointError(f"{path}: its training state header is not readable JSON ({exc})") from None
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: training state format version {header.get('format_version')!r} is not "
                              f"supported (this babysit reads version {FORMAT_VERSION})")
    return header
