"""Fashion-MNIST IDX reader: files written here byte by byte, the real files when installed."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from mae_hlvm.data.fashion_mnist import DEFAULT_ROOT, load_fashion_mnist, read_idx


def idx_bytes(array: np.ndarray, code: int = 0x08, magic: int | None = None) -> bytes:
    head = struct.pack(">I", magic) if magic is not None else bytes([0, 0, code, array.ndim])
    return head + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path: Path, data: bytes, gz: bool) -> None:
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def make_split(folder: Path, prefix: str, n: int = 6, gz: bool = True, images=None, labels=None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) if images is None else images
    labels = (np.arange(n) % 10).astype(np.uint8) if labels is None else labels
    write(folder / f"{prefix}-images-idx3-ubyte", idx_bytes(images), gz)
    write(folder / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_reads_what_was_written(tmp_path, gz):
    images, labels = make_split(tmp_path, "t10k", gz=gz)
    x, y = load_fashion_mnist("test", root=tmp_path)
    assert x.dtype == torch.uint8 and x.shape == (6, 28, 28) and y.dtype == torch.int64
    assert np.array_equal(x.numpy(), images) and np.array_equal(y.numpy(), labels)


def test_environment_variable_names_the_root(tmp_path, monkeypatch):
    make_split(tmp_path, "train", n=3)
    monkeypatch.setenv("FASHION_MNIST_ROOT", str(tmp_path))
    assert load_fashion_mnist("train")[0].shape == (3, 28, 28)


def test_fashion_mnist_images_pad_scale_and_count(tmp_path, monkeypatch):
    """The pretraining view: the first n images as floats in [0, 1], zero-padded from 28 px to the centre
    of img_size, with their labels; more images than the split holds, or a crop, is refused."""
    from mae_hlvm.data import DataError, fashion_mnist_images

    images, labels = make_split(tmp_path, "t10k", n=5)
    monkeypatch.setenv("FASHION_MNIST_ROOT", str(tmp_path))
    x, y = fashion_mnist_images("test", 4, img_size=32)
    assert x.shape == (4, 1, 32, 32) and x.dtype == torch.float32 and y.tolist() == labels[:4].tolist()
    assert torch.equal(x[:, 0, 2:30, 2:30], torch.from_numpy(images[:4]).float() / 255)
    assert x[:, :, :2].abs().sum() == 0 and x[:, :, 30:].abs().sum() == 0 and x[..., :2].abs().sum() == 0
    assert fashion_mnist_images("test", 5, img_size=28)[0].shape == (5, 1, 28, 28)
    with pytest.raises(DataError, match="Fashion-MNIST test has 5 images; 6 were asked for"):
        fashion_mnist_images("test", 6)
    with pytest.raises(DataError, match="img_size 16 would crop them"):
        fashion_mnist_images("test", 2, img_size=16)


def test_read_idx_handles_other_types(tmp_path):
    a = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(a, code=0x0C))
    assert np.array_equal(read_idx(tmp_path / "a.idx"), a)


def test_missing_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere.*apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(root=tmp_path / "nowhere")


def test_missing_file_is_named(tmp_path):
    make_split(tmp_path, "train")
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        load_fashion_mnist("train", tmp_path)


def test_wrong_magic_names_file_expected_and_found(tmp_path):
    make_split(tmp_path, "train", gz=False)
    labels = np.zeros(6, dtype=np.uint8)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels, magic=2051))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: IDX magic number 2051 .*expected 2049"):
        load_fashion_mnist("train", tmp_path)


def test_not_idx_at_all(tmp_path):
    (tmp_path / "x").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="not an IDX magic number"):
        read_idx(tmp_path / "x")
    (tmp_path / "y").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        read_idx(tmp_path / "y")


def test_truncated_raw_file(tmp_path):
    make_split(tmp_path, "train", gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: 4604 data bytes after the header, expected 4704 .*truncated"):
        load_fashion_mnist("train", tmp_path)


def test_truncated_gzip_file(tmp_path):
    make_split(tmp_path, "train", gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz: cannot decompress"):
        load_fashion_mnist("train", tmp_path)


def test_inconsistent_files(tmp_path):
    make_split(tmp_path, "train", n=4, labels=np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="4 images but .* 5 labels"):
        load_fashion_mnist("train", tmp_path)
    make_split(tmp_path, "train", n=4, labels=np.array([0, 1, 2, 10], dtype=np.uint8))
    with pytest.raises(ValueError, match="label 10 found"):
        load_fashion_mnist("train", tmp_path)
    make_split(tmp_path, "train", images=np.zeros((4, 27, 28), dtype=np.uint8), labels=np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"images of shape \(27, 28\), expected \(28, 28\)"):
        load_fashion_mnist("train", tmp_path)


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="unknown split 'val'"):
        load_fashion_mnist("val", tmp_path)


@pytest.mark.skipif(not DEFAULT_ROOT.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_real_files():
    x, y = load_fashion_mnist("test", DEFAULT_ROOT)  # the installed files, whatever $FASHION_MNIST_ROOT says
    assert x.shape == (10000, 28, 28) and torch.equal(torch.bincount(y), torch.full((10,), 1000))
    assert y[:5].tolist() == [9, 2, 1, 1, 6]          # first test labels of the published files
