"""babysit.zoo: pretrained models (a local zoo folder plus the models shipped with babysit), their cards,
and PyTorch weight import/export."""

from babysit.zoo.card import CARD_FIELDS, make_card, sha256_file
from babysit.zoo.registry import Zoo, default_zoo_dir, resolve_checkpoint

__all__ = ["CARD_FIELDS", "Zoo", "default_zoo_dir", "make_card", "resolve_checkpoint", "sha256_file"]
