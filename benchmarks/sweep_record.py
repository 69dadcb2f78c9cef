"""Run the recorded multi-seed sweep (too long for ``make book``) and write its small recorded form.

Trains one point at a time through the run cache, so an interrupted run (a session that ends, a
killed process) continues where it stopped when started again; after every (seed, dataset) block the
rows done so far are written to the record, so a partial record always reflects finished points (the
chapter counts the seeds per dataset from the rows, not from the profile); while they are fewer than
the record already there holds, they go to ``sweep_cpu.partial.json`` beside it instead.

    python benchmarks/sweep_record.py          # the sweep chapter's paper profile: 3 seeds x 2 datasets (hours)
    python benchmarks/sweep_record.py --seeds 0 --datasets shapes --out sweep-seed0.json
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from mae_hlvm.book import chapter_params, find_root
from mae_hlvm.experiments.cache import commit_of_this_process
from mae_hlvm.experiments import recorded, sweep
from mae_hlvm.experiments.sweep import SweepResult


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int, help="default: the profile's")
    ap.add_argument("--datasets", nargs="+", choices=sweep.DATASETS, help="default: the profile's")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=None, help="default: book/recorded/sweep_cpu.json")
    args = ap.parse_args(argv)
    commit_of_this_process()  # the records name the code that starts now, not a later HEAD
    out = args.out or find_root() / "book" / "recorded" / "sweep_cpu.json"
    command = "python benchmarks/sweep_record.py " + shlex.join((argv if argv is not None else sys.argv[1:]))
    full = chapter_params("09_sweep", "paper")  # one definition of the recorded setting: that profile
    full = full.replace(**{k: tuple(v) for k, v in (("seeds", args.seeds), ("datasets", args.datasets)) if v})
    rows, trained, seconds, train_seconds = [], 0, 0.0, 0.0
    for seed in full.seeds:  # seed-major: a partial record covers both datasets as early as possible
        for data in full.datasets:
            part = sweep.run(full.replace(datasets=(data,), seeds=(seed,)), device=args.device,
                             progress=lambda line: print(line, flush=True))
            rows += part.rows
            trained, seconds, train_seconds = (trained + part.trained, seconds + part.seconds,
                                               train_seconds + part.train_seconds)
            result = SweepResult(full, rows, trained, seconds, train_seconds)
            saved = recorded.save_progress(out, rows, sweep.ROW_KEY, lambda path: sweep.record(result, path, command))
            print(f"[record] {data}, seed {seed} done: {saved}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
