"""Random and explicit masks with the mask unit decoupled from the ViT patch.

Vocabulary (all sizes in pixels unless said otherwise):

- ``patch`` p: the ViT patch; the image is a grid of ``h x w = (H/p) x (W/p)`` patches, L = h*w.
- ``unit`` u: the masking unit, a multiple of p; the image is a grid of ``(H/u) x (W/u)`` units,
  U of them, each covering ``(u/p)^2`` patches. u == p is the original MAE.
- A mask is 1 / True where a patch (or unit) is REMOVED, as in MAE.

The kept amount is counted in whole units, ``n_keep = floor(U * (1 - r))``, so no unit is ever
partly visible; the *effective* ratio ``1 - n_keep / U`` can therefore differ from the requested r
and is what the training loop logs (Hu et al. 2022 count patches instead, leaving one unit split).
The theory side (mae_hlvm.hierarchy.masks) rounds, so that ratios r and 1 - r stay complementary;
the two differ by at most one unit, only when U(1 - r) is not whole.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

# floor(U * (1 - r)) with a tolerance: 10 * (1 - 0.9) == 0.9999999999999998 must keep 1 unit, not 0
_FLOOR_EPS = 1e-9


@dataclass(frozen=True)
class MaskGrid:
    """Geometry of patches and mask units for one image size.

    Attributes:
        img_size: (H, W) in pixels.
        patch_size: ViT patch p in pixels.
        unit: mask unit u in pixels (a multiple of p dividing H and W).
    """

    img_size: tuple[int, int]
    patch_size: int
    unit: int

    @property
    def patch_grid(self) -> tuple[int, int]:
        return self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size

    @property
    def unit_grid(self) -> tuple[int, int]:
        return self.img_size[0] // self.unit, self.img_size[1] // self.unit

    @property
    def num_patches(self) -> int:
        h, w = self.patch_grid
        return h * w

    @property
    def num_units(self) -> int:
        h, w = self.unit_grid
        return h * w

    @property
    def patches_per_unit(self) -> int:
        return (self.unit // self.patch_size) ** 2


def make_grid(img_size: int | tuple[int, int], patch_size: int, unit: int | None = None) -> MaskGrid:
    """Validate ``unit`` against the patch and image sizes; ``unit=None`` means one unit per patch.

    Raises:
        ValueError: the unit is not a positive multiple of the patch, or an image side is not
            divisible by the unit (or by the patch).
    """
    H, W = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
    if patch_size <= 0 or H % patch_size or W % patch_size:
        raise ValueError(f"image size {(H, W)} must be divisible by the patch size {patch_size}")
    unit = patch_size if unit is None else unit
    if not isinstance(unit, int) or isinstance(unit, bool) or unit <= 0 or unit % patch_size:
        raise ValueError(f"mask unit {unit!r} px must be a positive multiple of the ViT patch size {patch_size} px")
    if H % unit or W % unit:
        raise ValueError(f"image size {(H, W)} px must be divisible by the mask unit {unit} px "
                         f"(units partly outside the image are not supported)")
    return MaskGrid((H, W), patch_size, unit)


def num_kept_units(num_units: int, mask_ratio: float) -> int:
    """Units kept visible, ``floor(U (1 - r))``; refuses r outside (0, 1) or a mask with nothing visible
    or nothing removed."""
    if not isinstance(mask_ratio, numbers.Real) or isinstance(mask_ratio, bool):  # numpy floats are Real
        hint = " (a tensor: pass float(t))" if isinstance(mask_ratio, torch.Tensor) else ""
        raise ValueError(f"mask ratio must be a number, got {type(mask_ratio).__name__} {mask_ratio!r}{hint}")
    if not 0.0 < float(mask_ratio) < 1.0 or math.isnan(mask_ratio):
        raise ValueError(f"mask ratio {mask_ratio!r} must lie strictly between 0 and 1")
    keep = int(num_units * (1.0 - float(mask_ratio)) + _FLOOR_EPS)
    if keep < 1:
        raise ValueError(f"mask ratio {mask_ratio} leaves no visible unit: floor({num_units} units x "
                         f"(1 - {mask_ratio})) = 0; lower the ratio or use a smaller mask unit")
    if keep >= num_units:
        raise ValueError(f"mask ratio {mask_ratio} removes no unit: floor({num_units} units x "
                         f"(1 - {mask_ratio})) = {keep}; raise the ratio or use a smaller mask unit")
    return keep


def effective_mask_ratio(grid: MaskGrid, mask_ratio: float) -> float:
    """The fraction of patches actually removed, ``1 - n_keep / U``, for ratio r on ``grid``."""
    return 1.0 - num_kept_units(grid.num_units, mask_ratio) / grid.num_units


def unit_to_patch_mask(unit_mask: torch.Tensor, grid: MaskGrid) -> torch.Tensor:
    """Expand a unit mask [N, U] to the patch grid [N, L] (row-major in both grids)."""
    gh, gw = grid.unit_grid
    ds = grid.unit // grid.patch_size
    m = unit_mask.reshape(-1, gh, 1, gw, 1).expand(-1, gh, ds, gw, ds)
    return m.reshape(unit_mask.shape[0], grid.num_patches)


def shuffle_from_mask(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices for a boolean patch mask [N, L] (True = removed), every image keeping the same count.

    Returns:
        ids_keep [N, K] (kept patches in increasing order), ids_restore [N, L] (un-shuffles
        [kept, removed] back to patch order) and the float mask [N, L] (1 = removed).
    """
    if mask.dtype != torch.bool or mask.ndim != 2:
        raise ValueError(f"explicit mask must be a boolean [N, L] tensor, got dtype {mask.dtype} shape {tuple(mask.shape)}")
    kept = (~mask).sum(1)
    if not bool((kept == kept[0]).all()):
        raise ValueError(f"explicit mask keeps a different number of patches per image ({kept.tolist()}); "
                         f"every image of a batch must keep the same count (the encoder batches visible tokens)")
    K, L = int(kept[0]), mask.shape[1]
    if K < 1 or K >= L:
        raise ValueError(f"explicit mask keeps {K} of {L} patches; at least one must be visible and one removed")
    # stable sort puts kept (False) first, each group in increasing patch order
    ids_shuffle = torch.argsort(mask.to(torch.uint8), dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    return ids_shuffle[:, :K], ids_restore, mask.float()


def random_masking_indices(batch: int, grid: MaskGrid, mask_ratio: float,
                           generator: torch.Generator | None = None,
                           device: torch.device | str | None = None,
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-image random masking in whole units (MAE's noise-argsort, lifted to units).

    One uniform noise value per unit; the ``n_keep`` units with the smallest noise stay visible.
    Patches are ordered by the rank of their unit, then by position inside it, so for u == p this is
    exactly MAE's ``argsort(rand(N, L))`` (same kept set, same ids_restore).

    Returns:
        ids_keep [N, K] with K = n_keep * (u/p)^2, ids_restore [N, L], mask [N, L] float 1=removed.
    """
    U, L, ppu = grid.num_units, grid.num_patches, grid.patches_per_unit
    keep_units = num_kept_units(U, mask_ratio)
    gen_device = generator.device if generator is not None else device
    noise = torch.rand(batch, U, generator=generator, device=gen_device)  # [N, U]
    noise = noise.to(device) if device is not None else noise
    unit_rank = torch.argsort(torch.argsort(noise, dim=1), dim=1)  # [N, U] rank of each unit
    if ppu == 1:
        ids_shuffle = torch.argsort(noise, dim=1)
    else:
        # sort key per patch: its unit's rank, ties broken by patch index (a unit stays contiguous)
        rank_p = unit_to_patch_mask(unit_rank, grid)  # [N, L]
        key = rank_p * L + torch.arange(L, device=noise.device)
        ids_shuffle = torch.argsort(key, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    K = keep_units * ppu
    mask = torch.ones(batch, L, device=noise.device)
    mask[:, :K] = 0
    mask = torch.gather(mask, 1, ids_restore)  # back to patch order
    return ids_shuffle[:, :K], ids_restore, mask


def mask_from_ids_keep(ids_keep: torch.Tensor, num_patches: int) -> torch.Tensor:
    """Boolean patch mask [N, L] (True = removed) from kept patch indices [N, K]."""
    if ids_keep.ndim != 2 or ids_keep.numel() and (int(ids_keep.min()) < 0 or int(ids_keep.max()) >= num_patches):
        raise ValueError(f"ids_keep must be [N, K] indices in [0, {num_patches}), got shape {tuple(ids_keep.shape)}")
    mask = torch.ones(ids_keep.shape[0], num_patches, dtype=torch.bool, device=ids_keep.device)
    mask.scatter_(1, ids_keep, False)
    if int((~mask).sum(1).min()) != ids_keep.shape[1]:
        raise ValueError("ids_keep repeats a patch index within an image")
    return mask


def as_patch_mask(mask: torch.Tensor, grid: MaskGrid) -> torch.Tensor:
    """Interpret an explicit boolean mask: [N, L] on the patch grid, or [N, U] on the unit grid
    (expanded to its patches). Also accepts [N, h, w] / [N, H/u, W/u] spatial layouts."""
    if mask.dtype != torch.bool:
        raise ValueError(f"explicit mask must be boolean (True = removed), got dtype {mask.dtype}")
    if mask.ndim == 3:
        mask = mask.flatten(1)
    if mask.ndim != 2:
        raise ValueError(f"explicit mask must be [N, L] or [N, U], got shape {tuple(mask.shape)}")
    if mask.shape[1] == grid.num_patches:
        return mask
    if mask.shape[1] == grid.num_units:
        return unit_to_patch_mask(mask, grid)
    raise ValueError(f"explicit mask has {mask.shape[1]} entries per image; expected {grid.num_patches} "
                     f"patches ({grid.patch_grid}) or {grid.num_units} units ({grid.unit_grid}) of {grid.unit} px")


def boundary_loss_weights(mask: torch.Tensor, grid_side: int, patch: int, ignore_px: int) -> torch.Tensor:
    """Per-pixel loss weights [N, L, p*p] for a patch mask [N, L] (1 = removed) on a square grid of
    ``grid_side`` x ``grid_side`` patches of ``patch`` px: 1 for a removed pixel farther than
    ``ignore_px`` px from every visible pixel, 0 for visible pixels and for removed pixels within that
    distance (Chebyshev: a square neighbourhood; pixels outside the image count as not visible).

    Kong et al. (Section 3.6) suggest leaving those pixels out of the loss when high-level features are
    wanted: a decoder can fill them by interpolating their visible neighbours. Pixels follow
    ``MaskedAutoencoder.patchify``'s order within a patch (row-major).
    """
    if ignore_px < 0:
        raise ValueError(f"ignore_px {ignore_px} must be >= 0 (0 keeps every removed pixel)")
    n, L = mask.shape
    if L != grid_side * grid_side:
        raise ValueError(f"mask has {L} patches per image, not a {grid_side} x {grid_side} grid")
    removed = mask.float().reshape(n, 1, grid_side, grid_side)
    removed = removed.repeat_interleave(patch, 2).repeat_interleave(patch, 3)      # [N, 1, H, W]
    visible = 1.0 - removed
    near = torch.nn.functional.max_pool2d(visible, 2 * ignore_px + 1, stride=1, padding=ignore_px) \
        if ignore_px else visible                                                   # visible within k px
    keep = removed * (1.0 - near)                                                   # [N, 1, H, W]
    keep = keep.reshape(n, grid_side, patch, grid_side, patch).permute(0, 1, 3, 2, 4)
    return keep.reshape(n, L, patch * patch)
