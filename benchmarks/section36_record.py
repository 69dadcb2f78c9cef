"""Run the recorded 3-seed test of Section 3.6 (too long for ``make book``) and write its small
recorded form, ``book/recorded/section36_cpu.json``.

Trains one run at a time through the run cache (baselines and the extreme-ratio pair are the sweep's
points, so run ``benchmarks/sweep_record.py`` first or alongside, never at the same time); an
interrupted call continues where it stopped. After every seed the rows done so far are written, so a
partial record always holds finished runs only; while they are fewer than the record already there
holds, they go to ``section36_cpu.partial.json`` beside it instead.

    python benchmarks/section36_record.py              # chapter 10's paper profile (hours)
    python benchmarks/section36_record.py --seeds 0 --suggestions object --out s36-seed0.json
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from mae_hlvm.book import chapter_params, find_root
from mae_hlvm.experiments.cache import commit_of_this_process
from mae_hlvm.experiments import recorded, section36
from mae_hlvm.experiments.section36 import Section36Result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int, help="default: the profile's")
    ap.add_argument("--suggestions", nargs="+", choices=section36.SUGGESTIONS, help="default: the profile's")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=None, help="default: book/recorded/section36_cpu.json")
    args = ap.parse_args(argv)
    commit_of_this_process()  # the records name the code that starts now, not a later HEAD
    out = args.out or find_root() / "book" / "recorded" / "section36_cpu.json"
    command = "python benchmarks/section36_record.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    full = chapter_params("10_section36", "paper")  # one definition of the recorded setting: that profile
    full = full.replace(**{k: tuple(v) for k, v in (("seeds", args.seeds), ("suggestions", args.suggestions)) if v})
    rows, trained, seconds, done = [], 0, 0.0, []
    for seed in full.seeds:
        part = section36.run(full.replace(seeds=(seed,)), device=args.device,
                             progress=lambda line: print(line, flush=True))
        rows += part.rows
        trained, seconds = trained + part.trained, seconds + part.seconds
        done.append(seed)
        result = Section36Result(full.replace(seeds=tuple(done)), rows, trained, seconds)
        saved = recorded.save_progress(out, rows, section36.ROW_KEY,
                                       lambda path: section36.record(result, path, command))
        print(f"[record] seed {seed} done: {saved}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
