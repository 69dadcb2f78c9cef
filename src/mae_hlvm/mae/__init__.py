"""Masked autoencoders: model, masks with decoupled units, pretraining, checkpoints.

>>> from mae_hlvm.mae import create_mae, PretrainConfig, pretrain
>>> model = create_mae("mae_tiny")                         # 32 px, patch 4, 192-d, depth 6
>>> out = model(imgs, mask_ratio=0.75, mask_unit=8)         # MAEOutput(loss, pred, mask, ids_restore)
>>> out = model(imgs, mask=unit_mask)                       # explicit boolean mask, True = removed
>>> result = pretrain(PretrainConfig(steps=100), imgs)      # .model, .history, .checkpoint

Refusals: :class:`ConfigError` (a configuration value), :class:`CheckpointError` (an unreadable or
mismatched checkpoint, a run already in the output folder), ``mae_hlvm.data.DataError`` (images).
"""
from .checkpoint import CheckpointError, load_checkpoint, load_pretrained, save_checkpoint
from .configs import (PRESETS, ConfigError, MAEConfig, PretrainConfig, describe_configs, list_configs,
                      model_config)
from .masking import (MaskGrid, effective_mask_ratio, make_grid, mask_from_ids_keep, num_kept_units,
                      random_masking_indices)
from .model import (MAEOutput, MaskedAutoencoder, create_mae, export_timm_encoder, sincos_pos_embed,
                    timm_encoder_kwargs, to_timm_vit)
from .train import PretrainResult, lr_at, monitor_loss, plot_history, pretrain, read_metrics

__all__ = [
    "CheckpointError", "ConfigError", "MAEConfig", "MAEOutput", "MaskGrid", "MaskedAutoencoder", "PRESETS", "PretrainConfig", "PretrainResult",
    "create_mae", "describe_configs", "effective_mask_ratio", "export_timm_encoder", "list_configs", "load_checkpoint",
    "load_pretrained", "lr_at", "make_grid", "mask_from_ids_keep", "model_config", "monitor_loss", "num_kept_units",
    "plot_history", "pretrain", "random_masking_indices", "read_metrics", "save_checkpoint",
    "sincos_pos_embed", "timm_encoder_kwargs", "to_timm_vit",
]
