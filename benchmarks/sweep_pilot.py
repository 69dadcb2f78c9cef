"""Pilot for the sweep's budget: seconds per step of candidate models across masking ratios, then,
for one model, the linear probe of pretrained against random-init encoders at growing step counts.

The sweep's budget is the smallest one at which the pretrained encoder clearly beats a random one on
the probe (decided here as: logistic-probe accuracy at least 5 points above the random encoder's on
1,000 held-out shapes images). Runs go through the run cache, so the chosen budget's run is a sweep
point that the sweep then loads instead of training again.

    python benchmarks/sweep_pilot.py --models mae_tiny_p2 mae_mini_p2 --steps 300 600 1200 --probe-model mae_mini_p2
"""
from __future__ import annotations

import argparse
import time

import torch

from mae_hlvm.experiments import RunCache, pretraining
from mae_hlvm.experiments.evaluation import EvaluationParams, evaluate
from mae_hlvm.mae import MaskedAutoencoder
from mae_hlvm.mae.masking import make_grid, random_masking_indices
from mae_hlvm.mae.train import build_optimizer


def seconds_per_step(model_name: str, ratio: float, batch: int = 128, steps: int = 6) -> float:
    """Median seconds of one optimiser step (forward, backward, AdamW) at ``ratio``, units of a patch."""
    params = pretraining.PretrainingParams(model=model_name, mask_ratio=ratio)
    torch.manual_seed(0)
    net = MaskedAutoencoder(params.pretrain_config().model_config()).train()
    opt = build_optimizer(net, params.pretrain_config())
    x = torch.rand(batch, 3, net.cfg.img_size, net.cfg.img_size)
    grid = make_grid(net.cfg.img_size, net.cfg.patch_size, None)
    times = []
    for i in range(steps + 2):
        _, _, m = random_masking_indices(batch, grid, ratio, generator=torch.Generator().manual_seed(i))
        t = time.perf_counter()
        loss = net(x, mask=m.bool()).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["mae_tiny_p2", "mae_mini_p2"])
    ap.add_argument("--ratios", nargs="+", type=float, default=[0.1, 0.75, 0.9])
    ap.add_argument("--probe-model", default="mae_mini_p2")
    ap.add_argument("--steps", nargs="+", type=int, default=[300, 600, 1200])
    ap.add_argument("--n-images", type=int, default=20000)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("\nseconds per step (batch 128, units of one patch):")
    print("model".ljust(14) + "".join(f"r={r:<8g}" for r in args.ratios))
    for name in args.models:
        print(name.ljust(14) + "".join(f"{seconds_per_step(name, r):<10.3f}" for r in args.ratios), flush=True)

    suite = EvaluationParams(evaluations=("probe",), probe="logistic", n_train=3000, n_test=1000)
    cache = RunCache()
    print(f"\n{args.probe_model}, ratio 0.75, unit one patch, {args.n_images} images: logistic probe top-1 (%)")
    patch = pretraining.PretrainingParams(model=args.probe_model).pretrain_config().model_config().patch_size
    base = pretraining.PretrainingParams(model=args.probe_model, n_images=args.n_images, mask_unit=patch)
    rand = evaluate(pretraining.run(base.replace(steps=0), cache), suite, cache)["probe"]["accuracy"]
    print(f"random init: {100 * rand:.1f}")
    for steps in args.steps:
        run = pretraining.run(base.replace(steps=steps, warmup_steps=max(steps // 20, 1)), cache)
        acc = evaluate(run, suite, cache)["probe"]["accuracy"]
        print(f"{steps:>5} steps: {100 * acc:.1f} (+{100 * (acc - rand):.1f} over random), trained in "
              f"{run.train_seconds / 60:.1f} min, held-out loss / mean-colour baseline {run.heldout['ratio']:.3f}",
              flush=True)


if __name__ == "__main__":
    main()
