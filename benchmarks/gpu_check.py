"""The prepared GPU run: throughput and model FLOP utilisation, a bf16 loss check, and the GPU sweep.

One script for whoever has a GPU for a few minutes; it keeps to ``--deadline-s`` (default 540 s) of
wall time, stopping between sweep points, and writes what it has after every step:

1. images/s and model FLOP utilisation (MFU: model FLOPs per second over the card's nominal dense
   bf16 peak) of MAE pretraining steps in bf16, eager and compiled: ViT-B/16 at 224 px (the paper's
   model) and the sweep's 2-px-patch model (``benchmarks/train_throughput.py``'s rows), at most
   ``--throughput-s`` seconds;
2. 200 bf16 training steps of the tiny model on the shapes images: the loss must stay finite and fall;
3. the sweep chapter's ``gpu`` profile (the 2-px-patch model, a 16 x 16 patch grid, so units
   of 1, 2 and 4 patches leave 16, 8 and 4 units a side), every ratio and unit, one seed. The unit
   series (ratio 0.75) runs first, since a CPU cannot afford its 4-patch unit; the record
   (``sweep_gpu.json``, the form of ``book/recorded/``) is rewritten after every point, so a run cut
   short by the deadline still records the points it finished (the book calls such a record partial).
   ``--extend book/recorded/sweep_gpu.json --seeds 0 1 2`` makes a later lease add to that record:
   its rows are kept and not run again; what is missing runs in the same order (every seed's unit
   series first).

Everything is written under ``--out`` (JSON and a Markdown summary): the record goes to
book/recorded/, the summary to benchmarks/results/. ``--dry`` runs the same code paths on the CPU at
toy sizes (``make test`` does, so it cannot rot).

    MAE_HLVM_COMMIT=<commit> PYTHONPATH=src python benchmarks/gpu_check.py --out $OUT  # the GPU machine
    python benchmarks/gpu_check.py --dry --out gpu-dry    # anywhere, ~1 minute
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_throughput  # noqa: E402  (the throughput rows)

from mae_hlvm.book import chapter_params  # noqa: E402
from mae_hlvm.data.pretraining import pretraining_images  # noqa: E402
from mae_hlvm.experiments import RunCache, recorded, sweep  # noqa: E402
from mae_hlvm.experiments.cache import git_commit  # noqa: E402
from mae_hlvm.experiments.sweep import SweepResult  # noqa: E402
from mae_hlvm.mae import PretrainConfig, pretrain  # noqa: E402

# nominal dense bf16 tensor-core peaks (vendor data sheets), FLOP/s, by a substring of the device name
NOMINAL_BF16 = {"H200": 989.4e12, "H100 SXM": 989.4e12, "H100 80GB HBM3": 989.4e12, "H100 PCIe": 756.0e12,
                "H100": 989.4e12, "A100": 312.0e12, "L4": 121.0e12}


def nominal_peak(name: str) -> float | None:
    return next((v for k, v in NOMINAL_BF16.items() if k in name), None)


def throughput(device: str, dry: bool, out: Path, budget_s: float) -> dict:
    args = ["--device", device, "--json", str(out / "throughput.json"), "--dtypes", "bf16"]
    if dry:
        args += ["--models", "mae_tiny", "--steps", "1", "--warmup", "1", "--batch-tiny", "8", "--no-compile"]
    else:
        args += ["--models", "mae_tiny_p2", "mae_vit_base_patch16", "--batch-tiny", "256", "--budget-s", str(budget_s)]
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


def sweep_params(dry: bool) -> sweep.SweepParams:
    if dry:
        return sweep.SweepParams(ratios=(0.25, 0.75), unit_patches=(1, 2), steps=2, warmup_steps=1, n_images=32,
                                 batch_size=16, suite="smoke")
    return chapter_params("09_sweep", "gpu")  # the sweep chapter's gpu profile: one definition


def extended(full: sweep.SweepParams, path: Path | None) -> tuple[sweep.SweepParams, list[dict], list[dict]]:
    """The parameters to record, the rows already held and where they were computed: ``full`` alone,
    or, with an earlier record of the same sweep at ``path`` (``--extend``), its rows, their
    provenance and the union of both runs' seeds. A record of other settings (apart from seeds), or
    a stale one, is refused, naming what differs."""
    if path is None:
        return full, [], []
    if not path.is_file():
        raise ValueError(f"--extend {path}: no such file; name an earlier sweep_gpu.json")
    return sweep.keepable(path, full, "--extend")


def gpu_sweep(device: str, dry: bool, out: Path, cache: Path, deadline: float,
              seeds: tuple[int, ...] | None = None, extend: Path | None = None) -> dict:
    """The sweep, unit series first, recorded after every point; no point starts unless 1.5 times the
    longest point so far fits before ``deadline`` (a ``time.perf_counter()`` value). The other ratios
    then run from the highest down, cheapest first, so each is at most about 1.5 times (the visible
    tokens' 0.9 / 0.75, squared for attention) the longest before it and a late point cannot overrun.
    ``seeds`` replaces the profile's; ``extend`` keeps an earlier record's rows (not run again) and
    records both together, so that leases add seeds and missing points to one record."""
    full = sweep_params(dry)
    full = full.replace(seeds=tuple(seeds)) if seeds else full
    recorded_params, held, earlier = extended(full, extend)
    command = "python benchmarks/gpu_check.py" + (" --dry" if dry else "") + (
        f" --seeds {' '.join(map(str, full.seeds))}" if seeds else "") + (" --extend <record>" if extend else "")
    grid = {sweep.row_key(p, kind): i for i, (p, kind) in enumerate(sweep.runs(recorded_params))}
    done = {sweep.row_key_of(r): r for r in held}
    trained, longest, t0, stopped = 0, 0.0, time.perf_counter(), None

    def unit_series_first(p) -> tuple:
        return (p.mask_ratio != full.unit_ratio, -p.mask_ratio)

    point_start = time.perf_counter()
    for row, was_trained in sweep.rows(recorded_params, RunCache(cache), device=device, order=unit_series_first,
                                       skip=set(done), progress=lambda m: print(m, flush=True)):
        trained += was_trained
        longest = max(longest, time.perf_counter() - point_start)
        done[sweep.row_key_of(row)] = row
        rows = sorted(done.values(), key=lambda r: grid[sweep.row_key_of(r)])
        sweep.record(SweepResult(recorded_params, rows, trained, time.perf_counter() - t0,
                                 sum(r["train_seconds"] for r in rows)), out / "sweep_gpu.json", command,
                     recorded.restrict(earlier, done))
        if len(done) < len(grid) and time.perf_counter() + 1.5 * longest > deadline:
            stopped = f"stopped before the deadline after {len(done)} of {len(grid)} points"
            break
        point_start = time.perf_counter()
    return {"points": len(done), "of": len(grid), "new": len(done) - len(held),
            "minutes": (time.perf_counter() - t0) / 60, "longest_point_s": longest, "stopped": stopped}


def versions() -> dict:
    """The software the numbers depend on (the GPU machine's image, not this project's pins)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("torch", "timm", "numpy", "scikit-learn", "scikit-image", "piq", "pycocotools"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=None, help="run cache of the sweep (default: OUT/cache)")
    ap.add_argument("--dry", action="store_true", help="CPU, toy sizes: checks that the script runs")
    ap.add_argument("--skip", nargs="*", default=[], choices=["throughput", "loss", "sweep"])
    ap.add_argument("--deadline-s", type=float, default=540.0, help="wall-time budget of the whole script")
    ap.add_argument("--throughput-s", type=float, default=150.0, help="time budget of the throughput rows")
    ap.add_argument("--seeds", nargs="+", type=int, help="sweep seeds (default: the gpu profile's)")
    ap.add_argument("--extend", type=Path, help="an earlier sweep_gpu.json of the same profile: its rows are "
                    "kept, not run again, and recorded with the new ones")
    args = ap.parse_args(argv)
    deadline = time.perf_counter() + args.deadline_s
    device = "cpu" if args.dry else "cuda"
    if not args.dry and not torch.cuda.is_available():
        print("error: no CUDA device; use --dry to check the script on a CPU", file=sys.stderr)
        return 1
    if "sweep" not in args.skip and args.extend is not None:  # refuse a wrong record now, not after the rest
        try:
            extended(sweep_params(args.dry).replace(**({"seeds": tuple(args.seeds)} if args.seeds else {})),
                     args.extend)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu (dry run)",
                    "versions": versions(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "commit": git_commit(), "failed": {}}
    print(json.dumps(report), flush=True)
    steps = [("throughput", lambda: throughput(device, args.dry, args.out, args.throughput_s)),
             ("loss", lambda: loss_check(device, args.dry)),
             ("sweep", lambda: gpu_sweep(device, args.dry, args.out, args.cache or args.out / "cache", deadline,
                                         args.seeds, args.extend))]
    for name, fn in steps:
        if name in args.skip:
            continue
        t = time.perf_counter()
        try:
            report[name] = fn()
        except Exception as err:  # one broken step must not cost the others their few GPU minutes
            traceback.print_exc()
            report["failed"][name] = f"{type(err).__name__}: {err}"
        print(f"[gpu_check] {name} done in {time.perf_counter() - t:.0f} s", flush=True)
        (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    lines = [f"# GPU check: {report['device']}, {report['date']}", "",
             f"Commit {report['commit']}; " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), ""]
    if "throughput" in report:
        lines += ["| model | batch | dtype | mode | encoder tokens | images/s | MFU (nominal bf16 peak) |",
                  "|---|---|---|---|---|---|---|"]
        for r in report["throughput"]["rows"]:
            mfu = f"{100 * r['mfu_nominal']:.1f} %" if r.get("mfu_nominal") else "n/a"
            lines.append(f"| {r['model']} | {r['batch']} | {r['dtype']} | {r['mode']} | {r['tokens']} | "
                         f"{r['images_per_s']:.0f} | {mfu} |")
    if "loss" in report:
        lines += ["", f"bf16 loss check: {report['loss']}"]
    if "sweep" in report:
        sw = report["sweep"]
        lines += ["", f"sweep: {sw['points']} of {sw['of']} points ({sw['new']} new) in {sw['minutes']:.1f} min "
                  "(sweep_gpu.json)"
                  + (f"; {sw['stopped']}" if sw["stopped"] else "")]
    for name, err in report["failed"].items():
        lines += ["", f"FAILED {name}: {err}"]
    (args.out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    loss = report.get("loss", {"finite": True, "falling": True})
    ok = loss["finite"] and (loss["falling"] or args.dry) and not report["failed"]  # few dry steps need not fall
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
