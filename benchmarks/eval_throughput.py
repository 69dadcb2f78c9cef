"""Throughput of the reconstruction metrics (SSIM, FSIM, PSNR, MSE) on 1,000 image pairs.

    python benchmarks/eval_throughput.py                 # 1000 pairs, 3x32x32, CPU (or --device cuda)
    python benchmarks/eval_throughput.py --size 224 --n 1000 --device cuda

Prints images per second for each metric of ``mae_hlvm.eval.reconstruction_metrics`` (batched torch /
piq) and, for comparison, for scikit-image's per-image SSIM loop.
"""
from __future__ import annotations

import argparse
import json
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-skimage", action="store_true", help="skip the scikit-image reference loop")
    args = parser.parse_args()

    from mae_hlvm.eval import METRICS, reconstruction_metrics

    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.n, 3, args.size, args.size, generator=g)
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    reconstruction_metrics(x[:8], y[:8], device=args.device)  # warm-up (imports, kernels)
    result = {"n": args.n, "size": args.size, "device": args.device, "threads": torch.get_num_threads()}
    for m in METRICS:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        reconstruction_metrics(x, y, metrics=(m,), batch_size=args.batch_size, device=args.device)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        result[f"{m}_images_per_s"] = round(args.n / (time.perf_counter() - t), 1)
    if not args.no_skimage:
        from skimage.metrics import structural_similarity

        xs, ys = x.numpy(), y.numpy()
        t = time.perf_counter()
        for a, b in zip(xs, ys):
            structural_similarity(a, b, data_range=1.0, channel_axis=0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False)
        result["skimage_ssim_images_per_s"] = round(args.n / (time.perf_counter() - t), 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
