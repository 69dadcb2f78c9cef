"""Compute rows of a recorded sweep again with today's code and compare them with what it holds.

A recording that spans sessions keeps the rows of earlier ones instead of computing them again
(``benchmarks/sweep_record.py``); the record is then as good as the claim that today's code computes
the rows an earlier commit did. The record's check (same resolved configurations, same library
version) does not see a change in how a number is computed, so this script computes chosen rows from
nothing (a temporary run cache) and prints, metric by metric, the recorded value, today's and their
difference, beside the mean difference between the record's seeds at the same point (the scale a
difference is read against). Timings are left out (they measure the machine, not the code). Exit
status 1 when any metric differs by more than ``--tol``.

    python benchmarks/record_recheck.py     # the untrained row of the record's first block: evaluation only, minutes
    python benchmarks/record_recheck.py --row shapes 0 0.9 4 pretrained --out benchmarks/results/record_recheck.md
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
import tempfile
from pathlib import Path

from mae_hlvm.book import find_root
from mae_hlvm.experiments import RunCache, sweep
from mae_hlvm.experiments.cache import provenance

TIMINGS = ("train_seconds", "step_seconds", "images_per_s")  # the machine's, not the code's


def parse_row(values: list[str]) -> tuple:
    """``[data, seed, ratio, unit, kind]`` from the command line as a ``sweep.ROW_KEY`` tuple."""
    data, seed, ratio, unit, *kind = values
    return data, int(seed), float(ratio), int(unit), " ".join(kind)


def gap(a: object, b: object) -> float:
    """|a - b|: 0 for equal values (None and NaN included), the largest gap of their items for two
    sequences of one length (a loss curve's (step, loss) pairs; JSON gives lists where Python gave
    tuples), inf where one is missing or not a number."""
    if a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        return 0.0
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return max(gap(x, y) for x, y in zip(a, b))
    return math.inf


def shown(value: object) -> str:
    """A value for the report's table: a sequence by its length, not its items."""
    return f"({len(value)} values)" if isinstance(value, (list, tuple)) else str(value)


def differences(held: dict, now: dict) -> list[tuple[str, object, object, float]]:
    """(metric, recorded, today's, :func:`gap`) for every field of ``held`` but the row's key and the
    timings."""
    return [(name, a, now.get(name), gap(a, now.get(name))) for name, a in held.items()
            if name not in sweep.ROW_KEY and name not in TIMINGS]


def seed_spread(rows: list[dict], row: dict, metric: str) -> float | None:
    """The mean :func:`gap` of ``metric`` between ``row`` and the rows of the same point and kind at the
    other seeds (what a difference is measured against); None where there are none."""
    point = ("data", "ratio", "unit", "kind")
    same = [r for r in rows if r["seed"] != row["seed"] and all(r[k] == row[k] for k in point)]
    gaps = [gap(r.get(metric), row.get(metric)) for r in same]
    gaps = [g for g in gaps if math.isfinite(g)]
    return sum(gaps) / len(gaps) if gaps else None


def machine_text(m: dict) -> str:
    """A recorded machine in a few words: CPU model and vector instructions (where recorded), cores,
    torch and its threads."""
    cpu = ", ".join(str(m[k]) for k in ("cpu_model", "cpu_capability") if m.get(k)) or "CPU model not recorded"
    return f"{cpu}, {m.get('cpu_cores')} cores, torch {m.get('torch')} ({m.get('torch_threads')} threads)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", type=Path, default=None, help="default: book/recorded/sweep_cpu.json")
    ap.add_argument("--row", nargs="+", action="append", metavar="FIELD",
                    help="data seed ratio unit kind (repeatable; default: the record's first untrained row)")
    ap.add_argument("--tol", type=float, default=1e-6, help="largest difference that counts as the same")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cache", type=Path, default=None,
                    help="run cache to compute in (default: a temporary one, so every row is computed from nothing; "
                         "name one, empty at first, to render the report again without computing)")
    ap.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = ap.parse_args(argv)
    path = args.record or find_root() / "book" / "recorded" / "sweep_cpu.json"
    rec = sweep.load_recorded(path)
    if rec.stale:
        print(f"error: {path}: the record is stale ({'; '.join(rec.stale)}); nothing to compare", file=sys.stderr)
        return 2
    held = {sweep.row_key_of(r): r for r in rec.payload["rows"]}
    keys = [parse_row(r) for r in args.row] if args.row else [next(k for k in held if k[-1] == "random init")]
    runs = {sweep.row_key(p, kind): (p, kind) for p, kind in sweep.runs(rec.params)}
    for k in keys:
        if k not in held:
            print(f"error: row {k}: the record holds no such row (rows are data, seed, ratio, unit, kind)",
                  file=sys.stderr)
            return 2
    lines = [f"Rows of `{path.name}` computed again: `python benchmarks/record_recheck.py "
             f"{shlex.join(argv if argv is not None else sys.argv[1:])}`", ""]
    prov = provenance()
    lines += [f"The rows: {rec.provenance_text()}; machine {machine_text(rec.payload['machine'])}.", "",
              f"Today: commit {prov['commit']}, {prov['date'][:10]}; machine {machine_text(prov['machine'])}.", ""]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        cache = RunCache(args.cache or Path(tmp))
        for k in keys:
            p, kind = runs[k]
            now, _ = sweep.point_row(p, kind, rec.params.evaluation(), cache, args.device)
            diffs = differences(held[k], now)
            worst = max([worst, *(d for *_, d in diffs)])
            lines += [f"### {k}", "", "| metric | recorded | today | difference | between seeds |",
                      "|---|---|---|---|---|"]
            shares = []  # (difference / between-seed spread, metric)
            for m, a, b, d in diffs:
                spread = seed_spread(rec.payload["rows"], held[k], m)
                between = "" if spread is None else f"{spread:.3g}"
                lines.append(f"| {m} | {shown(a)} | {shown(b)} | {d:.3g} | {between} |")
                if spread and d > args.tol:
                    shares.append((d / spread, m))
            same = sum(d <= args.tol for *_, d in diffs)
            lines += ["", f"{same} of {len(diffs)} metrics within {args.tol:g}; largest difference "
                      f"{max(d for *_, d in diffs):.3g}" + (
                          "; largest against the spread between seeds: {:.2g} of it ({})".format(*max(shares))
                          if shares else "") + ".", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
