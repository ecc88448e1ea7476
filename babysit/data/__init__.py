"""babysit.data: data sources, deterministic splits and the lecture's preprocessing.

``prepare(source, preprocess, seed)`` is the one data path of every command and trial: it
reads ``digits`` (embedded), ``cifar10:DIR``, ``folder:PATH`` or ``npz:PATH`` into a
:class:`Dataset` (``load_source``), fits a :class:`Preprocessor` on its training split and
applies it to every split.
"""

from babysit.data.arrays import check_features, check_labels, read_npz_arrays
from babysit.data.cache import default_cache_dir
from babysit.data.cifar10 import CIFAR10_CLASS_NAMES, read_cifar10
from babysit.data.dataset import Dataset, match_classes
from babysit.data.digits import DIGITS_CLASS_NAMES, read_digits
from babysit.data.image_folder import FolderLoadInfo, read_image_folder
from babysit.data.preprocessing import KINDS as PREPROCESSING_KINDS
from babysit.data.preprocessing import Preprocessor
from babysit.data.prepare import prepare
from babysit.data.safe_pickle import safe_unpickle, safe_unpickle_file
from babysit.data.sources import SOURCES, load_source, parse_source
from babysit.data.splits import split_size, stratified_split

__all__ = [
    "CIFAR10_CLASS_NAMES",
    "DIGITS_CLASS_NAMES",
    "PREPROCESSING_KINDS",
    "SOURCES",
    "Dataset",
    "FolderLoadInfo",
    "Preprocessor",
    "check_features",
    "check_labels",
    "default_cache_dir",
    "load_source",
    "prepare",
    "match_classes",
    "parse_source",
    "read_cifar10",
    "read_digits",
    "read_image_folder",
    "read_npz_arrays",
    "safe_unpickle",
    "safe_unpickle_file",
    "split_size",
    "stratified_split",
]
