"""Loaders for the paper's real test sets, laid out as folders of images.

None of these datasets can be downloaded here; the loaders read the layouts the datasets ship with
(or the usual ImageFolder reorganisation) and are tested on small folders the tests create.

=================  ==========================================================  ===================
source             layout under ``root``                                       target
=================  ==========================================================  ===================
ImageNet           ``train/<wnid>/*``, ``val/<wnid>/*`` (ImageFolder layout)   ImageNet index
ImageNet-v2        ``<0..999>/*`` (the class index is the folder name)         ImageNet index
ImageNet-R / -A    ``<wnid>/*`` for their 200 wnids                            ImageNet index
ImageNet-Sketch    ``<wnid>/*`` for the 1000 wnids                             ImageNet index
ObjectNet          ``<objectnet class folder>/*`` + a JSON class mapping      ObjectNet class
cue-conflict       ``<category>/<shape><i>-<texture><j>.png``, 16 categories   shape category
=================  ==========================================================  ===================

ImageNet class indices are positions in the sorted list of wnid folder names of the ImageNet train
folder (``imagenet_classes``), the order torchvision's ImageFolder and the MAE code use; with all
1000 folders present it is the standard ILSVRC-2012 index order.  Every dataset carries
``imagenet_indices``: for each of its targets, the tuple of ImageNet indices that count as correct
(``category_hits``).  ``subset_indices`` lists the ImageNet classes the set covers (for R and A the
usual protocol restricts the 1000 logits to them).

Strictness: an unknown class folder, a file with a non-image extension, a stray file or folder, an
empty class folder, an unreadable image, an image of an unexpected size or channel mode all raise
:class:`~mae_hlvm.data.errors.DataError` (a ValueError) naming the path and what was expected.  Only dot-files (``.DS_Store``, ...) are ignored.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from mae_hlvm.data.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
# PIL modes that convert to RGB without losing meaning (alpha is dropped); others are refused
RGB_CONVERTIBLE = ("RGB", "L", "LA", "P", "RGBA", "CMYK", "1", "YCbCr")
WNID_PATTERN = re.compile(r"^n\d{8}$")

# Geirhos et al.'s (2019) 16 categories of the cue-conflict images, in their order: the one list of the
# names (the shape-bias evaluation reads it from here).
GEIRHOS_CATEGORIES: tuple[str, ...] = (
    "airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat",
    "chair", "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck",
)

# The ImageNet indices (standard order) that Geirhos et al.'s (2019) model-vs-human code aggregates
# into each of their 16 categories (helper/human_categories.py of rgeirhos/texture-vs-shape), in the
# order of GEIRHOS_CATEGORIES, the one list of the category names.
CUE_CONFLICT_CATEGORIES: dict[str, tuple[int, ...]] = dict(zip(GEIRHOS_CATEGORIES, (
    (404,),  # airplane
    (294, 295, 296, 297),  # bear
    (444, 671),  # bicycle
    (8, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 23, 24, 80, 81, 82, 83, 87, 88, 89, 90, 91, 92, 93,
     94, 95, 96, 98, 99, 100, 127, 128, 129, 130, 131, 132, 133, 135, 136, 137, 138, 139, 140, 141, 142,
     143, 144, 145),  # bird
    (472, 554, 625, 814, 914),  # boat
    (440, 720, 737, 898, 899, 901, 907),  # bottle
    (436, 511, 817),  # car
    (281, 282, 283, 284, 285, 286),  # cat
    (423, 559, 765, 857),  # chair
    (409, 530, 892),  # clock
    (152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171,
     172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191,
     193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 205, 206, 207, 208, 209, 210, 211, 212, 213,
     214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 228, 229, 230, 231, 232, 233, 234,
     235, 236, 237, 238, 239, 240, 241, 243, 244, 245, 246, 247, 248, 249, 250, 252, 253, 254, 255, 256,
     257, 259, 261, 262, 263, 265, 266, 267, 268),  # dog
    (385, 386),  # elephant
    (508, 878),  # keyboard
    (499,),  # knife
    (766,),  # oven
    (555, 569, 656, 675, 717, 734, 864, 867),  # truck
), strict=True))
_CUE_NAME = re.compile(r"^([a-z]+)(\d+)-([a-z]+)(\d+)\.png$")


# --------------------------------------------------------------------------- files
def _entries(folder: Path) -> list[Path]:
    """Sorted entries of a folder, dot-files left out."""
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def list_images(folder: Path) -> list[Path]:
    """Image files of one class folder, sorted; refuses sub-folders, other files and emptiness."""
    files = []
    for p in _entries(folder):
        if p.is_dir():
            raise DataError(f"{p}: unexpected folder inside class folder {folder.name!r} (expected image files only)")
        if p.suffix.lower() not in IMAGE_EXTENSIONS:
            raise DataError(f"{p}: not an image file name (expected one of {', '.join(IMAGE_EXTENSIONS)})")
        files.append(p)
    if not files:
        raise DataError(f"class folder {folder} holds no images (expected at least one of {', '.join(IMAGE_EXTENSIONS)})")
    return files


def class_folders(root: Path) -> list[Path]:
    """Sub-folders of root, sorted; a stray file or an empty root is an error."""
    entries = _entries(Path(root))
    stray = [p for p in entries if not p.is_dir()]
    if stray:
        raise DataError(f"{stray[0]}: unexpected file in {root} (expected only class folders)")
    if not entries:
        raise DataError(f"{root} holds no class folders")
    return entries


def load_rgb(path: str | Path, expected_size: tuple[int, int] | None = None):
    """Open an image as RGB PIL image; ``expected_size`` is (width, height) when checked."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{path}: cannot be read as an image ({err})") from None
    if img.mode not in RGB_CONVERTIBLE:
        raise DataError(f"{path}: channel mode {img.mode!r}, expected one of {', '.join(RGB_CONVERTIBLE)} (convertible to RGB)")
    if expected_size is not None and tuple(img.size) != tuple(expected_size):
        raise DataError(f"{path}: image size {img.size[0]}x{img.size[1]} (WxH), expected {expected_size[0]}x{expected_size[1]}")
    return img.convert("RGB")


