"""Object masks (Section 3.6, suggestion 2 on the shapes images): the known object is removed first."""
import pytest
import torch

from mae_hlvm.data import DataError
from mae_hlvm.data.pretraining import pretraining_images
from mae_hlvm.mae import ConfigError, PretrainConfig, pretrain
from mae_hlvm.mae.masking import num_kept_units
from mae_hlvm.mae.object_masks import object_mask, object_masks, object_patches

MICRO = dict(img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2,
             decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)


def test_object_patches_are_every_patch_the_object_touches_or_a_share_of_it():
    objects = torch.zeros(1, 8, 8, dtype=torch.bool)
    objects[0, :4, :4] = True          # patch (0, 0) whole
    objects[0, :2, 4:8] = True         # patch (0, 1) half
    objects[0, 4:5, 0:4] = True        # patch (1, 0) a quarter
    assert object_patches(objects, 4).tolist() == [[True, True, True, False]]          # any pixel
    assert object_patches(objects, 4, 0.3).tolist() == [[True, True, False, False]]    # more than 30 %
    assert object_patches(objects, 4, 0.5).tolist() == [[True, False, False, False]]   # more than half
    with pytest.raises(ValueError, match="min_share = 1.0"):
        object_patches(objects, 4, 1.0)


def test_object_first_then_background_with_the_exact_count():
    is_object = torch.tensor([[True, False, True, False, False, False, False, False],   # 2 object patches
                              [True, True, True, True, True, True, False, False]])     # 6 object patches
    m = object_mask(is_object, 4, torch.Generator().manual_seed(0))
    assert (m.sum(1) == 4).all()
    assert m[0, [0, 2]].all()                  # the whole object goes, then 2 background patches
    assert not m[1, 6:].any()                  # a large object: only object patches go
    with pytest.raises(ValueError, match="n_remove 8"):
        object_mask(is_object, 8)


def test_object_masks_on_rendered_shapes_match_random_masking_counts():
    x = pretraining_images("shapes", 16, seed=0, img_size=32, objects=True)
    assert x.shape == (16, 4, 32, 32) and set(x[:, 3].unique().tolist()) <= {0.0, 1.0}
    for ratio in (0.25, 0.75, 0.9):
        m = object_masks(x[:, 3] > 0.5, 4, ratio, torch.Generator().manual_seed(1))
        assert (m.sum(1) == 64 - num_kept_units(64, ratio)).all()
        obj = object_patches(x[:, 3] > 0.5, 4)
        # no background patch is removed while an object patch is kept
        assert not ((m & ~obj).any(1) & (~m & obj).any(1)).any()
    # at 0.75 every image's object fits in the removed count: the whole object is hidden, always
    m = object_masks(x[:, 3] > 0.5, 4, 0.75, torch.Generator().manual_seed(1))
    assert (m | ~object_patches(x[:, 3] > 0.5, 4)).all()


def test_training_with_object_masks_and_its_refusals(tmp_path):
    x = pretraining_images("shapes", 24, seed=0, img_size=16, objects=True)
    cfg = PretrainConfig(model="mae_tiny", model_overrides=MICRO, batch_size=8, steps=4, warmup_steps=1,
                         mask_kind="object", augment="rrc_flip", progress=False, device="cpu")
    res = pretrain(cfg, x)
    assert len(res.losses) == 4 and all(torch.isfinite(torch.tensor(res.losses)))
    with pytest.raises(DataError, match=r"\[N, 4, 16, 16\]"):
        pretrain(cfg, x[:, :3])                                   # the object channel is missing
    with pytest.raises(DataError, match="mask_kind 'object' needs the images as a tensor"):
        pretrain(cfg, torch.utils.data.TensorDataset(x))
    with pytest.raises(DataError, match="no known objects"):
        pretraining_images("fashion_mnist", 4, objects=True)
    with pytest.raises(ConfigError, match="object masks are counted in patches"):
        PretrainConfig(model="mae_tiny", model_overrides=MICRO, mask_kind="object", mask_unit=8)
