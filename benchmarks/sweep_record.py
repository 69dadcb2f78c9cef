"""Run the recorded multi-seed sweep (too long for ``make book``) and write its small recorded form.

Trains one point at a time, in blocks of one seed and one dataset (the grid's points and the
untrained twin). The record, ``book/recorded/sweep_cpu.json``, holds the finished blocks only (the
chapter counts the seeds per dataset from its rows); the finished rows of a block still open are
kept beside it in ``sweep_cpu.pending.json``, rewritten after every point. Both files are committed,
and the recording goes on from them: rows either holds are kept, not computed again (their
provenance goes with them, under ``earlier``), so a session that ends, or a run cache that does not
survive it, costs at most the point in progress (which also resumes from its checkpoint while the
cache is there). A record of other settings, or a stale one, is refused rather than mixed with new
rows: move it away, or write elsewhere with ``--out``. ``--seeds`` and ``--datasets`` add to what the
record at ``--out`` holds (nothing it holds is dropped, and its open blocks are completed).

    python benchmarks/sweep_record.py          # the sweep chapter's paper profile: 3 seeds x 2 datasets (hours)
    python benchmarks/sweep_record.py --seeds 0 --datasets shapes --out sweep-seed0.json
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from mae_hlvm.book import chapter_params, find_root
from mae_hlvm.experiments.cache import commit_of_this_process
from mae_hlvm.experiments import recorded, sweep
from mae_hlvm.experiments.prose import counted
from mae_hlvm.experiments.sweep import SweepResult


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int,
                    help="default: the profile's; a record at --out adds its seeds (its rows are kept, and completed)")
    ap.add_argument("--datasets", nargs="+", choices=sweep.DATASETS,
                    help="default: the profile's; a record at --out adds its datasets, as for --seeds")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=None, help="default: book/recorded/sweep_cpu.json")
    args = ap.parse_args(argv)
    commit_of_this_process()  # the records name the code that starts now, not a later HEAD
    out = args.out or find_root() / "book" / "recorded" / "sweep_cpu.json"
    pending = recorded.pending_path(out)
    command = "python benchmarks/sweep_record.py " + shlex.join((argv if argv is not None else sys.argv[1:]))
    full = chapter_params("09_sweep", "paper")  # one definition of the recorded setting: that profile
    full = full.replace(**{k: tuple(v) for k, v in (("seeds", args.seeds), ("datasets", args.datasets)) if v})
    done: dict[tuple, dict] = {}
    earlier: list[dict] = []
    kept: list[str] = []
    for path, flag in ((out, "the record"), (pending, "the pending rows")):
        try:
            full, rows, where = sweep.keepable(path, full, flag, ignore=("seeds", "datasets"))
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        new = [r for r in rows if sweep.row_key_of(r) not in done]
        done.update((sweep.row_key_of(r), r) for r in new)
        earlier += recorded.restrict(where, [sweep.row_key_of(r) for r in new])
        kept += [f"{counted(len(new), 'row')} of {path.name}"] if new else []
    if kept:
        print(f"[record] kept {' and '.join(kept)}, not computed again", flush=True)
    blocks = [[sweep.row_key(p, kind) for p, kind in sweep.runs(full.replace(datasets=(d,), seeds=(s,)))]
              for s in full.seeds for d in full.datasets]  # seed-major: both datasets as early as possible
    trained, t0 = 0, time.perf_counter()

    def save() -> str:
        finished = [done[k] for b in blocks if all(k in done for k in b) for k in b]
        open_rows = [done[k] for b in blocks if not all(k in done for k in b) for k in b if k in done]

        def write(rows: list[dict], path: Path) -> Path:
            result = SweepResult(full, rows, trained, time.perf_counter() - t0, sum(r["train_seconds"] for r in rows))
            return sweep.record(result, path, command, recorded.restrict(earlier, [sweep.row_key_of(r) for r in rows]))

        saved = (recorded.save_progress(out, finished, sweep.ROW_KEY, lambda path: write(finished, path))
                 if finished or out.is_file() else "no block finished yet")
        if open_rows:
            write(open_rows, pending)
        else:
            pending.unlink(missing_ok=True)
        return saved + (f"; {counted(len(open_rows), 'row')} of open blocks in {pending.name}" if open_rows else "")

    order = {(s, d): i for i, (s, d) in enumerate((s, d) for s in full.seeds for d in full.datasets)}
    for row, was_trained in sweep.rows(full, device=args.device, progress=lambda line: print(line, flush=True),
                                       order=lambda p: order[p.seed, p.data], skip=set(done)):
        trained += was_trained
        done[sweep.row_key_of(row)] = row
        print(f"[record] {row['data']}, seed {row['seed']}, ratio {row['ratio']}, unit {row['unit']} "
              f"({row['kind']}) done: {save()}", flush=True)
    print(f"[record] all {len(done)} runs done: {save()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
