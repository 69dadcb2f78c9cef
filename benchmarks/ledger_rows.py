"""The claims ledger's verdicts as the committed records give them: for each row the sweep and the
Section 3.6 record decide, the text ``book/claims.md`` must carry (``tests/test_claims_ledger.py``
fails until it does), or "open" where the record cannot decide it yet; then each rule's comparisons,
for the evidence column. Reads the records only; trains nothing.

    python benchmarks/ledger_rows.py [--details]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mae_hlvm.experiments import section36, sweep
from mae_hlvm.experiments.prose import counted
from mae_hlvm.experiments.recorded import load

RECORDED = Path(__file__).resolve().parents[1] / "book" / "recorded"


def rows(recorded: Path = RECORDED) -> dict[str, str]:
    """{ledger row: the verdict it must carry, or "open"} from the records under ``recorded``."""
    got = {**sweep.ledger_verdicts(load(recorded / "sweep_cpu.json", sweep.load_recorded)),
           **section36.ledger_verdicts(load(recorded / "section36_cpu.json", section36.load_recorded))}
    return {row: v or "open" for row, v in got.items()}


def details(recorded: Path = RECORDED) -> list[str]:
    """One line per comparison of every rule on the records: claim, dataset, comparison, seeds,
    mean difference with its interval, outcome."""
    lines = []
    rec = load(recorded / "sweep_cpu.json", sweep.load_recorded)
    if rec is not None and rec.current:
        frame = rec.frame()
        for d in sorted(set(frame["data"])):
            for v in sweep.decide(frame, d, rec.params.patch):
                lines += [f"{v['claim']} {d}: {c['comparison']}: {_numbers(c)}" for c in v["comparisons"]]
    rec36 = load(recorded / "section36_cpu.json", section36.load_recorded)
    if rec36 is not None and rec36.current:
        for v in section36.decide(rec36.frame()):
            lines += [f"{v['claim']}: {c['comparison']}: {_numbers(c)}" for c in v["comparisons"]]
    return lines


def _numbers(c: dict) -> str:
    if not c.get("n_seeds"):
        return c["outcome"]
    seeds = counted(c['n_seeds'], 'seed')
    return f"{c['difference']:+.4g} [{c['low']:+.4g}, {c['high']:+.4g}] over {seeds}, {c['outcome']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--details", action="store_true", help="also list every comparison")
    args = parser.parse_args(argv)
    for row, verdict in rows().items():
        print(f"{row}: {verdict}")
    if args.details:
        print(*details(), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
