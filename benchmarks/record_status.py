"""Where the recorded runs stand: every training of the Section 3.6 record and of the sweep record
(the chapters' ``paper`` profiles), how far the run cache has it, and the training time left.

The time left is each unfinished run's remaining steps times the median step of the complete runs
in the cache (interrupted ones too) with the same ratio, model, batch and data (this machine, as measured while they
trained), else the same ratio, model and batch; runs with no such measured run are counted apart.
Evaluation adds about 45 s a run. A run whose row a current record under ``book/recorded/`` holds
(the sweep's pending rows included) counts as recorded in that record, not as left, whatever the cache
holds: the cache of an earlier session may be gone, its records are not. A training both records use
(Section 3.6's baselines are sweep points) is left for each record that lacks its row, and counted
once, in the first such record: the second finds it in the cache.
Reads the cache and the records only; trains nothing.

    python benchmarks/record_status.py [--records DIR]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from mae_hlvm.book import chapter_params, find_root
from mae_hlvm.experiments import RunCache, recorded, section36, sweep
from mae_hlvm.experiments.cache import config_key
from mae_hlvm.experiments.pretraining import KIND, PretrainingParams, steps_done
from mae_hlvm.mae.train import step_seconds


def cost_keys(p: dict) -> tuple[tuple, tuple]:
    """What a step's time depends on, most specific first: (ratio, model, batch, image size, data,
    mask kind), then without data and mask kind."""
    common = (p["mask_ratio"], p["model"], p["batch_size"], p["img_size"])
    return (*common, p["data"], p.get("mask_kind", "random")), common


def measured_steps(cache: RunCache) -> dict[tuple, list[float]]:
    """Median step seconds of every run in the cache with at least 20 logged steps, keyed by
    :func:`cost_keys`."""
    out: dict[tuple, list[float]] = {}
    for run in cache.runs(KIND):
        p = run.record.get("config", {}).get("params", {})
        metrics = run.folder / "metrics.jsonl"
        if not p.get("steps") or not metrics.is_file():
            continue
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        if len(rows) < 20:  # an interrupted run counts once it has a median to give
            continue
        sec = step_seconds(rows)
        if sec == sec and sec > 0:  # not NaN
            for key in cost_keys(p):
                out.setdefault(key, []).append(sec)
    return out


def recorded_keys(folder: Path) -> dict[str, set[str]]:
    """The cache keys of the trainings whose rows the current records in ``folder`` hold, per record:
    ``"section36"``, the Section 3.6 record's (suggestion, arm, seed) rows; ``"sweep"``, the sweep
    record's and its pending file's pretrained rows. A stale record holds nothing (its rows would be
    computed again)."""
    keys: dict[str, set[str]] = {"section36": set(), "sweep": set()}
    s36 = recorded.load(folder / "section36_cpu.json", section36.load_recorded)
    if s36 is not None and s36.current:
        held = {(r["suggestion"], r["arm"], r["seed"]) for r in s36.payload["rows"]}
        keys["section36"] = {config_key(KIND, p.cache_config()) for s, arm, p in s36.params.runs()
                             if (s, arm, p.seed) in held}
    for path in (folder / "sweep_cpu.json", recorded.pending_path(folder / "sweep_cpu.json")):
        rec = recorded.load(path, sweep.load_recorded)
        if rec is not None and rec.current:
            held = {sweep.row_key_of(r) for r in rec.payload["rows"]}
            keys["sweep"] |= {config_key(KIND, p.cache_config()) for p, kind in sweep.runs(rec.params)
                              if kind == "pretrained" and sweep.row_key(p, kind) in held}
    return keys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=Path, default=None, help="default: book/recorded")
    args = ap.parse_args(argv)
    in_records = recorded_keys(args.records or find_root() / "book" / "recorded")
    cache = RunCache()
    s36 = [run for _, _, run in chapter_params("10_section36", "paper").runs()]
    sw = list(chapter_params("09_sweep", "paper").points())
    measured = measured_steps(cache)
    left_before: set[str] = set()  # trainings an earlier record lacks: trained (or found) once, counted there
    print("| record | runs | recorded | complete | started | steps left | training left (h) |")
    print("|---|---|---|---|---|---|---|")
    total_h, unknown = 0.0, 0
    for name, runs, held_here in (("Section 3.6", s36, in_records["section36"]),
                                  ("sweep (after Section 3.6)", sw, in_records["sweep"])):
        n = held = done = started = left = 0
        hours = 0.0
        seen: set[str] = set()  # Section 3.6 lists a baseline under each suggestion that shares it
        for p in runs:
            key = config_key(KIND, p.cache_config())
            if key in seen or (key in left_before and key not in held_here):
                continue
            seen.add(key)
            n += 1
            if key in held_here:
                held += 1
                continue
            left_before.add(key)
            k = steps_done(p, cache)
            done += k == p.steps
            started += 0 < k < p.steps
            left += p.steps - k
            if k < p.steps:
                specific, general = cost_keys(p.to_dict())
                sec = measured.get(specific) or measured.get(general)
                if sec:
                    hours += (p.steps - k) * statistics.median(sec) / 3600
                else:
                    unknown += 1
        total_h += hours
        print(f"| {name} | {n} | {held} | {done} | {started} | {left} | {hours:.1f} |")
    print(f"\nTraining left: about {total_h:.1f} h" + (f", plus {unknown} run(s) at a ratio with no measured step"
                                                       if unknown else "") + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
