"""Finetuning a pretrained model on new classes: the lecture's transfer learning, as a recipe.

    spec = FinetuneSpec(strategy="top:2", lr_mult=0.1, freeze_epochs=1)
    result = finetune_model("zoo/entry", TrainConfig(data="folder:photos", lr=1e-3, epochs=5), spec, out="runs/ft")

The pretrained checkpoint's body is kept, its classifier replaced by one for the new classes
(rows of classes the two share, matched by name, are carried over), and the model trained with
``train_model`` (the one training loop) on the new data, preprocessed with the checkpoint's own
fitted preprocessing. Strategies (block = the layers numbered k: W{k}, b{k}, gamma{k}, ...):
``head`` trains only the classifier (the CNN as a fixed feature extractor), ``top:K`` the top K
blocks (the classifier is one of them: ``top:1`` is ``head``), ``all`` every block, and
``scratch`` the same architecture from a fresh init (the baseline of the same budget).
Pretrained blocks that train use ``lr * lr_mult`` (fastai's discriminative rates); frozen
blocks get no update and no gradient work below the lowest trainable block, and their BatchNorm
layers stay in eval mode unless ``train_bn``. ``freeze_epochs``: fastai's first phase, that many
of the ``epochs`` with only the classifier training, then the strategy's blocks unfrozen.

With ``out``, the training state (``babysit.train.training_state``: weights, the update rule's
state, the minibatch RNG, histories) is saved in ``out/training_state.safetensors`` every epoch;
``resume=True`` (``babysit finetune --resume``) continues a killed finetuning from its last
complete epoch and ends with the weights an unkilled run would have had.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from babysit.errors import CheckpointError, ConfigError, DataError
from babysit.train.callbacks import Callback
from babysit.train.recipe import CHECKPOINT_NAME, TrainConfig, TrainResult, train_model
from babysit.train.training_state import SaveTrainingState
from babysit.validation import NON_NEGATIVE, POSITIVE, check_float, check_int

STRATEGY_SYNTAX = "head | top:K | all | scratch"
STATE_NAME = "training_state.safetensors"  # in --out: the finetuning in progress, saved every epoch


def parse_strategy(strategy: str) -> tuple[str, int | None]:
    """``'head'`` -> ('head', None), ``'top:2'`` -> ('top', 2); ConfigError otherwise."""
    kind, sep, k = str(strategy).strip().partition(":")
    if kind in ("head", "all", "scratch") and not sep:
        return kind, None
    if kind == "top" and k.isdigit() and int(k) >= 1:
        return kind, int(k)
    raise ConfigError(f"strategy must be {STRATEGY_SYNTAX} (K >= 1 blocks from the top); got {strategy!r}",
                      parameter="strategy")


@dataclass(frozen=True)
class FinetuneSpec:
    """How to finetune: strategy, lr_mult (pretrained blocks' rate factor), freeze_epochs, train_bn."""

    strategy: str = "head"
    lr_mult: float = 1.0
    freeze_epochs: int = 0
    train_bn: bool = False

    def __post_init__(self):
        parse_strategy(self.strategy)
        check_float("FinetuneSpec", "lr_mult", self.lr_mult, POSITIVE)
        check_int("FinetuneSpec", "freeze_epochs", self.freeze_epochs, NON_NEGATIVE)
        if self.freeze_epochs and parse_strategy(self.strategy)[0] in ("head", "scratch"):
            raise ConfigError(f"freeze_epochs trains the classifier first, then unfreezes the strategy's blocks; "
                              f"strategy {self.strategy!r} unfreezes nothing (use top:K or all)",
                              parameter="freeze_epochs")

    def trainable_blocks(self, blocks: list[int]) -> list[int]:
        """The blocks this strategy trains, of a model with ``blocks`` (bottom to top)."""
        kind, k = parse_strategy(self.strategy)
        if kind == "head":
            return blocks[-1:]
        if kind == "top":
            if k > len(blocks):
                raise ConfigError(f"strategy top:{k} asks for {k} blocks, but the model has {len(blocks)} "
                                  f"(blocks {blocks}; the last is the classifier): use top:1..{len(blocks)} or all",
                                  parameter="strategy")
            return blocks[-k:]
        return list(blocks)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Unfreeze(Callback):
    """fastai's second phase: at the start of epoch ``at`` (0-based), unfreeze ``blocks`` of the model."""

    def __init__(self, at: int, blocks: list[int], train_bn: bool, say: Callable[[str], None] | None = None):
        self.at, self.blocks, self.train_bn, self.say = at, list(blocks), train_bn, say

    def on_epoch_begin(self, solver):
        if solver.epoch == self.at:
            model = solver.model
            model.unfreeze()
            frozen = [b for b in model.blocks if b not in self.blocks]
            if frozen:
                model.freeze(frozen, train_bn=self.train_bn)
            if self.say:
                self.say(f"epoch {self.at + 1}: unfrozen blocks {self.blocks}")


def model_spec_of(architecture: dict) -> str:
    """The ``--model`` spec of a saved architecture (``conv:16,32/64``, ``fc:100``)."""
    hidden = ",".join(map(str, architecture.get("hidden_dims") or []))
    if architecture.get("type") == "ConvNet":
        return f"conv:{','.join(map(str, architecture['conv_channels']))}" + (f"/{hidden}" if hidden else "")
    return f"fc:{hidden}" if hidden else "fc"


def expected_raw_shape(model, preprocessor) -> tuple[int, ...]:
    """The shape of one example before preprocessing that the checkpoint takes."""
    if preprocessor is not None and preprocessor.fitted:
        return tuple(preprocessor.input_shape_)
    return tuple(model.input_shape)


def source_for_model(source: str, model, preprocessor, *, base: str,
                     say: Callable[[str], None] | None = None) -> str:
    """``source`` as loaded for ``model``: ``folder:`` images at the model's input size (resized and
    centre-cropped where they differ) unless the source says ``image_size``; said through ``say``.
    (Array sources at another image size are resized after loading, by ``load_for_model``.)"""
    from babysit.data import parse_source
    from babysit.data.source_options import split_options, with_options

    expected = expected_raw_shape(model, preprocessor)
    scheme, _ = parse_source(source)
    if scheme == "folder" and len(expected) == 3 and "image_size" not in split_options(source)[1]:
        source = with_options(source, image_size=f"{expected[1]}x{expected[2]}")
        if say:
            say(f"loading the images of {source.partition('?')[0]} at {expected[1]}x{expected[2]}, the input size "
                f"of {base} (resized and centre-cropped where they differ; give image_size to choose)")
    return source


def load_for_model(source: str, model, preprocessor, *, seed: int, base: str, trained_on: str | None,
                   say: Callable[[str], None] | None = None, class_names: list[str] | None = None):
    """The raw Dataset of ``source`` in the shape ``model`` takes (``source_for_model``; images of array sources
    with the model's channels but another size resized as ``?image_size`` would) and that source;
    DataError when the examples still do not fit. With ``class_names`` (the model's), the data's
    classes are matched to them by name first (``data.match_classes``)."""
    from babysit.data import load_source, match_classes

    expected = expected_raw_shape(model, preprocessor)
    source = source_for_model(source, model, preprocessor, base=base, say=say)
    # in the model's class order before the split: the same rows as the run that trained it, however the classes are listed
    raw = load_source(source, seed=seed, class_order=class_names)
    shape = tuple(raw.input_shape)
    from babysit.data.source_options import split_options

    if (len(expected) == 3 and len(shape) == 3 and shape[0] == expected[0] and shape != expected
            and "image_size" not in split_options(source)[1]):
        # array sources (cifar10:, npz:, digits) at another image size: resized as ?image_size would
        from babysit.data.decode import resize_image_array
        from babysit.data.source_options import with_options

        size = f"{expected[1]}x{expected[2]}"
        if say:
            say(f"resizing the {shape[1]}x{shape[2]} images of {source} to {size}, the input size of {base} "
                "(centre-cropped where the aspect differs; give image_size to choose)")
        source = with_options(source, image_size=size)
        raw = dataclasses.replace(raw, **{f"X_{split}": resize_image_array(getattr(raw, f"X_{split}"), expected[1:],
                                                                           where=source)
                                          for split in ("train", "val", "test")}, source=source)
        shape = tuple(raw.input_shape)
    if class_names is not None:
        raw = match_classes(class_names, raw)
    if shape != expected and not (len(expected) == 1 and math.prod(shape) == expected[0]):
        raise DataError(f"{source}: examples have shape {shape}, but the checkpoint {base} was trained on examples of "
                        f"shape {expected} (source {trained_on!r}); give data of that shape"
                        + (" (images are resized with ?image_size=HxW; their channels must match)" if len(expected) == 3 else ""))
    return raw, source


def finetune_data(base, source: str, seed: int, *, base_name: str | None = None,
                  say: Callable[[str], None] | None = None):
    """``(dataset, preprocessor)`` of ``source`` for finetuning the checkpoint ``base``: loaded at its input
    size (``load_for_model``), preprocessed with its own fitted preprocessing (what a search caches per process)."""
    from babysit.data.prepare import preprocessed
    from babysit.train.checkpoint import load_checkpoint

    pretrained, meta = load_checkpoint(base)
    preprocessor = meta["preprocessor"]
    raw, _ = load_for_model(source, pretrained, preprocessor, seed=seed, base=base_name or str(base),
                            trained_on=(meta.get("train_config") or {}).get("data"), say=say)
    return (preprocessed(raw, preprocessor) if preprocessor is not None else raw), preprocessor


def with_new_head(model, class_names: list[str], new_names: list[str], *, reg: float, seed: int, fresh: bool):
    """A model of ``model``'s architecture for ``new_names``: the body's weights and BatchNorm statistics copied
    (unless ``fresh``), the classifier new, its columns for classes both share (by name) copied."""
    from babysit.nn import build_model
    from babysit.train.checkpoint import model_buffers

    arch = {**model.config(), "num_classes": len(new_names), "reg": float(reg), "seed": seed}
    new = build_model(arch)
    if fresh:
        return new, []
    top = new.blocks[-1]
    for name, value in model.params.items():
        if new.block_of(name) != top:
            np.copyto(new.params[name], value)
    for key, value in model_buffers(model).items():
        np.copyto(model_buffers(new)[key], value)
    shared = [(j, class_names.index(c)) for j, c in enumerate(new_names) if c in class_names]
    W, b = f"W{top}", f"b{top}"
    for j, i in shared:
        new.params[W][:, j] = model.params[W][:, i]
        new.params[b][j] = model.params[b][i]
    return new, [new_names[j] for j, _ in shared]


def finetune_model(base, config: TrainConfig, spec: FinetuneSpec | None = None, out=None, *,
                   base_name: str | None = None, callbacks=(), verbose: bool = True,
                   say: Callable[[str], None] | None = None, fresh: bool = False, resume: bool = False,
                   data=None, resume_state=None) -> TrainResult:
    """Finetune the checkpoint ``base`` on ``config.data`` as ``config``'s finetune fields say; train_model's result.

    ``config`` gives the data, seed, update rule, lr, reg, epochs (in all, ``freeze_epochs`` of
    them classifier-only), batch size and the finetune settings (strategy, lr_mult,
    freeze_epochs, train_bn); its model is the checkpoint's. ``spec``, when given, sets those
    settings instead. ``base_name`` is how the base is named in records (a zoo name), default
    ``config.finetune_from`` or the path. With ``out``, the training state is saved there every epoch
    (``STATE_NAME``): ``resume`` continues a killed finetuning from its last complete epoch with the
    update rule's state (the same result as a run never killed), ``fresh`` starts over; an ``out``
    holding a finetuning is refused without one of the two. ``data``: the
    ``finetune_data`` of this base and source, when the caller has it already (a search trial).
    ``resume_state``: a training state of this finetuning to continue (a search rung's; without ``out``).
    """
    from babysit.train.checkpoint import checkpoint_paths, load_checkpoint

    base_name = base_name or config.finetune_from or str(base)
    if spec is not None or config.finetune_from is None:
        spec = spec or FinetuneSpec()
        config = dataclasses.replace(config, finetune_from=config.finetune_from or base_name, **spec.to_dict())
    spec = config.finetune_spec()
    pretrained, meta = load_checkpoint(base)
    preprocessor = meta["preprocessor"]
    trained_on = (meta.get("train_config") or {}).get("data")
    if data is None:
        raw, source = load_for_model(config.data, pretrained, preprocessor, seed=config.seed, base=base_name,
                                     trained_on=trained_on, say=say)
        from babysit.data.prepare import preprocessed

        dataset = preprocessed(raw, preprocessor) if preprocessor is not None else raw
    else:
        dataset = data[0]
        source = getattr(dataset, "source", None) or source_for_model(config.data, pretrained, preprocessor,
                                                                      base=base_name)
    kind, _ = parse_strategy(spec.strategy)
    model, shared = with_new_head(pretrained, list(meta["class_names"]), list(dataset.class_names), reg=config.reg,
                                  seed=config.init_seed, fresh=kind == "scratch")
    trainable = spec.trainable_blocks(model.blocks)  # checks top:K against the model
    config = dataclasses.replace(config, data=source, model=model_spec_of(model.config()),
                                 preprocess=(meta.get("preprocessing") or {}).get("kind", "none"))
    info = {"base_model": base_name, "base_data": trained_on, **spec.to_dict(), "shared_classes": shared}

    done = 0
    if resume_state is not None:
        from babysit.train.training_state import training_state_info

        done = int(training_state_info(resume_state)["epoch"])
    elif out is not None:
        done, resume_state = _resume_point(Path(out), config, info, resume=resume, fresh=fresh)
        if resume_state is not None and say:
            say(f"resuming the finetuning in {out} after {done} of {config.epochs} epochs (its training state: "
                "weights, the update rule's state, the minibatch order)")
    top = model.blocks[-1]
    # a state saved at the end of the head-only phase was saved frozen: it resumes frozen, Unfreeze then fires
    first_phase = 0 < spec.freeze_epochs and done <= spec.freeze_epochs
    frozen = [b for b in model.blocks if b not in ([top] if first_phase else trainable)]
    model.unfreeze()
    if frozen:
        model.freeze(frozen, train_bn=spec.train_bn)
    callbacks = list(callbacks)
    if first_phase:
        callbacks.append(Unfreeze(spec.freeze_epochs, trainable, spec.train_bn, say))
    if out is not None:
        callbacks.append(SaveTrainingState(Path(out) / STATE_NAME))
    lr_mults = {name: spec.lr_mult for name in model.params
                if model.block_of(name) != top and kind != "scratch" and spec.lr_mult != 1.0}
    return train_model(config, out, data=(dataset, preprocessor), callbacks=callbacks, verbose=verbose,
                       checkpoint_info={"finetune": {**info, "settings": _settings(config)}},
                       model=model, lr_mults=lr_mults, resume_state=resume_state)


def _settings(config: TrainConfig) -> dict:
    """What must match for a resume: the finetuning's TrainConfig."""
    return {k: v for k, v in config.to_dict().items()}


def _resume_point(out: Path, config: TrainConfig, info: dict, *, resume: bool, fresh: bool):
    """(epochs done, training state to resume from or None) for a finetuning into ``out``.

    ``out`` holding a finetuning already: ``resume`` continues it (CheckpointError when its settings differ or
    it has run all its epochs), ``fresh`` starts over (its old training state removed first, so a later
    resume cannot pick it up), neither is refused: nothing is overwritten unasked.
    """
    from babysit.train.checkpoint import checkpoint_meta, checkpoint_paths
    from babysit.train.training_state import training_state_info

    weights = checkpoint_paths(out / CHECKPOINT_NAME)[0]
    state = out / STATE_NAME
    if fresh:
        state.unlink(missing_ok=True)
        return 0, None
    if not (state.is_file() or weights.is_file()):
        if resume:
            raise CheckpointError(f"nothing to resume: {out} holds no finetuning (no {STATE_NAME}); leave --resume out "
                                  "to start one")
        return 0, None
    if not resume:
        raise CheckpointError(f"{out} holds a finetuning already: --resume to continue it, --fresh to start over "
                              "(overwriting it), or another --out")
    if weights.is_file():
        previous = (checkpoint_meta(weights).get("train_config") or {}).get("finetune")
        if not isinstance(previous, dict):
            raise CheckpointError(f"{weights} is not a finetuning checkpoint; use another --out, or --fresh to "
                                  "overwrite it")
        mismatched = sorted(k for k in ("base_model", "strategy", "lr_mult", "freeze_epochs", "train_bn")
                            if previous.get(k) != info.get(k))
        mismatched += sorted(k for k, v in _settings(config).items()
                             if k not in mismatched and (previous.get("settings") or {}).get(k) != v)
        if mismatched:
            raise CheckpointError(f"{weights} holds a finetuning with other settings ({', '.join(mismatched)} "
                                  "differ); use another --out, or --fresh to start over")
    if not state.is_file():
        raise CheckpointError(f"{out} holds a finetuning checkpoint but no training state ({STATE_NAME}) to resume "
                              "from; --fresh to start over")
    done = int(training_state_info(state)["epoch"])
    if done >= config.epochs:
        raise CheckpointError(f"{out} holds a finetuning that has run all {config.epochs} epochs already; "
                              "use another --out, or --fresh to start over")
    return done, state
