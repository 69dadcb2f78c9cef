"""Transfer to dense tasks (the CPU-scale stand-in for Table 3 of Kong et al.).

The paper fine-tunes Mask R-CNN (He et al. 2017) with a ViT-FPN backbone end-to-end on COCO for 45
epochs and reports box AP and mask AP. Here every image holds one object with a known mask, box and
class, so a much lighter model suffices: the pretrained encoder, fine-tuned end-to-end
(``freeze_backbone=False``, this module's default) or frozen with only the heads trained (the
book's evaluation suite, ``transfer_freeze=True``: cheaper, and a probe of the features), with

- a **segmentation head**: one linear layer per patch token to the p x p pixels of that patch times
  (K + 1) classes (background + K object classes), i.e. a linear "pixel-shuffle" upsampling;
  scored by mIoU over the K + 1 classes (confusion matrix over the whole set);
- a **box head** on the CLS token: a linear layer to (cx, cy, w, h) / image size through a sigmoid,
  and a linear classifier; each image yields K detections (the one box, with each class's
  probability as the score), scored by COCO box AP@[.5:.95], AP50 and AP75 computed by
  ``pycocotools.cocoeval.COCOeval``.

Losses: cross-entropy (pixels, classes) + L1 on normalised boxes + generalised IoU
(``torchvision.ops.generalized_box_iou_loss``). Optimiser: AdamW with cosine decay.
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..compute import torch_threads
from ..reproducibility import seeded
from ._checks import Array, check_images, check_labels
from .features import num_prefix_tokens, token_fn


class DenseTransferModel(nn.Module):
    """Backbone + per-patch segmentation head + CLS box/class heads.

    forward(images [B, C, H, W]) -> (seg logits [B, K+1, H, W], boxes [B, 4] x0 y0 x1 y1 px, class logits [B, K])
    """

    def __init__(self, backbone: nn.Module, image_size: tuple[int, int], num_classes: int, channels: int = 3):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.backbone, self.num_classes, self.image_size = backbone, num_classes, tuple(image_size)
        self.prefix = num_prefix_tokens(backbone)
        if self.prefix < 1:
            raise ValueError(f"{type(backbone).__name__} has no CLS token for the box head")
        dev = next(backbone.parameters()).device
        with torch.no_grad():
            t = token_fn(backbone)(torch.zeros(1, channels, *self.image_size, device=dev))  # [1, P + L, D]
        num_patches, dim = t.shape[1] - self.prefix, t.shape[2]
        gh = gw = math.isqrt(num_patches)
        grid = getattr(getattr(backbone, "patch_embed", None), "grid_size", None)
        if grid is not None and grid[0] * grid[1] == num_patches:
            gh, gw = int(grid[0]), int(grid[1])
        if gh * gw != num_patches or self.image_size[0] % gh or self.image_size[1] % gw:
            raise ValueError(f"{num_patches} patch tokens do not tile a {self.image_size} image")
        self.grid, self.patch = (gh, gw), (self.image_size[0] // gh, self.image_size[1] // gw)
        self.seg_head = nn.Linear(dim, self.patch[0] * self.patch[1] * (num_classes + 1))
        self.box_head = nn.Linear(dim, 4)
        self.cls_head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.heads(token_fn(self.backbone)(x))

    def heads(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The three heads on backbone tokens [B, P + L, D] (see the class docstring for the outputs)."""
        b, (gh, gw), (ph, pw), k1 = tokens.shape[0], self.grid, self.patch, self.num_classes + 1
        seg = self.seg_head(tokens[:, self.prefix:])  # [B, L, ph*pw*(K+1)]
        seg = seg.reshape(b, gh, gw, ph, pw, k1).permute(0, 5, 1, 3, 2, 4).reshape(b, k1, gh * ph, gw * pw)
        cls_tok = tokens[:, 0]
        cx, cy, w, h = self.box_head(cls_tok).sigmoid().unbind(-1)
        H, W = self.image_size
        boxes = torch.stack([(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H], -1)
        return seg, boxes, self.cls_head(cls_tok)


@dataclass(frozen=True)
class TransferConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    backbone_lr_scale: float = 0.1  # the pretrained encoder moves more slowly than the fresh heads
    weight_decay: float = 0.05
    box_weight: float = 5.0         # L1 weight; GIoU weight 2 (DETR's ratios)
    giou_weight: float = 2.0
    seed: int = 0

    def __post_init__(self):
        rules = (("epochs", self.epochs >= 1, ">= 1"), ("batch_size", self.batch_size >= 1, ">= 1"),
                 ("lr", self.lr > 0, "> 0"), ("backbone_lr_scale", self.backbone_lr_scale >= 0, ">= 0"),
                 ("weight_decay", self.weight_decay >= 0, ">= 0"), ("box_weight", self.box_weight >= 0, ">= 0"),
                 ("giou_weight", self.giou_weight >= 0, ">= 0"))
        for name, holds, rule in rules:
            if not holds:
                raise ValueError(f"TransferConfig.{name} = {getattr(self, name)!r}: must be {rule}")


def check_dense_targets(images: Array, masks: Array, boxes: Array, labels: Array, num_classes: int
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate images [N, C, H, W], masks [N, H, W] bool, boxes [N, 4] x0 y0 x1 y1 px, labels [N]."""
    images = check_images(images, "images")
    n, _, h, w = images.shape
    masks, boxes = torch.as_tensor(masks), torch.as_tensor(boxes, dtype=torch.float32)
    if masks.shape != (n, h, w) or masks.dtype != torch.bool:
        raise ValueError(f"masks must be a bool tensor of shape {(n, h, w)}, got {masks.dtype} {tuple(masks.shape)}")
    if boxes.shape != (n, 4) or not torch.isfinite(boxes).all():
        raise ValueError(f"boxes must be finite with shape {(n, 4)}, got {tuple(boxes.shape)}")
    bad = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(f"box {i} = {boxes[i].tolist()} is empty: need x0 < x1 and y0 < y1")
    labels = torch.as_tensor(check_labels(labels, n, num_classes=num_classes))
    return images, masks, boxes, labels


def _seg_target(masks: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-pixel class: 0 background, label + 1 on the object's mask: [N, H, W] int64."""
    return masks.long() * (labels[:, None, None] + 1)


def finetune_dense(backbone: nn.Module, images: Array, masks: Array, boxes: Array, labels: Array, num_classes: int,
                   config: TransferConfig = TransferConfig(), device: str | torch.device = "cpu",
                   freeze_backbone: bool = False) -> tuple[DenseTransferModel, list[float]]:
    """Fine-tune a copy of ``backbone`` with the dense heads; returns (model, mean loss per epoch).

    ``freeze_backbone=True`` trains the heads only (a dense probe of the frozen features); the tokens
    are then computed once and reused every epoch, which makes it many times cheaper.
    """
    images, masks, boxes, labels = check_dense_targets(images, masks, boxes, labels, num_classes)
    with seeded(config.seed):  # the heads' initialisation (and any dropout): config.seed alone decides
        return _finetune(backbone, images, masks, boxes, labels, num_classes, config, device, freeze_backbone)


def _finetune(backbone: nn.Module, images: torch.Tensor, masks: torch.Tensor, boxes: torch.Tensor,
              labels: torch.Tensor, num_classes: int, config: TransferConfig, device: str | torch.device,
              freeze_backbone: bool) -> tuple[DenseTransferModel, list[float]]:
    gen = torch.Generator().manual_seed(config.seed)
    model = DenseTransferModel(copy.deepcopy(backbone).to(device), tuple(images.shape[-2:]), num_classes,
                               images.shape[1]).to(device)
    for p in model.backbone.parameters():
        p.requires_grad_(not freeze_backbone)
    heads = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    groups = [{"params": heads, "lr": config.lr}]
    if not freeze_backbone:
        groups.append({"params": list(model.backbone.parameters()), "lr": config.lr * config.backbone_lr_scale})
    opt = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(images.shape[0] / config.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)

    target_seg, size = _seg_target(masks, labels), torch.tensor(images.shape[-2:][::-1] * 2, dtype=torch.float32)
    cached = None
    if freeze_backbone:  # a frozen backbone gives the same tokens every epoch: compute them once
        model.backbone.eval()
        with torch.no_grad():
            cached = torch.cat([token_fn(model.backbone)(images[s:s + 256].to(device))
                                for s in range(0, images.shape[0], 256)])
    history = []
    model.train()
    if freeze_backbone:
        model.backbone.eval()  # no dropout / norm statistics updates in a frozen backbone
    with torch_threads(1 if freeze_backbone and torch.device(device).type == "cpu" else None):
        _train_epochs(model, config, images, target_seg, boxes, labels, cached, size, opt, sched, gen, device, history)
    return model.eval(), history


def _train_epochs(model, config, images, target_seg, boxes, labels, cached, size, opt, sched, gen, device, history):
    from torchvision.ops import generalized_box_iou_loss

    for _ in range(config.epochs):
        order, total = torch.randperm(images.shape[0], generator=gen), 0.0
        for s in range(0, images.shape[0], config.batch_size):
            i = order[s:s + config.batch_size]
            seg_t = target_seg[i].to(device)
            box_t, y = boxes[i].to(device), labels[i].to(device)
            seg, box, logit = model.heads(cached[i.to(device)]) if cached is not None else model(images[i].to(device))
            loss = (F.cross_entropy(seg, seg_t) + F.cross_entropy(logit, y)
                    + config.box_weight * F.l1_loss(box / size.to(device), box_t / size.to(device))
                    + config.giou_weight * generalized_box_iou_loss(box, box_t, reduction="mean"))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(i)
        history.append(total / images.shape[0])


def mean_iou(pred: Array, target: Array, num_classes: int) -> tuple[float, np.ndarray]:
    """mIoU over classes present in prediction or target, from integer maps of equal shape.

    Returns (mIoU, per-class IoU [num_classes], nan for a class absent from both).
    """
    pred, target = torch.as_tensor(pred).flatten().long(), torch.as_tensor(target).flatten().long()
    if pred.shape != target.shape:
        raise ValueError(f"pred and target differ in size: {pred.numel()} vs {target.numel()}")
    for name, t in (("pred", pred), ("target", target)):
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f"{name} has class {int(t.max())} or {int(t.min())} outside [0, {num_classes})")
    conf = torch.bincount(target * num_classes + pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)
    tp = conf.diag().double()
    union = conf.sum(0).double() + conf.sum(1).double() - tp
    iou = torch.where(union > 0, tp / union.clamp_min(1), torch.tensor(float("nan"), dtype=torch.float64)).numpy()
    if np.isnan(iou).all():
        raise ValueError("no pixels to score")
    return float(np.nanmean(iou)), iou


def box_ap(pred_boxes: Array, scores: Array, gt_boxes: Array, gt_labels: Array) -> dict[str, float]:
    """COCO box AP with pycocotools for one ground-truth object per image.

    pred_boxes [N, 4] and gt_boxes [N, 4] are x0 y0 x1 y1 in pixels; ``scores`` [N, K] gives, per image,
    the score of the predicted box for every class (K detections per image); gt_labels [N] in [0, K).
    Returns AP (mean over IoU .50:.05:.95), AP50 and AP75, each in [0, 1] (COCO's all-area, 100-det setting).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    pb, gb = np.asarray(pred_boxes, dtype=np.float64), np.asarray(gt_boxes, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    n = gb.shape[0]
    if n == 0:
        raise ValueError("no images to score")
    if pb.shape != (n, 4) or gb.shape != (n, 4) or sc.ndim != 2 or sc.shape[0] != n:
        raise ValueError(f"need pred_boxes [N, 4], gt_boxes [N, 4], scores [N, K]; got {pb.shape}, {gb.shape}, {sc.shape}")
    if not (np.isfinite(pb).all() and np.isfinite(sc).all()):
        raise ValueError("pred_boxes or scores contain NaN or inf")
    k = sc.shape[1]
    y = check_labels(gt_labels, n, "gt_labels", num_classes=k)

    def xywh(b):
        return [float(b[0]), float(b[1]), float(max(b[2] - b[0], 0.0)), float(max(b[3] - b[1], 0.0))]

    gt = COCO()
    gt.dataset = {
        "images": [{"id": i} for i in range(n)],
        "categories": [{"id": c + 1} for c in range(k)],
        "annotations": [{"id": i + 1, "image_id": i, "category_id": int(y[i]) + 1, "bbox": xywh(gb[i]),
                         "area": float((gb[i, 2] - gb[i, 0]) * (gb[i, 3] - gb[i, 1])), "iscrowd": 0}
                        for i in range(n)],
    }
    dets = [{"image_id": i, "category_id": c + 1, "bbox": xywh(pb[i]), "score": float(sc[i, c])}
            for i in range(n) for c in range(k)]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress and the table
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"box_ap": float(ev.stats[0]), "box_ap50": float(ev.stats[1]), "box_ap75": float(ev.stats[2])}


@torch.no_grad()
def evaluate_dense(model: DenseTransferModel, images: Array, masks: Array, boxes: Array, labels: Array,
                   batch_size: int = 256) -> dict[str, float]:
    """Scores of a fine-tuned model: ``miou`` (semantic, background + K classes, per-pixel argmax),
    ``fg_iou`` (object vs background, foreground where P(background) < 1/2), COCO ``box_ap``,
    ``box_ap50``, ``box_ap75`` and ``class_accuracy`` of the CLS classifier."""
    images, masks, boxes, labels = check_dense_targets(images, masks, boxes, labels, model.num_classes)
    dev = next(model.parameters()).device
    model.eval()
    segs, fgs, bxs, probs = [], [], [], []
    for s in range(0, images.shape[0], batch_size):
        seg, box, logit = model(images[s:s + batch_size].to(dev))
        segs.append(seg.argmax(1).cpu()), bxs.append(box.cpu()), probs.append(logit.softmax(-1).cpu())
        fgs.append((seg.softmax(1)[:, 0] < 0.5).cpu())  # foreground: background probability below 1/2
    pred_seg, pred_box, prob = torch.cat(segs), torch.cat(bxs), torch.cat(probs)
    miou, _ = mean_iou(pred_seg, _seg_target(masks, labels), model.num_classes + 1)
    out = {"miou": miou, "fg_iou": float(mean_iou(torch.cat(fgs), masks, 2)[1][1])}
    out.update(box_ap(pred_box.numpy(), prob.numpy(), boxes.numpy(), labels.numpy()))
    out["class_accuracy"] = float((prob.argmax(1) == labels).double().mean())
    return out