def to_tensor(img) -> torch.Tensor:
    """RGB PIL image -> float tensor [3, H, W] in [0, 1]."""
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255)


# --------------------------------------------------------------------------- dataset
class ImageFolderDataset(Dataset):
    """Images with integer targets; item i is ``(transform(image), target)``.

    Attributes: ``samples`` [(path, target)], ``targets`` [N], ``classes`` (name of each target),
    ``imagenet_indices`` (per target, the ImageNet indices counted correct), ``subset_indices``
    (sorted ImageNet indices covered).  Images are converted to RGB; ``expected_size`` (W, H) is
    checked on load; ``crop_border`` pixels are cut off each side (ObjectNet's 1-px frame).
    """

    def __init__(self, samples: Sequence[tuple[Path, int]], classes: Sequence[str],
                 imagenet_indices: Sequence[tuple[int, ...]], transform: Callable | None = None,
                 expected_size: tuple[int, int] | None = None, crop_border: int = 0, name: str = "images") -> None:
        if not samples:
            raise DataError(f"{name}: no images found")
        if len(imagenet_indices) != len(classes):
            raise DataError(f"{name}: {len(imagenet_indices)} ImageNet index sets for {len(classes)} classes")
        self.samples = list(samples)
        self.targets = [t for _, t in self.samples]
        self.classes = list(classes)
        self.imagenet_indices = [tuple(ix) for ix in imagenet_indices]
        self.subset_indices = sorted({i for t in set(self.targets) for i in self.imagenet_indices[t]})
        self.transform, self.expected_size, self.crop_border, self.name = transform, expected_size, crop_border, name

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, i: int):
        """The RGB PIL image of sample i (size-checked, border cropped)."""
        path = self.samples[i][0]
        img = load_rgb(path, self.expected_size)
        b = self.crop_border
        if b:
            if img.width <= 2 * b or img.height <= 2 * b:
                raise DataError(f"{path}: image {img.width}x{img.height} too small to crop a {b}-px border")
            img = img.crop((b, b, img.width - b, img.height - b))
        return img

    def __getitem__(self, i: int) -> tuple[Any, int]:
        img = self.load(i)
        return (self.transform(img) if self.transform is not None else to_tensor(img)), self.samples[i][1]


def category_hits(pred: torch.Tensor, targets: torch.Tensor, imagenet_indices: Sequence[Sequence[int]]) -> torch.Tensor:
    """Whether each predicted ImageNet index pred [N] lies in the index set of its target [N] -> bool [N]."""
    if pred.shape != targets.shape:
        raise DataError(f"pred {tuple(pred.shape)} and targets {tuple(targets.shape)} must have the same shape")
    return torch.tensor([int(p) in set(imagenet_indices[int(t)]) for p, t in zip(pred, targets)], dtype=torch.bool)


def _scan(root: Path, target_of: Callable[[Path], int]) -> list[tuple[Path, int]]:
    """(image, target) of every class folder of root; ``target_of`` raises for an unknown folder."""
    return [(f, target_of(folder)) for folder in class_folders(root) for f in list_images(folder)]


