"""One training step, side by side: today's fp32 eager path against the candidate faster paths.

Issue 13 asks for a CPU step at least 1.5 times today's fp32 eager step on the tiny configuration
(32 px, patch 4, 192 x 6, decoder 128 x 2, ratio 0.75, batch 128, AdamW), and, where that is not
reached, a profile that says what bounds it. This script measures, in one process and interleaved
round by round (so that drift in the machine's speed hits every path alike):

- ``fp32 eager``: the path ``pretrain`` takes by default (AdamW with its default implementation);
- ``fp32 eager, fused AdamW``; ``fp32 compiled, fused AdamW`` (torch.compile of the model);
- ``bf16 eager`` / ``bf16 compiled``: bf16 autocast, the same with torch.compile;

then prints the matmul peak per dtype on this machine, a torch.profiler table of the top operators
(fp32 and bf16), the bound (share of the step in matmuls, model FLOP/s against the matmul peak), and
the training loop's images/s (augmentation, masking, logging, checkpoints) against the bare step's.

    python benchmarks/step_speed.py                       # ~6 min on 2 CPU cores (bf16 is slow there)
    python benchmarks/step_speed.py --rounds 3 --no-bf16  # quicker
    python benchmarks/step_speed.py --out benchmarks/results/step_speed_cpu.md

A script, not a test: the figures depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import io
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from mae_hlvm.compute import measure_matmul_flops
from mae_hlvm.experiments.pretraining import PretrainingParams
from mae_hlvm.mae import MaskedAutoencoder, pretrain
from mae_hlvm.mae.masking import random_masking_indices

MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


class Path_:
    """One way of running the step: its own model copy and optimizer, the same initial weights."""

    def __init__(self, name: str, net: MaskedAutoencoder, bf16: bool, compiled: bool, fused: bool | None):
        self.name, self.bf16 = name, bf16
        self.net = copy.deepcopy(net)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=1e-4, betas=(0.9, 0.95), fused=fused)
        self.fwd = torch.compile(self.net.forward_from_indices) if compiled else self.net.forward_from_indices
        self.times: list[float] = []

    def step(self, x: torch.Tensor, masks: tuple[torch.Tensor, ...]) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            loss = self.fwd(x, *masks).loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss.detach())


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def profile_table(path: Path_, x, masks, steps: int, rows: int = 12) -> tuple[str, float]:
    """Top operators by self CPU time over ``steps`` steps, and the share of matmul operators."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            path.step(x, masks)
    avgs = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in avgs)
    mm = sum(e.self_cpu_time_total for e in avgs if e.key in MATMUL_OPS)
    lines = ["| operator | self CPU ms / step | share |", "|---|---|---|"]
    for e in sorted(avgs, key=lambda e: -e.self_cpu_time_total)[:rows]:
        lines.append(f"| `{e.key[:48]}` | {e.self_cpu_time_total / 1e3 / steps:.1f} | "
                     f"{e.self_cpu_time_total / total:.1%} |")
    return "\n".join(lines), mm / total


