"""Fashion-MNIST from its IDX files (gzipped or raw): real images nobody here made.

The Debian package ``dataset-fashion-mnist`` installs the four files into
``/usr/share/datasets/fashion-mnist/`` (``apt-get install dataset-fashion-mnist``); any folder holding
``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` works too, or set ``$FASHION_MNIST_ROOT``.

IDX format (LeCun's MNIST page): a 4-byte magic ``0x00 0x00 <type> <ndim>``, then ``ndim``
big-endian uint32 sizes, then the data in C order.  Fashion-MNIST uses type 0x08 (uint8):
magic 2051 for images [N, 28, 28] and 2049 for labels [N].
"""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch

from mae_hlvm.data.errors import DataError

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
SPLITS = {"train": ("train", 60000), "test": ("t10k", 10000)}
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_HOW_TO_GET = ("install the Debian package (apt-get install dataset-fashion-mnist, which fills "
               f"{DEFAULT_ROOT}) or pass root= a folder holding the 4 IDX files "
               "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
               "t10k-labels-idx1-ubyte (each optionally .gz)")


def _read_bytes(path: Path) -> bytes:
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read()
        except (EOFError, OSError, gzip.BadGzipFile) as err:
            raise DataError(f"{path}: cannot decompress ({err}); the file is truncated or not gzip") from None
    return path.read_bytes()


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Read one IDX file (raw or .gz) into an array of its declared type and shape.

    Raises ValueError naming the file for a wrong magic number (expected vs found) or a data length
    that does not match the header (truncated or padded file).
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes, too short for an IDX header (4-byte magic expected)")
    magic = struct.unpack(">I", raw[:4])[0]
    if expected_magic is not None and magic != expected_magic:
        raise DataError(f"{path}: IDX magic number {magic} (0x{magic:08x}), expected {expected_magic} (0x{expected_magic:08x})")
    zero, code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or code not in _IDX_TYPES or ndim == 0:
        raise DataError(f"{path}: bytes {raw[:4].hex()} are not an IDX magic number (0000 <type in "
                         f"{sorted(hex(k) for k in _IDX_TYPES)}> <ndim >= 1>)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header, {len(raw)} bytes, expected at least {header} for {ndim} dimensions")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        raise DataError(f"{path}: {found} data bytes after the header, expected {expected} for shape {shape} "
                         f"of {dtype} ({'truncated' if found < expected else 'trailing bytes'})")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"Fashion-MNIST file {stem}[.gz] not found in {root}; {_HOW_TO_GET}")


def fashion_mnist_root(root: str | Path | None = None) -> Path:
    """The folder to read: ``root``, else ``$FASHION_MNIST_ROOT``, else the Debian package's folder."""
    path = Path(root if root is not None else os.environ.get("FASHION_MNIST_ROOT", DEFAULT_ROOT))
    if not path.is_dir():
        raise FileNotFoundError(f"Fashion-MNIST folder {path} does not exist; {_HOW_TO_GET}")
    return path


def load_fashion_mnist(split: str = "train", root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 [N, 28, 28] and labels int64 [N] of split "train" (60,000) or "test" (10,000).

    Checks magic numbers, shapes (28 x 28), that image and label counts agree and labels lie in 0..9.
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    folder = fashion_mnist_root(root)
    prefix, _ = SPLITS[split]
    img_path = _find(folder, f"{prefix}-images-idx3-ubyte")
    lab_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
    images = read_idx(img_path, expected_magic=2051)
    labels = read_idx(lab_path, expected_magic=2049)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{img_path}: images of shape {images.shape[1:]}, expected (28, 28)")
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{img_path} holds {images.shape[0]} images but {lab_path} holds {labels.shape[0]} labels")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DataError(f"{lab_path}: label {int(labels.max())} found, expected labels in 0..{len(CLASS_NAMES) - 1}")
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))  # read_idx returns writable copies
