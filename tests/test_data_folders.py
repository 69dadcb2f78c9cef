"""Real-scale loaders on small folders written here with PIL."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mae_hlvm.data.folders import (CUE_CONFLICT_CATEGORIES, category_hits, cue_conflict, imagenet, imagenet_a,
                                   imagenet_classes, imagenet_r, imagenet_sketch, imagenet_v2, load_rgb, objectnet,
                                   read_objectnet_mapping)

WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475"]


def img(path: Path, size=(6, 5), mode="RGB", value=100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "CMYK": 4}.get(mode, 1)
    arr = np.full((size[1], size[0], channels), value, dtype=np.uint8).squeeze(-1) if channels == 1 else \
        np.full((size[1], size[0], channels), value, dtype=np.uint8)
    Image.fromarray(arr, mode=mode if mode != "CMYK" else None).convert(mode).save(path)
    return path


def make_imagenet(root: Path) -> None:
    for split, per in (("train", 2), ("val", 1)):
        for w in WNIDS:
            for k in range(per):
                img(root / split / w / f"{w}_{k}.JPEG")


def test_imagenet_targets_are_sorted_wnid_positions(tmp_path):
    make_imagenet(tmp_path)
    (tmp_path / "train" / ".DS_Store").write_text("")          # dot-files are ignored
    assert imagenet_classes(tmp_path / "train") == WNIDS
    train, val = imagenet(tmp_path, "train"), imagenet(tmp_path, "val")
    assert len(train) == 10 and len(val) == 5
    assert val.targets == [0, 1, 2, 3, 4] and train.targets[:4] == [0, 0, 1, 1]
    x, t = train[3]
    assert x.shape == (3, 5, 6) and x.dtype == torch.float32 and t == 1
    assert abs(x.mean().item() - 100 / 255) < 0.02


def test_imagenet_refuses_unknown_and_bad_folders(tmp_path):
    make_imagenet(tmp_path)
    img(tmp_path / "val" / "n09999999" / "a.JPEG")
    with pytest.raises(ValueError, match=r"n09999999: unknown class folder for ImageNet val"):
        imagenet(tmp_path, "val")
    img(tmp_path / "train" / "cats" / "a.JPEG")
    with pytest.raises(ValueError, match=r"cats: class folder name is not a WordNet id"):
        imagenet_classes(tmp_path / "train")
    with pytest.raises(ValueError, match="holds 6 class folders, expected 1000"):
        imagenet_classes(tmp_path / "val", expected=1000)
    with pytest.raises(ValueError, match="unknown split"):
        imagenet(tmp_path, "test")


def test_empty_and_stray_entries_are_errors(tmp_path):
    (tmp_path / "a" / WNIDS[0]).mkdir(parents=True)
    with pytest.raises(ValueError, match=f"class folder .*{WNIDS[0]} holds no images"):
        imagenet_r(tmp_path / "a", WNIDS)
    (tmp_path / "b").mkdir()
    with pytest.raises(ValueError, match="holds no class folders"):
        imagenet_r(tmp_path / "b", WNIDS)
    img(tmp_path / "c" / WNIDS[0] / "x.png")
    (tmp_path / "c" / WNIDS[0] / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"notes.txt: not an image file name"):
        imagenet_r(tmp_path / "c", WNIDS)
    img(tmp_path / "d" / WNIDS[0] / "x.png")
    (tmp_path / "d" / "README").write_text("hi")
    with pytest.raises(ValueError, match=r"README: unexpected file"):
        imagenet_a(tmp_path / "d", WNIDS)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        imagenet_a(tmp_path / "missing", WNIDS)


def test_v2_folders_are_indices(tmp_path):
    for k in (0, 3, 4):
        img(tmp_path / str(k) / "a.jpeg")
    ds = imagenet_v2(tmp_path, WNIDS)
    assert sorted(ds.targets) == [0, 3, 4] and ds.subset_indices == [0, 3, 4]
    img(tmp_path / "5" / "a.jpeg")
    with pytest.raises(ValueError, match=r"5: unknown class folder for ImageNet-v2 \(expected an index 0..4"):
        imagenet_v2(tmp_path, WNIDS)


def test_r_a_sketch_map_wnids_to_imagenet_indices(tmp_path):
    for w in (WNIDS[1], WNIDS[4]):
        img(tmp_path / w / "a.png")
    for loader in (imagenet_r, imagenet_a, imagenet_sketch):
        ds = loader(tmp_path, WNIDS)
        assert ds.targets == [1, 4] and ds.subset_indices == [1, 4]
    with pytest.raises(ValueError, match="2 class folders for ImageNet-R, expected 200"):
        imagenet_r(tmp_path, WNIDS, expected_classes=200)


def test_channels_and_sizes(tmp_path):
    for mode in ("L", "RGBA", "CMYK"):
        assert load_rgb(img(tmp_path / f"{mode}.{'jpg' if mode == 'CMYK' else 'png'}", mode=mode)).mode == "RGB"
    p16 = tmp_path / "i16.png"
    Image.fromarray(np.zeros((4, 4), dtype=np.uint16)).save(p16)
    with pytest.raises(ValueError, match=r"i16.png: channel mode 'I;16'|i16.png: channel mode 'I'"):
        load_rgb(p16)
    with pytest.raises(ValueError, match=r"RGB.png: image size 6x5 \(WxH\), expected 7x7"):
        load_rgb(img(tmp_path / "RGB.png"), expected_size=(7, 7))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png: cannot be read as an image"):
        load_rgb(tmp_path / "broken.png")


def test_objectnet_mapping_and_border(tmp_path):
    root = tmp_path / "images"
    img(root / "banana" / "1.png", size=(8, 8), value=200)
    img(root / "chair" / "2.png", size=(8, 8))
    img(root / "vase" / "3.png", size=(8, 8))
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"banana": [4], "chair": [1, 2], "vase": []}))
    ds = objectnet(root, mapping, n_imagenet=5)
    assert ds.classes == ["banana", "chair"] and ds.excluded == ["vase"] and len(ds) == 2
    assert ds.imagenet_indices == [(4,), (1, 2)] and ds.subset_indices == [1, 2, 4]
    x, t = ds[1]
    assert x.shape == (3, 6, 6) and t == 1                       # 1-px border cropped
    hits = category_hits(torch.tensor([4, 2, 1]), torch.tensor([0, 1, 0]), ds.imagenet_indices)
    assert hits.tolist() == [True, True, False]
    img(root / "toaster" / "4.png", size=(8, 8))
    with pytest.raises(ValueError, match=r"toaster: unknown class folder for ObjectNet"):
        objectnet(root, mapping, n_imagenet=5)


@pytest.mark.parametrize("content, match", [
    ("[1, 2]", "expected a JSON object"), ('{"a": [7]}', r"index outside 0..4"),
    ('{"a": "x"}', "must be a list of ImageNet indices"), ("{", "not valid JSON"),
])
def test_objectnet_bad_mapping(tmp_path, content, match):
    (tmp_path / "m.json").write_text(content)
    with pytest.raises(ValueError, match=match):
        read_objectnet_mapping(tmp_path / "m.json", n_imagenet=5)


def make_cue_conflict(root: Path) -> None:
    names = list(CUE_CONFLICT_CATEGORIES)
    for i, shape in enumerate(names):
        texture = names[(i + 1) % 16]
        img(root / shape / f"{shape}1-{texture}2.png", size=(4, 4))
    img(root / "cat" / "cat3-cat1.png", size=(4, 4))              # same shape and texture


def test_cue_conflict_reads_shape_and_texture_from_names(tmp_path):
    make_cue_conflict(tmp_path)
    ds = cue_conflict(tmp_path, expected_size=(4, 4))
    names = list(CUE_CONFLICT_CATEGORIES)
    assert len(ds) == 17 and ds.classes == names
    i = [p.name for p, _ in ds.samples].index("airplane1-bear2.png")
    assert ds.targets[i] == names.index("airplane") and ds.texture_targets[i] == names.index("bear")
    assert sum(not c for c in ds.conflict) == 1
    assert ds.imagenet_indices[names.index("knife")] == (499,)
    assert ds[0][0].shape == (3, 4, 4)
    with pytest.raises(ValueError, match=r"image size 4x4 \(WxH\), expected 224x224"):
        cue_conflict(tmp_path)[0]


def test_cue_conflict_bad_layouts(tmp_path):
    make_cue_conflict(tmp_path)
    img(tmp_path / "dog" / "cat1-dog2.png", size=(4, 4))
    with pytest.raises(ValueError, match=r"cat1-dog2.png: shape 'cat' in the file name differs from its folder 'dog'"):
        cue_conflict(tmp_path, expected_size=(4, 4))
    (tmp_path / "dog" / "cat1-dog2.png").unlink()
    img(tmp_path / "dog" / "dog7.png", size=(4, 4))
    with pytest.raises(ValueError, match=r"dog7.png: file name does not read"):
        cue_conflict(tmp_path, expected_size=(4, 4))
    (tmp_path / "dog" / "dog7.png").unlink()
    img(tmp_path / "dog" / "dog1-zebra1.png", size=(4, 4))
    with pytest.raises(ValueError, match=r"texture 'zebra' is not one of the 16"):
        cue_conflict(tmp_path, expected_size=(4, 4))
    (tmp_path / "dog" / "dog1-zebra1.png").unlink()
    img(tmp_path / "zebra" / "zebra1-dog1.png", size=(4, 4))
    with pytest.raises(ValueError, match=r"zebra: unknown class folder for cue-conflict"):
        cue_conflict(tmp_path, expected_size=(4, 4))
    for f in (tmp_path / "zebra").iterdir():
        f.unlink()
    (tmp_path / "zebra").rmdir()
    for f in (tmp_path / "oven").iterdir():
        f.unlink()
    (tmp_path / "oven").rmdir()
    with pytest.raises(ValueError, match=r"category folder\(s\) oven missing"):
        cue_conflict(tmp_path, expected_size=(4, 4))


def test_category_hits_checks_shapes():
    with pytest.raises(ValueError, match="same shape"):
        category_hits(torch.zeros(3), torch.zeros(2), [(0,)])
