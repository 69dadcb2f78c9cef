"""Dense transfer: COCO box AP on hand-computed cases, mIoU, and a short fine-tuning run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

from mae_hlvm.eval import TransferConfig, box_ap, evaluate_dense, finetune_dense, mean_iou

GT = np.array([[0, 0, 10, 10], [5, 5, 15, 15]], dtype=float)


def _shift_to_iou(box, iou):
    """Shift a 10x10 box right so that its IoU with the original is ``iou``: (10-d)/(10+d) = iou."""
    d = 10 * (1 - iou) / (1 + iou)
    return box + np.array([d, 0, d, 0])


def test_perfect_detections_have_ap_one():
    res = box_ap(GT, np.array([[0.9, 0.1], [0.2, 0.8]]), GT, [0, 1])
    assert res == pytest.approx({"box_ap": 1.0, "box_ap50": 1.0, "box_ap75": 1.0})


def test_iou_062_matches_three_of_ten_thresholds():
    pred = np.stack([_shift_to_iou(b, 0.62) for b in GT])  # matches at .50, .55, .60 only
    res = box_ap(pred, np.array([[0.9, 0.1], [0.2, 0.8]]), GT, [0, 1])
    assert res == pytest.approx({"box_ap": 0.3, "box_ap50": 1.0, "box_ap75": 0.0})


def test_half_recall_gives_51_of_101_points():
    # one class, two objects: the top-scored detection is right, the other misses entirely, so precision is 1
    # up to recall 0.5 and recall never exceeds 0.5: 51 of COCO's 101 recall points have precision 1.
    pred = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], dtype=float)
    res = box_ap(pred, np.array([[0.9], [0.1]]), GT, [0, 0])
    assert res["box_ap"] == pytest.approx(51 / 101)


def test_box_ap_refuses_bad_input():
    with pytest.raises(ValueError, match="no images"):
        box_ap(np.zeros((0, 4)), np.zeros((0, 2)), np.zeros((0, 4)), [])
    with pytest.raises(ValueError, match="NaN"):
        box_ap(GT * np.nan, np.ones((2, 2)), GT, [0, 1])
    with pytest.raises(ValueError, match="outside"):
        box_ap(GT, np.ones((2, 2)), GT, [0, 2])


def test_mean_iou_hand_computed():
    target = torch.tensor([[0, 0, 1, 1], [0, 0, 2, 2]])
    pred = torch.tensor([[0, 1, 1, 1], [0, 0, 2, 0]])
    miou, iou = mean_iou(pred, target, 3)
    # class 0: tp 3, fp 1, fn 1 -> 3/5; class 1: tp 2, fp 1 -> 2/3; class 2: tp 1, fn 1 -> 1/2
    np.testing.assert_allclose(iou, [3 / 5, 2 / 3, 1 / 2])
    assert miou == pytest.approx((3 / 5 + 2 / 3 + 1 / 2) / 3)
    assert mean_iou(target, target, 4)[0] == 1.0 and np.isnan(mean_iou(target, target, 4)[1][3])
    with pytest.raises(ValueError, match="outside"):
        mean_iou(target, target, 2)


def _squares(n, seed=0):
    """Dark images each with one bright 8x8 square on the 4-px patch grid; its colour channel is the class."""
    g = torch.Generator().manual_seed(seed)
    x = 0.1 * torch.rand(n, 3, 16, 16, generator=g)
    masks, boxes, y = torch.zeros(n, 16, 16, dtype=torch.bool), torch.zeros(n, 4), torch.arange(n) % 2
    for i in range(n):
        r, c = (4 * torch.randint(0, 3, (2,), generator=g)).tolist()
        masks[i, r:r + 8, c:c + 8] = True
        x[i, y[i], r:r + 8, c:c + 8] = 0.9
        boxes[i] = torch.tensor([c, r, c + 8, r + 8])
    return x, masks, boxes, y


def test_finetuning_learns_masks_and_classes_and_leaves_the_backbone_alone():
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2, num_classes=0)
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    x, masks, boxes, y = _squares(48)
    model, hist = finetune_dense(vit, x, masks, boxes, y, 2, TransferConfig(epochs=8, batch_size=16, lr=1e-2))
    assert hist[-1] < hist[0]
    res = evaluate_dense(model, x, masks, boxes, y)
    assert res["fg_iou"] > 0.8 and res["miou"] > 0.7 and res["class_accuracy"] > 0.9
    assert 0 <= res["box_ap"] <= res["box_ap50"] <= 1
    assert all(torch.equal(v, vit.state_dict()[k]) for k, v in before.items())
    frozen, _ = finetune_dense(vit, x, masks, boxes, y, 2, TransferConfig(epochs=1, batch_size=16), freeze_backbone=True)
    assert all(torch.equal(v, frozen.backbone.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match="masks must be a bool"):
        evaluate_dense(model, x, masks.float(), boxes, y)
    with pytest.raises(ValueError, match="is empty"):
        evaluate_dense(model, x, masks, boxes.flip(1), y)
    with pytest.raises(ValueError, match="outside"):
        evaluate_dense(model, x, masks, boxes, y + 5)