# --------------------------------------------------------------------------- ImageNet family
def imagenet_classes(train_root: str | Path, expected: int | None = None) -> list[str]:
    """The wnids in class-index order: sorted wnid folder names of the ImageNet train folder."""
    train_root = Path(train_root)
    names = [p.name for p in class_folders(train_root)]
    bad = [n for n in names if not WNID_PATTERN.match(n)]
    if bad:
        raise DataError(f"{train_root / bad[0]}: class folder name is not a WordNet id (expected 'n' + 8 digits)")
    if expected is not None and len(names) != expected:
        raise DataError(f"{train_root} holds {len(names)} class folders, expected {expected}")
    return names


def _wnid_target(classes: Sequence[str], dataset: str) -> Callable[[Path], int]:
    index = {w: i for i, w in enumerate(classes)}

    def target(folder: Path) -> int:
        if folder.name not in index:
            raise DataError(f"{folder}: unknown class folder for {dataset} (expected one of the {len(index)} "
                             f"ImageNet wnids, e.g. {next(iter(index))})")
        return index[folder.name]
    return target


def imagenet(root: str | Path, split: str = "train", classes: Sequence[str] | None = None,
             transform: Callable | None = None) -> ImageFolderDataset:
    """ImageNet in ImageFolder layout: ``root/<split>/<wnid>/*``; targets are ImageNet indices.

    ``classes`` (wnids in index order) defaults to ``imagenet_classes(root / "train")``.
    """
    if split not in ("train", "val"):
        raise DataError(f"unknown split {split!r}; valid splits: train, val")
    root = Path(root)
    classes = list(classes) if classes is not None else imagenet_classes(root / "train")
    samples = _scan(root / split, _wnid_target(classes, f"ImageNet {split}"))
    return ImageFolderDataset(samples, classes, [(i,) for i in range(len(classes))], transform, name=f"ImageNet {split}")


def imagenet_v2(root: str | Path, classes: Sequence[str], transform: Callable | None = None) -> ImageFolderDataset:
    """ImageNet-v2 (any of its three versions): folders named ``0`` .. ``999`` = ImageNet index."""
    n = len(classes)

    def target(folder: Path) -> int:
        if not folder.name.isdigit() or int(folder.name) >= n or str(int(folder.name)) != folder.name:
            raise DataError(f"{folder}: unknown class folder for ImageNet-v2 (expected an index 0..{n - 1} without leading zeros)")
        return int(folder.name)
    return ImageFolderDataset(_scan(Path(root), target), list(classes), [(i,) for i in range(n)],
                              transform, name="ImageNet-v2")


def imagenet_wnid_subset(root: str | Path, classes: Sequence[str], name: str, expected_classes: int | None = None,
                         transform: Callable | None = None) -> ImageFolderDataset:
    """A test set of wnid folders covering some of the ImageNet classes (R, A: 200; Sketch: 1000)."""
    root = Path(root)
    samples = _scan(root, _wnid_target(classes, name))
    found = len({t for _, t in samples})
    if expected_classes is not None and found != expected_classes:
        raise DataError(f"{root}: {found} class folders for {name}, expected {expected_classes}")
    return ImageFolderDataset(samples, list(classes), [(i,) for i in range(len(classes))], transform, name=name)


def imagenet_r(root: str | Path, classes: Sequence[str], expected_classes: int | None = None,
               transform: Callable | None = None) -> ImageFolderDataset:
    """ImageNet-R (renditions of 200 classes); ``subset_indices`` are the 200 covered classes."""
    return imagenet_wnid_subset(root, classes, "ImageNet-R", expected_classes, transform)


def imagenet_a(root: str | Path, classes: Sequence[str], expected_classes: int | None = None,
               transform: Callable | None = None) -> ImageFolderDataset:
    """ImageNet-A (natural adversarial examples of 200 classes)."""
    return imagenet_wnid_subset(root, classes, "ImageNet-A", expected_classes, transform)


def imagenet_sketch(root: str | Path, classes: Sequence[str], expected_classes: int | None = None,
                    transform: Callable | None = None) -> ImageFolderDataset:
    """ImageNet-Sketch (``sketch/<wnid>/*``, 50 drawings per class)."""
    return imagenet_wnid_subset(root, classes, "ImageNet-Sketch", expected_classes, transform)