def loop_against_step(params: PretrainingParams, steps: int, repeats: int = 2) -> tuple[float, float, float]:
    """Median seconds per step of ``pretrain`` itself (its logged clock; the first 3 steps left out;
    checkpoint every 10 steps, a metrics line every step) and of the bare step on the same real
    images, measured alternately ``repeats`` times so that drift in the machine's speed hits both.
    Returns (loop median s/step, loop mean s/step, bare median s/step)."""
    from mae_hlvm.data.pretraining import pretraining_images

    images = pretraining_images(params.data, params.n_images, seed=params.seed, img_size=params.img_size)
    loop, bare = [], []
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = params.replace(steps=steps, warmup_steps=2, seed=r).pretrain_config(
                output_dir=tmp, checkpoint_every=10, progress=False)
            res = pretrain(cfg, images)
        secs = [row["seconds"] for row in res.history]
        loop += [b - a for a, b in zip(secs[2:], secs[3:])]
        net = MaskedAutoencoder(cfg.model_config())  # the loop's own path: AdamW as build_optimizer makes it
        p = Path_("bare", net, False, False, None)
        grid = net.mask_grid(None)
        for s in range(steps // 2):
            x = images[s * params.batch_size:(s + 1) * params.batch_size]
            masks = random_masking_indices(params.batch_size, grid, params.mask_ratio)
            bare.append(timed(lambda: p.step(x, masks)))
    return statistics.median(loop), statistics.mean(loop), statistics.median(bare[2:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6, help="timed steps per fp32 path (interleaved)")
    ap.add_argument("--bf16-rounds", type=int, default=2, help="timed steps per bf16 path")
    ap.add_argument("--no-bf16", action="store_true", help="leave the bf16 paths out")
    ap.add_argument("--loop-steps", type=int, default=24, help="steps per training-loop measurement")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = io.StringIO()

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.write(line + "\n")

    params = PretrainingParams()  # the tiny configuration of the experiments layer (chapter 06's run)
    torch.manual_seed(0)
    net = MaskedAutoencoder(params.pretrain_config().model_config())
    B = params.batch_size
    x = torch.rand(B, net.cfg.in_chans, net.cfg.img_size, net.cfg.img_size,
                   generator=torch.Generator().manual_seed(0))
    masks = random_masking_indices(B, net.mask_grid(None), params.mask_ratio,
                                   generator=torch.Generator().manual_seed(1))
    with FlopCounterMode(display=False) as fc:
        Path_("count", net, False, False, None).step(x, masks)
    flops = fc.get_total_flops()

    say(f"Command: `python benchmarks/step_speed.py {' '.join(argv if argv is not None else sys.argv[1:])}`  ")
    say(f"Date (UTC): {datetime.now(timezone.utc):%Y-%m-%d %H:%M}; machine: {platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"CPU flags: {cpu_flags()}  ")
    say(f"Configuration: {params.model}, {params.img_size} px, patch {net.cfg.patch_size}, ratio "
        f"{params.mask_ratio}, batch {B}; model FLOPs per step (matmuls and attention): {flops / 1e9:.1f} G")
    peaks = {"fp32": measure_matmul_flops(1024, torch.float32), "bf16": measure_matmul_flops(1024, torch.bfloat16)}
    say(f"Matmul peak (1024 x 1024, best of repeats): fp32 {peaks['fp32'] / 1e12:.3f} TFLOP/s, "
        f"bf16 {peaks['bf16'] / 1e12:.3f} TFLOP/s ({peaks['bf16'] / peaks['fp32']:.2f} x fp32)")
    say()

    specs = [("fp32 eager (today's path)", False, False, None), ("fp32 eager, fused AdamW", False, False, True),
             ("fp32 compiled, fused AdamW", False, True, True)]
    if not args.no_bf16:
        specs += [("bf16 eager", True, False, None), ("bf16 compiled, fused AdamW", True, True, True)]
    paths = [Path_(name, net, bf16, compiled, fused) for name, bf16, compiled, fused in specs]
    compile_s = {}
    for p in paths:  # warm-up step (and compilation)
        compile_s[p.name] = timed(lambda: p.step(x, masks))
    for r in range(max(args.rounds, args.bf16_rounds)):
        for p in paths:
            if r < (args.bf16_rounds if p.bf16 else args.rounds):
                p.times.append(timed(lambda: p.step(x, masks)))
    base = statistics.median(paths[0].times)
    say("| path | ms / step (median) | images/s | x today | model TFLOP/s | of the fp32 matmul peak | "
        "first step s |")
    say("|---|---|---|---|---|---|---|")
    for p in paths:
        t = statistics.median(p.times)
        say(f"| {p.name} | {t * 1e3:.0f} | {B / t:.0f} | {base / t:.2f} | {flops / t / 1e12:.3f} | "
            f"{flops / t / peaks['fp32']:.0%} | {compile_s[p.name]:.1f} |")
    best = min(paths, key=lambda p: statistics.median(p.times))
    say()
    say(f"Fastest: {best.name}, {base / statistics.median(best.times):.2f} x today's fp32 eager step "
        f"(target 1.5 x).")
    say()

    table, mm_share = profile_table(paths[0], x, masks, steps=2)
    say("### Profile, fp32 eager (2 steps)")
    say(table)
    say()
    say(f"Matmul operators take {mm_share:.0%} of the fp32 step; the step's model FLOP/s is "
        f"{flops / base / peaks['fp32']:.0%} of this machine's fp32 matmul peak. Were every other operator "
        f"free, the step would be at most {1 / mm_share:.2f} x faster in fp32; beyond that only a faster "
        f"matmul (a lower precision with hardware support) helps.")
    if not args.no_bf16:
        bf = next(p for p in paths if p.bf16)
        table, mm_share_bf = profile_table(bf, x, masks, steps=1)
        say()
        say("### Profile, bf16 eager (1 step)")
        say(table)
        say()
        say(f"Matmul operators take {mm_share_bf:.0%} of the bf16 step.")
    say()

    with contextlib.redirect_stderr(io.StringIO()):
        loop_med, loop_mean, bare_med = loop_against_step(params, args.loop_steps)
    say(f"### Training loop against the bare step (2 x {args.loop_steps} steps of `pretrain`, checkpoint every "
        f"10, a metrics line every step, flip augmentation, alternating with bare steps on the same images)")
    say(f"bare step {B / bare_med:.0f} images/s; training loop {B / loop_med:.0f} images/s at its median step "
        f"({bare_med / loop_med:.1%} of the bare step) and {B / loop_mean:.0f} images/s on average, checkpoints "
        f"included ({bare_med / loop_mean:.1%}). Target: within 5 %.")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(out.getvalue())
    return 0


def cpu_flags() -> str:
    """The CPU's vector extensions that decide fp32/bf16 matmul speed (Linux /proc/cpuinfo)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split("flags\t\t:")[1].split("\n")[0].split())
    except (OSError, IndexError):
        return "unknown"
    keep = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "avx_vnni") if f in flags]
    return " ".join(keep) or "none of avx2/avx512/amx"


if __name__ == "__main__":
    raise SystemExit(main())
