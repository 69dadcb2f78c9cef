"""What a masking ratio costs, beside what it keeps: Section 3.6's third suggestion measured.

The paper: "if low-level information is preferable ..., an extremely high masking ratio can retain
such information and is more computationally efficient than its low masking ratio counterpart".
This script measures the cost half on this machine, the training step's images/s at each ratio of
the sweep (the pretraining chapter's model, batch 128, ratios interleaved round by round), with the
counted FLOPs, and sets beside it the low-level metrics (PSNR, MSE, R² of the local latents) of the
recorded sweep, where a record exists (``book/recorded/sweep_cpu.json``; means over its seeds).

    python benchmarks/ratio_cost.py                   # about 2 minutes on 2 CPU cores
    python benchmarks/ratio_cost.py --out benchmarks/results/ratio_cost_cpu.md
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from mae_hlvm.book import find_root
from mae_hlvm.compute import model_training_flops
from mae_hlvm.experiments import sweep
from mae_hlvm.experiments.pretraining import PretrainingParams
from mae_hlvm.mae import MaskedAutoencoder
from mae_hlvm.mae.masking import random_masking_indices

RATIOS = (0.1, 0.25, 0.5, 0.75, 0.9)
LOW_LEVEL = ("psnr", "mse", "r2_local")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4, help="timed steps per ratio (interleaved)")
    ap.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = ap.parse_args(argv)
    params = PretrainingParams()
    mc = params.pretrain_config().model_config()
    torch.manual_seed(0)
    net = MaskedAutoencoder(mc)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, betas=(0.9, 0.95))
    B = params.batch_size
    x = torch.rand(B, mc.in_chans, mc.img_size, mc.img_size, generator=torch.Generator().manual_seed(0))
    grid = net.mask_grid(None)

    def step(ratio: float) -> float:
        masks = random_masking_indices(B, grid, ratio)
        t = time.perf_counter()
        loss = net.forward_from_indices(x, *masks).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t

    times: dict[float, list[float]] = {r: [] for r in RATIOS}
    for r in RATIOS:  # warm-up
        step(r)
    for _ in range(args.rounds):
        for r in RATIOS:
            times[r].append(step(r))
    flops = {r: model_training_flops(mc, r) for r in RATIOS}

    low: dict[tuple[str, float], dict[str, str]] = {}
    path = find_root() / "book" / "recorded" / "sweep_cpu.json"
    note = "no recorded sweep yet: the low-level columns are empty"
    if path.is_file():
        rec = sweep.load_recorded(path)
        if rec.stale:
            note = f"the recorded sweep is stale ({'; '.join(rec.stale)}): not shown"
        else:
            f = rec.frame()
            f = f[(f["kind"] == "pretrained") & (f["unit"] == params.mask_unit)]
            for (data, ratio), g in f.groupby(["data", "ratio"]):
                low[(data, ratio)] = {m: f"{g[m].mean():.4g} ({len(g)})" for m in LOW_LEVEL if m in g}
            note = f"low-level metrics: the recorded sweep ({rec.payload['date'][:10]}), mean (seeds)"

    lines = [f"Command: `python benchmarks/ratio_cost.py {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
             f"Date (UTC): {datetime.now(timezone.utc):%Y-%m-%d %H:%M}; machine: {platform.machine()}, "
             f"{torch.get_num_threads()} torch threads, torch {torch.__version__}  ",
             f"Model: {params.model}, {mc.img_size} px, patch {mc.patch_size}, batch {B}; {note}", "",
             "| ratio | ms / step (median) | images/s | x the cost at 0.9 | GFLOP / image | "
             + " | ".join(f"{d} {m}" for d in sweep.DATASETS for m in LOW_LEVEL) + " |",
             "|---" * (5 + len(sweep.DATASETS) * len(LOW_LEVEL)) + "|"]
    t09 = statistics.median(times[0.9])
    for r in RATIOS:
        t = statistics.median(times[r])
        cells = [low.get((d, r), {}).get(m, "") for d in sweep.DATASETS for m in LOW_LEVEL]
        lines.append(f"| {r} | {t * 1e3:.0f} | {B / t:.0f} | {t / t09:.2f} | {flops[r] / 1e9:.3f} | "
                     + " | ".join(cells) + " |")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
