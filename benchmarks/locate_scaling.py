"""Time Algorithm 1 (reconstructed) against graph size on quadtree hierarchies, 10^3 to 10^6 nodes.

Usage (from the repository root):

    python benchmarks/locate_scaling.py                      # print the table
    python benchmarks/locate_scaling.py --out benchmarks/results/locate_scaling.md

Columns: nodes and edges of ``quadtree(depth)``; seconds to build the networkx graph, to compile it
(validation included) into a HierarchyIndex, for one ``locate(index, pixel_ids)`` with a random 75 %
pixel mask (median of ``--repeats``; id lookup and the frozensets of c and A included), for
``index.locate_many`` on the same mask as a boolean array (the Monte Carlo path for any DAG), and for
the vectorised ``locate_quadtree``. Not a test: nothing here is asserted.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time

import numpy as np

from mae_hlvm.hierarchy import compile_graph, grid_mask_nodes, locate, locate_quadtree, quadtree, random_unit_masks


def _timed(fn, repeats: int = 1) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def run(depths: list[int], repeats: int, ratio: float, seed: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(seed)
    for depth in depths:
        t_build, g = _timed(lambda: quadtree(depth))
        t_compile, index = _timed(lambda: compile_graph(g))
        mask, _ = random_unit_masks(2 ** depth, ratio, 1, 1, rng)
        ids = grid_mask_nodes(mask[0])

        def one_call():
            found = locate(index, ids)
            return len(found.c), len(found.common)

        t_locate, (n_c, n_a) = _timed(one_call, repeats)
        flat = mask[0].reshape(-1)  # observables of quadtree() come in row-major pixel order
        t_array, _ = _timed(lambda: index.locate_many(flat), repeats)
        t_quad, _ = _timed(lambda: locate_quadtree(mask), repeats)
        rows.append({"depth": depth, "nodes": g.number_of_nodes(), "edges": g.number_of_edges(),
                     "build_s": t_build, "compile_s": t_compile, "locate_s": t_locate, "array_s": t_array,
                     "quadtree_s": t_quad, "c": n_c, "A": n_a})
        print(f"depth {depth}: {rows[-1]}", file=sys.stderr, flush=True)
        del g, index
    return rows


def table(rows: list[dict]) -> str:
    head = "| depth | nodes | edges | build graph (s) | compile (s) | locate, ids (s) | locate_many, array (s) | locate_quadtree (s) | \\|c\\| | \\|A\\| |"
    lines = [head, "|" + "---:|" * 10]
    for r in rows:
        lines.append(f"| {r['depth']} | {r['nodes']:,} | {r['edges']:,} | {r['build_s']:.3f} | {r['compile_s']:.3f} "
                     f"| {r['locate_s']:.4f} | {r['array_s']:.4f} | {r['quadtree_s']:.4f} | {r['c']:,} | {r['A']:,} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depths", type=int, nargs="+", default=[4, 5, 6, 7, 8, 9, 10])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ratio", type=float, default=0.75)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also write the table with its provenance to this markdown file")
    args = p.parse_args(argv)
    load_before = os.getloadavg()[0]
    rows = run(args.depths, args.repeats, args.ratio, args.seed)
    text = table(rows)
    print(text)
    if args.out:
        cmd = "python benchmarks/locate_scaling.py " + " ".join(sys.argv[1:] if argv is None else argv)
        meta = (f"Command: `{cmd.strip()}`  \n"
                f"Date (UTC): {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M')}  \n"
                f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform(terse=True)}, "
                f"Python {platform.python_version()}, NumPy {np.__version__}; load average before the run "
                f"{load_before:.2f} (other jobs share the cores, so times are upper bounds)  \n"
                f"Mask: uniform random pixel mask, ratio {args.ratio}, seed {args.seed}; "
                f"locate columns are medians of {args.repeats} runs.\n\n")
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as fh:
            fh.write(meta + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