# --------------------------------------------------------------------------- ObjectNet
def read_objectnet_mapping(mapping: str | Path | Mapping[str, Sequence[int]], n_imagenet: int = 1000
                           ) -> dict[str, tuple[int, ...]]:
    """ObjectNet folder name -> ImageNet indices.

    Format: a JSON object ``{"<objectnet folder name>": [imagenet index, ...], ...}`` (or the same as a
    dict), e.g. ``{"banana": [954], "chair": [423, 559, 765], "toaster": [859], "vase": []}``.  Every
    image folder must appear; an empty list marks a class without ImageNet counterpart, excluded on
    purpose (ObjectNet has 313 classes, 113 of which overlap ImageNet).
    """
    if isinstance(mapping, (str, Path)):
        path = Path(mapping)
        if not path.is_file():
            raise FileNotFoundError(f"ObjectNet mapping file {path} does not exist")
        try:
            mapping = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: not valid JSON ({err})") from None
        where = str(path)
    else:
        where = "ObjectNet mapping"
    if not isinstance(mapping, Mapping):
        raise DataError(f"{where}: expected a JSON object {{folder name: [ImageNet indices]}}, got {type(mapping).__name__}")
    out = {}
    for name, idx in mapping.items():
        if not isinstance(idx, (list, tuple)) or not all(isinstance(i, int) and not isinstance(i, bool) for i in idx):
            raise DataError(f"{where}: entry {name!r} must be a list of ImageNet indices, got {idx!r}")
        if any(not 0 <= i < n_imagenet for i in idx):
            raise DataError(f"{where}: entry {name!r} has index outside 0..{n_imagenet - 1}: {list(idx)}")
        out[str(name)] = tuple(idx)
    return out


def objectnet(root: str | Path, mapping: str | Path | Mapping[str, Sequence[int]], n_imagenet: int = 1000,
              crop_border: int = 1, transform: Callable | None = None) -> ImageFolderDataset:
    """ObjectNet images (``root`` = its ``images/`` folder); targets index the mapped ObjectNet classes.

    Folders whose mapping is empty are left out and listed in ``dataset.excluded``; a folder absent
    from the mapping is an error.  ``crop_border=1`` removes the 1-pixel frame ObjectNet images carry.
    """
    table = read_objectnet_mapping(mapping, n_imagenet)
    folders = class_folders(Path(root))
    unknown = [f for f in folders if f.name not in table]
    if unknown:
        raise DataError(f"{unknown[0]}: unknown class folder for ObjectNet (not in the mapping; map it to [] to exclude it)")
    kept = [f for f in folders if table[f.name]]
    if not kept:
        raise DataError(f"{root}: no folder maps to an ImageNet class")
    names = [f.name for f in kept]
    samples = [(p, i) for i, f in enumerate(kept) for p in list_images(f)]
    ds = ImageFolderDataset(samples, names, [table[n] for n in names], transform, crop_border=crop_border, name="ObjectNet")
    ds.excluded = [f.name for f in folders if not table[f.name]]
    return ds


# --------------------------------------------------------------------------- cue conflict
def cue_conflict(root: str | Path, expected_size: tuple[int, int] | None = (224, 224),
                 transform: Callable | None = None) -> ImageFolderDataset:
    """Geirhos et al. (2019) texture-shape cue-conflict stimuli: ``root/<category>/<shape><i>-<texture><j>.png``.

    Targets are shape categories (index into the 16 sorted names); ``texture_targets`` the texture
    categories; ``conflict`` is False for the stimuli whose shape and texture agree (Geirhos et al.
    leave those out of the shape-bias ratio).  ``imagenet_indices`` gives the 16 categories' indices.
    """
    root = Path(root)
    names = list(CUE_CONFLICT_CATEGORIES)
    folders = class_folders(root)
    found = {f.name for f in folders}
    unknown = sorted(found - set(names))
    if unknown:
        raise DataError(f"{root / unknown[0]}: unknown class folder for cue-conflict (expected the 16 categories {', '.join(names)})")
    missing = sorted(set(names) - found)
    if missing:
        raise DataError(f"{root}: category folder(s) {', '.join(missing)} missing (expected all 16: {', '.join(names)})")
    samples, textures = [], []
    for folder in folders:
        for p in list_images(folder):
            m = _CUE_NAME.match(p.name)
            if m is None:
                raise DataError(f"{p}: file name does not read <shape><number>-<texture><number>.png (e.g. airplane1-bicycle2.png)")
            shape, texture = m.group(1), m.group(3)
            if shape != folder.name:
                raise DataError(f"{p}: shape {shape!r} in the file name differs from its folder {folder.name!r}")
            if texture not in CUE_CONFLICT_CATEGORIES:
                raise DataError(f"{p}: texture {texture!r} is not one of the 16 categories ({', '.join(names)})")
            samples.append((p, names.index(shape)))
            textures.append(names.index(texture))
    ds = ImageFolderDataset(samples, names, list(CUE_CONFLICT_CATEGORIES.values()), transform,
                            expected_size=expected_size, name="cue-conflict")
    ds.texture_targets = textures
    ds.conflict = [s != t for (_, s), t in zip(samples, textures)]
    return ds
