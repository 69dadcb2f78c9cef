"""Evaluations of a pretrained encoder (Section 3 of Kong et al.), each usable on any encoder.

An *encoder* is any callable ``images [B, C, H, W] -> [B, D]`` (``feature_fn(model)`` builds one from
the library's MAE or a timm VisionTransformer); attention and dense transfer take a timm-style model
with ``.blocks`` and a token forward (``.encode`` or ``.forward_features``).

>>> from mae_hlvm.eval import feature_fn, extract_features, fit_logistic_probe
>>> feats = extract_features(feature_fn(model, "cls"), images)          # [N, D]
>>> probe = fit_logistic_probe(feats, labels); probe.accuracy(test_feats, test_labels)

Modules: reconstruction (Figure 5), attention (Figures 6-7), tsne (Figure 8), linear_probe and
robustness (Table 1), shape_bias (Table 2), transfer (Table 3 stand-in), identifiability (R², MCC).
"""
from .attention import attention_maps, attention_on_mask, cls_attention, overlay, token_attention, upsample
from .features import FeatureEncoder, extract_features, feature_fn, num_prefix_tokens, token_fn
from .identifiability import MCC, PIXEL_STATISTICS, R2, latent_matrix, mcc, pixel_statistics, r2_scores
from .linear_probe import (LinearHead, LogisticProbe, Probe, ProbeConfig, TorchLinearProbe, fit_logistic_probe,
                           top1_accuracy, train_linear_probe)
from . import paper_numbers
from .reconstruction import (METRICS, evaluate_reconstruction, fsim, masked_loss_vs_mean_colour, mse, psnr,
                             reconstruction_metrics, ssim, summarize)
from .robustness import ShiftedSet, evaluate_robustness, subset_accuracy, subset_from_wnids
from .shape_bias import (GEIRHOS_CATEGORIES, ShapeBias, aggregate_probabilities, category_decisions,
                         category_indices, load_category_mapping, shape_bias)
from .transfer import (DenseTransferModel, TransferConfig, box_ap, check_dense_targets, evaluate_dense,
                       finetune_dense, mean_iou)
from .tsne import plot_embedding, tsne_embedding

__all__ = [
    "DenseTransferModel", "FeatureEncoder", "GEIRHOS_CATEGORIES", "LinearHead", "LogisticProbe", "MCC", "METRICS",
    "PIXEL_STATISTICS", "Probe", "ProbeConfig", "R2", "ShapeBias", "ShiftedSet", "TorchLinearProbe",
    "TransferConfig", "aggregate_probabilities", "attention_maps", "attention_on_mask", "box_ap",
    "category_decisions", "category_indices", "check_dense_targets", "cls_attention", "evaluate_dense",
    "evaluate_reconstruction", "evaluate_robustness", "extract_features", "feature_fn", "finetune_dense",
    "fit_logistic_probe", "fsim", "latent_matrix", "load_category_mapping", "masked_loss_vs_mean_colour", "mcc",
    "mean_iou", "mse", "num_prefix_tokens", "overlay", "paper_numbers", "pixel_statistics", "plot_embedding",
    "psnr", "r2_scores", "reconstruction_metrics", "shape_bias", "ssim", "subset_accuracy", "subset_from_wnids",
    "summarize", "token_attention", "token_fn", "top1_accuracy", "train_linear_probe", "tsne_embedding",
    "upsample",
]
