"""MAE pretraining throughput: images/s and achieved FLOP/s as a fraction of measured matmul peak.

Grid: model (tiny 32 px / ViT-B/16 224 px) x precision (fp32 / bf16 autocast) x execution
(eager / torch.compile) x encoder input (visible tokens only, as MAE / all tokens, the cost of an
encoder that also processes the removed positions). One "step" is forward + backward + AdamW.
FLOPs are counted once per configuration with ``torch.utils.flop_counter.FlopCounterMode`` on the
eager model (matmuls, attention; elementwise ops are not counted), so "achieved FLOP/s" is model
FLOPs per second, comparable across rows.

    python benchmarks/train_throughput.py --device cuda            # one GPU, < 5 min
    python benchmarks/train_throughput.py --device cpu --steps 2   # CPU, small counts (compile off)

This is a script, not a test: numbers depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from mae_hlvm.mae import create_mae
from mae_hlvm.mae.masking import random_masking_indices
from mae_hlvm.compute import measure_matmul_flops


@dataclass
class Row:
    model: str
    batch: int
    dtype: str
    mode: str
    tokens: str
    images_per_s: float
    step_ms: float
    tflop_per_step: float
    achieved_tflops: float
    fraction_of_peak: float


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_step(model, opt, imgs, ratio, all_tokens, amp, device):
    N, L = imgs.shape[0], model.num_patches
    grid = model.mask_grid(None)
    ids_keep, ids_restore, mask = random_masking_indices(N, grid, ratio, device=device)
    if all_tokens:  # the encoder sees every position, the decoder gets no mask tokens: same decoder cost
        ids_keep = torch.arange(L, device=device).expand(N, L)
        ids_restore = ids_keep

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16) if amp else nullcontext():
            loss = model.forward_from_indices(imgs, ids_keep, ids_restore, mask).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def run_one(name, batch, dtype, mode, tokens, args, device, peaks) -> Row:
    torch.manual_seed(0)
    model = create_mae(name).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95))
    imgs = torch.rand(batch, 3, model.cfg.img_size, model.cfg.img_size, device=device)
    amp = dtype == "bf16"
    step = make_step(model, opt, imgs, 0.75, tokens == "all", amp, device)
    with FlopCounterMode(display=False) as fc:
        step()
    flops = fc.get_total_flops()
    if mode == "compiled":
        model.compile()
        step = make_step(model, opt, imgs, 0.75, tokens == "all", amp, device)
    for _ in range(args.warmup):
        step()
    sync(device)
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync(device)
    dt = (time.perf_counter() - t) / args.steps
    achieved = flops / dt
    return Row(name, batch, dtype, mode, tokens, batch / dt, dt * 1e3, flops / 1e12, achieved / 1e12,
               achieved / peaks[dtype])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda[:k]")
    p.add_argument("--steps", type=int, default=None, help="timed steps per row (default: 20 cuda, 2 cpu)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps per row (default: 5 cuda, 1 cpu)")
    p.add_argument("--models", nargs="+", default=["mae_tiny", "mae_vit_base_patch16"])
    p.add_argument("--batch-tiny", type=int, default=None, help="default 256 cuda, 64 cpu")
    p.add_argument("--batch-base", type=int, default=None, help="default 128 cuda, 4 cpu")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="include torch.compile rows (default: on for cuda, off for cpu)")
    p.add_argument("--budget-s", type=float, default=270.0, help="skip remaining rows after this many seconds")
    p.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    args.steps = args.steps or (20 if cuda else 2)
    args.warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    compile_ = args.compile if args.compile is not None else cuda
    def batch(name: str) -> int:  # ViT-B presets take the base batch, every smaller model the tiny one
        if "vit_base" in name or "vit_large" in name:
            return args.batch_base or (128 if cuda else 4)
        return args.batch_tiny or (256 if cuda else 64)

    start = time.perf_counter()
    n = 8192 if cuda else 1024
    peaks = {"fp32": measure_matmul_flops(n, torch.float32, str(device)),
             "bf16": measure_matmul_flops(n, torch.bfloat16, str(device))}
    dev_name = torch.cuda.get_device_name(device) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"# MAE train throughput on {dev_name}, torch {torch.__version__}")
    print(f"measured matmul peak ({n}x{n}): fp32 {peaks['fp32'] / 1e12:.2f} TFLOP/s, bf16 {peaks['bf16'] / 1e12:.2f} TFLOP/s"
          f"{' (TF32 off)' if cuda and not torch.backends.cuda.matmul.allow_tf32 else ''}")
    print("\n| model | batch | dtype | mode | encoder tokens | images/s | ms/step | TFLOP/step | TFLOP/s | of peak |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows: list[Row] = []
    modes = ["eager", "compiled"] if compile_ else ["eager"]
    for name in args.models:
        for mode in modes:
            for dtype in args.dtypes:
                for tokens in ("visible", "all"):
                    if time.perf_counter() - start > args.budget_s:
                        print(f"| {name} | | {dtype} | {mode} | {tokens} | skipped (time budget) | | | | |")
                        continue
                    try:
                        r = run_one(name, batch(name), dtype, mode, tokens, args, device, peaks)
                    except Exception as err:  # a failed row (e.g. out of memory, compiler missing) is reported
                        print(f"| {name} | {batch(name)} | {dtype} | {mode} | {tokens} | failed: "
                              f"{type(err).__name__}: {str(err).splitlines()[0][:80]} | | | | |")
                        continue
                    rows.append(r)
                    print(f"| {r.model} | {r.batch} | {r.dtype} | {r.mode} | {r.tokens} | {r.images_per_s:.1f} | "
                          f"{r.step_ms:.1f} | {r.tflop_per_step:.4f} | {r.achieved_tflops:.3f} | "
                          f"{100 * r.fraction_of_peak:.1f}% |", flush=True)
                    if cuda:
                        torch.cuda.empty_cache()
    print("\nvisible-only speed-up over all-token encoding (images/s ratio):")
    for r in rows:
        if r.tokens == "visible":
            other = next((o for o in rows if (o.model, o.dtype, o.mode, o.tokens) == (r.model, r.dtype, r.mode, "all")), None)
            if other:
                print(f"  {r.model} {r.dtype} {r.mode}: {r.images_per_s / other.images_per_s:.2f}x")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": dev_name, "peaks": peaks, "rows": [asdict(r) for r in rows]}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
