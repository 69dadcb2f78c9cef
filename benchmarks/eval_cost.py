"""The evaluation suite's cost per model at the default profile, evaluation by evaluation.

``mae_hlvm.experiments.evaluation.evaluate`` times every evaluation of a suite and the work they
share (rendering the evaluation sets, extracting the encoder's features once for the probe, the
shifted sets, shape bias, t-SNE and the latent regressions). This script runs the default suite on
one model, with no cache, and prints the seconds of each part and its share.

    python benchmarks/eval_cost.py                                # an untrained shapes model (~1 min)
    python benchmarks/eval_cost.py --checkpoint runs/cache/pretraining/<key>/checkpoint.pt
    python benchmarks/eval_cost.py --data fashion_mnist --out benchmarks/results/eval_cost_cpu.md

The weights hardly change the cost (the probe's iterations and t-SNE's do a little), so the default,
an untrained model of chapter 06's configuration, needs no training run.
"""
from __future__ import annotations

import argparse
import io
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from mae_hlvm.experiments.evaluation import EvaluationParams, evaluate
from mae_hlvm.experiments.pretraining import PretrainingParams
from mae_hlvm.mae import MaskedAutoencoder, load_pretrained


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="shapes", choices=("shapes", "fashion_mnist"))
    ap.add_argument("--checkpoint", type=Path, help="a trained model (default: untrained, same shape)")
    ap.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = ap.parse_args(argv)
    if args.checkpoint:
        model = load_pretrained(args.checkpoint).eval()
    else:
        torch.manual_seed(0)
        model = MaskedAutoencoder(PretrainingParams(data=args.data).pretrain_config().model_config())
    suite = EvaluationParams()
    result = evaluate(model, suite)
    seconds = result["seconds"]
    total = sum(seconds.values())
    lines = [
        f"Command: `python benchmarks/eval_cost.py {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
        f"Date (UTC): {datetime.now(timezone.utc):%Y-%m-%d %H:%M}; machine: {platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}  ",
        f"Suite: the default profile's `EvaluationParams()` on {args.data} "
        f"({'checkpoint ' + str(args.checkpoint) if args.checkpoint else 'untrained model'}); "
        f"not applicable here: {', '.join(result.get('not_applicable', [])) or 'none'}",
        "",
        "| part | seconds | share |",
        "|---|---|---|",
        *(f"| {name} | {s:.2f} | {s / total:.0%} |" for name, s in sorted(seconds.items(), key=lambda kv: -kv[1])),
        f"| **total** | {total:.1f} | |",
        "",
        f"Largest part: {max(seconds, key=seconds.get)}. `features` is the encoder's forward pass over every "
        f"evaluation image, done once and shared by probe, robustness, shape bias, t-SNE and identifiability.",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
