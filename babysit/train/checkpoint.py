"""Checkpoints: weights in safetensors plus a JSON sidecar, written atomically.

``save_checkpoint('out/model.safetensors', model, class_names=..., ...)`` writes
``out/model.safetensors`` (parameters by name, BatchNorm running statistics
under ``buffer.``, fitted preprocessing arrays under ``preprocess.``) and
``out/model.json`` (architecture from ``model.config()``, parameter shapes and
dtypes, preprocessing config, class names, training config, metrics, babysit
version). Each file is written with ``babysit.fileio.atomic_path`` (temp file,
fsync, ``os.replace``), so an interrupted save never leaves a half-written file.

The pair cannot be mismatched by a crash: the metadata is also embedded in the
safetensors header (key ``babysit_meta``), so the weights file alone is a whole
checkpoint and ``model.json`` is a copy of its metadata for people and tools.
Loading reads the embedded metadata; a crash between the two renames leaves the
new weights with the previous ``model.json``, and the weights still load as
saved (``checkpoint_meta`` reads the metadata without the tensors). Checkpoints
written before the embedding (format 1 without ``babysit_meta``) load from their
sidecar as before, their ``checkpoint_id`` proving the two files belong together.
No pickle anywhere: the weights load in PyTorch too.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np

from babysit._version import __version__
from babysit.errors import BabysitError, CheckpointError
from babysit.fileio import atomic_path, dumps

FORMAT = "babysit-checkpoint"
FORMAT_VERSION = 1
PREPROCESS_PREFIX = "preprocess."
BUFFER_PREFIX = "buffer."
BN_BUFFERS = ("running_mean", "running_var")


META_KEY = "babysit_meta"  # the safetensors header entry holding the metadata (model.json's content) as JSON
DEFAULT_NAME = "model"  # a folder given as a checkpoint path holds model.safetensors + model.json


def checkpoint_paths(path) -> tuple[Path, Path]:
    """(weights .safetensors, sidecar .json) for a path given with or without the suffix, or a folder
    (its ``model.safetensors``)."""
    path = Path(path)
    if path.is_dir():
        path = path / f"{DEFAULT_NAME}.safetensors"
    weights = path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")
    return weights, weights.with_suffix(".json")


def model_buffers(model) -> dict[str, np.ndarray]:
    """Non-parameter state needed in eval mode: BatchNorm running statistics, named after gamma.

    E.g. the layer owning 'gamma2' contributes 'running_mean2' and 'running_var2'.
    """
    buffers = {}
    owner = getattr(model.params, "owner", None)
    for name in model.params:
        if owner is None or not name.startswith("gamma"):
            continue
        layer, _ = owner(name)
        for attr in BN_BUFFERS:
            if isinstance(getattr(layer, attr, None), np.ndarray):
                buffers[attr + name[len("gamma"):]] = getattr(layer, attr)
    return buffers


def save_checkpoint(path, model, *, preprocessor=None, class_names, train_config=None, metrics=None) -> Path:
    """Write the model's weights and metadata atomically; returns the .safetensors path.

    Inputs: path (``DIR/model.safetensors``); model with ``params`` and ``config()``;
    preprocessor, a fitted babysit.data.Preprocessor or None; class_names in label
    order; train_config and metrics, JSON-able dicts.
    """
    from safetensors.numpy import save_file

    weights, sidecar = checkpoint_paths(path)
    tensors = {name: np.ascontiguousarray(arr) for name, arr in model.params.items()}
    tensors.update({BUFFER_PREFIX + k: np.ascontiguousarray(v) for k, v in model_buffers(model).items()})
    pre_config = None
    if preprocessor is not None:
        pre_config, arrays = preprocessor.state()
        tensors.update({PREPROCESS_PREFIX + k: np.ascontiguousarray(v) for k, v in arrays.items()})
    checkpoint_id = uuid.uuid4().hex
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "checkpoint_id": checkpoint_id,
        "babysit_version": __version__,
        "architecture": model.config(),
        "params": {k: {"shape": list(v.shape), "dtype": v.dtype.name} for k, v in model.params.items()},
        "preprocessing": pre_config,
        "class_names": [str(c) for c in class_names],
        "train_config": train_config or {},
        "metrics": metrics or {},
    }
    text = dumps(meta, indent=2) + "\n"
    # Both temp files are written before either is moved into place (weights first): the weights carry the
    # metadata themselves, so whichever rename a crash stops before, the weights in place load as saved.
    try:
        weights.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(sidecar) as tmp_sidecar, atomic_path(weights) as tmp_weights:
            try:
                save_file(tensors, str(tmp_weights),
                          metadata={"format": FORMAT, "checkpoint_id": checkpoint_id, META_KEY: dumps(meta)})
            except OSError:
                raise
            except Exception as exc:  # safetensors reports a failed write (e.g. a full disk) as its own error
                raise OSError(f"safetensors could not write it ({exc})") from None
            tmp_sidecar.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CheckpointError(
            f"cannot write checkpoint {weights}: {exc.strerror or exc}; the checkpoint there before (if any) is "
            "unchanged; free space or fix the folder, then run again") from None
    return weights


def checkpoint_meta(path) -> dict:
    """The metadata of the checkpoint at ``path`` (what ``model.json`` holds) without loading its tensors:
    the copy embedded in the weights' header, or the sidecar of a checkpoint written before the embedding.
    Raises CheckpointError for a missing or unreadable checkpoint."""
    from safetensors import safe_open

    weights, sidecar = _existing_paths(path)
    try:
        with safe_open(str(weights), framework="np") as f:
            header = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for truncated/garbled files
        raise CheckpointError(f"{weights}: not a readable safetensors file ({type(exc).__name__}: {exc})") from None
    return _meta(weights, sidecar, header)


def load_checkpoint(path):
    """Rebuild the model saved at ``path`` and return ``(model, meta)``.

    meta is the sidecar's dict plus 'preprocessor' (a fitted Preprocessor or None).
    Raises CheckpointError when a file is missing or corrupted, the two files
    come from different saves, or a tensor's name, shape or dtype does not fit
    the architecture.
    """
    from babysit.nn import build_model

    weights, sidecar = _existing_paths(path)
    tensors, header = _read_weights(weights)
    meta = _meta(weights, sidecar, header)
    try:
        model = build_model(meta["architecture"])
    except (BabysitError, KeyError, TypeError, ValueError) as exc:
        where = weights if META_KEY in header else sidecar
        raise CheckpointError(f"{where}: cannot rebuild the architecture: {exc}") from None

    expected = {k: v for k, v in model.params.items()}
    expected.update({BUFFER_PREFIX + k: v for k, v in model_buffers(model).items()})
    found = {k: v for k, v in tensors.items() if not k.startswith(PREPROCESS_PREFIX)}
    arch = meta["architecture"].get("type", "model")
    for name, target in expected.items():
        if name not in found:
            raise CheckpointError(
                f"{weights}: parameter '{name}' of the {arch} architecture is missing; the file has "
                f"{', '.join(sorted(found)) or 'no parameters'}"
            )
        if found[name].shape != target.shape:
            raise CheckpointError(
                f"{weights}: parameter '{name}' has shape {found[name].shape}; the {arch} architecture "
                f"expects {target.shape} (a checkpoint for another architecture?)"
            )
        if found[name].dtype != target.dtype:
            raise CheckpointError(
                f"{weights}: parameter '{name}' has dtype {found[name].dtype}; the {arch} architecture "
                f"expects {target.dtype}"
            )
    extra = sorted(set(found) - set(expected))
    if extra:
        raise CheckpointError(f"{weights}: unexpected parameter(s) {', '.join(extra)} for the {arch} architecture")
    for name, target in expected.items():
        np.copyto(target, found[name])  # in place: the layers hold these arrays

    meta["preprocessor"] = None
    if meta.get("preprocessing") is not None:
        from babysit.data import Preprocessor

        arrays = {k[len(PREPROCESS_PREFIX):]: v for k, v in tensors.items() if k.startswith(PREPROCESS_PREFIX)}
        meta["preprocessor"] = Preprocessor.from_state(meta["preprocessing"], arrays)
    return model, meta


def _existing_paths(path) -> tuple[Path, Path]:
    weights, sidecar = checkpoint_paths(path)
    if not weights.is_file():
        given = Path(path)
        how = (f"{given} is a folder, so its {weights.name} was looked for" if given.is_dir()
               else f"looked for {weights} from the path {given}" if given != weights else "no such file")
        raise CheckpointError(f"checkpoint {weights} not found ({how}); expected the model.safetensors written by "
                              "`babysit train` or `babysit run`, given as that file, without its suffix, or as its folder")
    return weights, sidecar


def _meta(weights: Path, sidecar: Path, header: dict) -> dict:
    """The checkpoint's metadata: embedded in the weights' header, else (older checkpoints) the sidecar's,
    which must then come from the same save as the weights."""
    if META_KEY in header:
        try:
            meta = json.loads(header[META_KEY])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{weights}: its embedded metadata is not readable JSON ({exc})") from None
        meta = _checked_meta(meta, f"{weights} (its header)", "metadata")
        if meta.get("checkpoint_id") != header.get("checkpoint_id"):
            raise CheckpointError(f"{weights}: its embedded metadata names another checkpoint id; save the model again")
        return meta
    meta = _read_sidecar(sidecar)
    if header.get("checkpoint_id") != meta.get("checkpoint_id"):
        raise CheckpointError(
            f"{weights} and {sidecar} come from different saves (checkpoint ids "
            f"{header.get('checkpoint_id')!r} vs {meta.get('checkpoint_id')!r}); save the model again"
        )
    return meta


def _read_sidecar(sidecar: Path) -> dict:
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint metadata {sidecar} not found (it is written beside the .safetensors file)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: JSONDecodeError, a huge integer
        raise CheckpointError(f"{sidecar}: not a readable checkpoint sidecar ({exc})") from None
    except RecursionError:
        raise CheckpointError(f"{sidecar}: not a readable checkpoint sidecar (nested too deeply)") from None
    return _checked_meta(meta, str(sidecar), "sidecar")


def _checked_meta(meta, where: str, what: str) -> dict:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not a babysit checkpoint (expected \"format\": \"{FORMAT}\")")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{where}: checkpoint format version {meta.get('format_version')!r} is not supported "
            f"(this babysit reads version {FORMAT_VERSION})"
        )
    for key in ("architecture", "class_names"):
        if key not in meta:
            raise CheckpointError(f"{where}: the {what} lacks '{key}'")
    if not isinstance(meta["architecture"], dict) or not isinstance(meta["class_names"], list):
        raise CheckpointError(f"{where}: the {what}'s 'architecture' must be an object and 'class_names' a list")
    return meta


def _read_weights(weights: Path) -> tuple[dict[str, np.ndarray], dict]:
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="np") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for truncated/garbled files
        raise CheckpointError(f"{weights}: not a readable safetensors file ({type(exc).__name__}: {exc})") from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{weights}: not a babysit checkpoint (no '{FORMAT}' marker in its header)")
    return tensors, header


def check_replaceable(out, train_config: dict, flag: str = "--fresh") -> None:
    """Refuse to train into ``out`` when it holds the checkpoint of another training (other settings, or one
    that cannot be read): replacing it would leave a folder whose model is not the one its settings say.

    The checkpoint of a training with the same settings (a re-run after a kill, or of a finished run: the
    same seed trains the same model) may be replaced. ``flag`` is what the refusal tells the user to give.
    """
    weights = checkpoint_paths(out)[0]
    if not weights.is_file():
        return
    try:
        theirs = checkpoint_meta(weights).get("train_config") or {}
    except CheckpointError as exc:
        raise CheckpointError(f"{out} holds a checkpoint this babysit cannot read ({exc}); give {flag} to replace "
                              "it or another output folder") from None
    mine = json.loads(dumps(train_config))
    differing = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
    if differing:
        shown = ", ".join(f"{k} {theirs.get(k)!r}" for k in differing[:4])
        raise CheckpointError(f"{out} holds the checkpoint of another training ({shown} there); give {flag} to "
                              "replace it, or another output folder")
