"""The prepared GPU run: throughput and model FLOP utilisation, a bf16 loss check, and the GPU sweep.

One script for whoever has a GPU for a few minutes (target: under 8 minutes on one H100):

1. images/s and model FLOP utilisation (MFU: model FLOPs per second over the card's nominal dense
   bf16 peak) of MAE pretraining steps, ViT-B/16 at 224 px and the tiny model at a large batch, bf16,
   compiled, fused attention (``benchmarks/train_throughput.py``'s rows);
2. 200 bf16 training steps of the tiny model on the shapes images: the loss must stay finite and fall;
3. the sweep's GPU setting: the 2-px-patch model (a 16 x 16 patch grid, so units of 1, 2 and 4 patches
   leave 16, 8 and 4 units a side), every ratio and unit, one seed, recorded like the CPU sweep.

Everything is written under ``--out`` (JSON and a Markdown summary) to commit in benchmarks/results/.
``--dry`` runs the same code paths on the CPU at toy sizes (``make test`` does, so it cannot rot).

    python benchmarks/gpu_check.py --out $OUT            # on the GPU machine
    python benchmarks/gpu_check.py --dry --out gpu-dry    # anywhere, ~1 minute
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_throughput  # noqa: E402  (the throughput rows)

from mae_hlvm.data.pretraining import pretraining_images  # noqa: E402
from mae_hlvm.experiments import RunCache, sweep  # noqa: E402
from mae_hlvm.mae import PretrainConfig, pretrain  # noqa: E402

# nominal dense bf16 tensor-core peaks (vendor data sheets), FLOP/s, by a substring of the device name
NOMINAL_BF16 = {"H200": 989.4e12, "H100 SXM": 989.4e12, "H100 80GB HBM3": 989.4e12, "H100 PCIe": 756.0e12,
                "H100": 989.4e12, "A100": 312.0e12, "L4": 121.0e12}


def nominal_peak(name: str) -> float | None:
    return next((v for k, v in NOMINAL_BF16.items() if k in name), None)


def throughput(device: str, dry: bool, out: Path) -> dict:
    args = ["--device", device, "--json", str(out / "throughput.json")]
    if dry:
        args += ["--models", "mae_tiny", "--steps", "1", "--warmup", "1", "--batch-tiny", "8", "--no-compile"]
    else:
        args += ["--models", "mae_vit_base_patch16", "mae_tiny", "--batch-tiny", "2048", "--budget-s", "200"]
    train_throughput.main(args)
    data = json.loads((out / "throughput.json").read_text())
    peak = nominal_peak(data.get("device", ""))
    for row in data["rows"]:
        row["mfu_nominal"] = row["achieved_tflops"] * 1e12 / peak if peak else None
    data["nominal_bf16_peak"] = peak
    return data


def loss_check(device: str, dry: bool) -> dict:
    steps, batch = (6, 16) if dry else (200, 256)
    images = pretraining_images("shapes", 64 if dry else 20000, seed=0)
    cfg = PretrainConfig(model="mae_tiny", steps=steps, warmup_steps=max(steps // 10, 1), batch_size=batch,
                         blr=1.5e-3, amp="bf16", device=device, progress=False, augment="flip")
    t = time.perf_counter()
    losses = pretrain(cfg, images).losses
    k = max(len(losses) // 10, 1)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    return {"steps": steps, "batch": batch, "first_mean": first, "last_mean": last,
            "finite": all(math.isfinite(v) for v in losses), "falling": last < first,
            "seconds": time.perf_counter() - t}


def gpu_sweep(device: str, dry: bool, out: Path) -> dict:
    if dry:
        params = sweep.SweepParams(ratios=(0.25, 0.75), unit_patches=(1, 2), steps=2, warmup_steps=1, n_images=32,
                                   batch_size=16, suite="smoke")
    else:
        params = sweep.SweepParams(model="mae_tiny_p2", unit_patches=(1, 2, 4), steps=1500, warmup_steps=75,
                                   batch_size=256, n_images=20000)
    result = sweep.run(params, RunCache(out / "cache"), device=device, progress=lambda m: print(m, flush=True))
    sweep.record(result, out / "sweep_gpu.json", command="python benchmarks/gpu_check.py" + (" --dry" if dry else ""))
    return {"points": len(result.rows), "minutes": result.seconds / 60}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--dry", action="store_true", help="CPU, toy sizes: checks that the script runs")
    ap.add_argument("--skip", nargs="*", default=[], choices=["throughput", "loss", "sweep"])
    args = ap.parse_args(argv)
    device = "cpu" if args.dry else "cuda"
    if not args.dry and not torch.cuda.is_available():
        print("error: no CUDA device; use --dry to check the script on a CPU", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu (dry run)",
                    "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    steps = [("throughput", lambda: throughput(device, args.dry, args.out)),
             ("loss", lambda: loss_check(device, args.dry)),
             ("sweep", lambda: gpu_sweep(device, args.dry, args.out))]
    for name, fn in steps:
        if name in args.skip:
            continue
        t = time.perf_counter()
        report[name] = fn()
        print(f"[gpu_check] {name} done in {time.perf_counter() - t:.0f} s", flush=True)
        (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    lines = [f"# GPU check: {report['device']}, {report['date']}", "", f"torch {report['torch']}", ""]
    if "throughput" in report:
        lines += ["| model | batch | dtype | mode | images/s | MFU (nominal bf16 peak) |", "|---|---|---|---|---|---|"]
        for r in report["throughput"]["rows"]:
            mfu = f"{100 * r['mfu_nominal']:.1f} %" if r.get("mfu_nominal") else "n/a"
            lines.append(f"| {r['model']} | {r['batch']} | {r['dtype']} | {r['mode']} | {r['images_per_s']:.0f} | {mfu} |")
    if "loss" in report:
        lines += ["", f"bf16 loss check: {report['loss']}"]
    if "sweep" in report:
        lines += ["", f"sweep: {report['sweep']['points']} rows in {report['sweep']['minutes']:.1f} min (sweep_gpu.json)"]
    (args.out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    loss = report.get("loss", {"finite": True, "falling": True})
    return 0 if loss["finite"] and (loss["falling"] or args.dry) else 1  # a few dry steps need not fall


if __name__ == "__main__":
    sys.exit(main())
