"""Throughput of the data generators: shapes images per second (target >= 2,000 at 32 px) per
variant, hierarchical vector samples per second, and the Fashion-MNIST load time.

    python benchmarks/data_throughput.py                # 4,096 images per variant, 32 px
    python benchmarks/data_throughput.py --n 1024 --size 64
"""
from __future__ import annotations

import argparse
import time

import networkx as nx

from mae_hlvm.data.shapes import CHUNK, VARIANTS, render_shapes
from mae_hlvm.data.vectors import sample_hierarchy

TARGET = 2000.0


def _quadtree(depth: int) -> nx.DiGraph:
    try:  # the theory library's builder when present; a plain networkx one otherwise
        from mae_hlvm.hierarchy.graphs import quadtree
        return quadtree(depth)
    except ImportError:
        g = nx.balanced_tree(4, depth, create_using=nx.DiGraph)
        nx.set_node_attributes(g, {v: g.out_degree(v) == 0 for v in g}, "observed")
        return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4096, help="images per variant")
    ap.add_argument("--size", type=int, default=32, help="image side in pixels")
    ap.add_argument("--vectors", type=int, default=100_000, help="vector samples")
    args = ap.parse_args()

    render_shapes(CHUNK, 0, size=args.size)  # warm-up (first-call allocations)
    print(f"shapes, {args.n} images of {args.size}x{args.size} per variant (target >= {TARGET:.0f} images/s at 32 px)")
    print("  (wall clock, and per CPU-second of this process: the renderer runs on one thread, so the second")
    print("   number is what one free core gives; the first drops when other jobs share the cores)")
    worst = float("inf")
    for variant in VARIANTS:
        t, c = time.perf_counter(), time.process_time()
        render_shapes(args.n, seed=1, size=args.size, variant=variant)
        rate, cpu_rate = args.n / (time.perf_counter() - t), args.n / (time.process_time() - c)
        worst = min(worst, rate)
        print(f"  {variant:<13s} {rate:8.0f} images/s   {cpu_rate:8.0f} images per CPU-second")
    print(f"  slowest variant: {worst:.0f} images/s (wall) -> {'meets' if worst >= TARGET else 'BELOW'} the target")

    g = _quadtree(3)
    t = time.perf_counter()
    s = sample_hierarchy(g, args.vectors, seed=0)
    dt = time.perf_counter() - t
    print(f"vectors, quadtree depth 3 ({g.number_of_nodes()} nodes, x of dim {s.x.shape[1]}): "
          f"{args.vectors} samples in {dt:.2f} s ({args.vectors / dt:,.0f} samples/s, model build included)")

    try:
        from mae_hlvm.data.fashion_mnist import load_fashion_mnist
        t = time.perf_counter()
        x, _ = load_fashion_mnist("train")
        print(f"fashion-mnist train: {x.shape[0]} images loaded in {time.perf_counter() - t:.2f} s")
    except FileNotFoundError as err:
        print(f"fashion-mnist: not installed ({err})")


if __name__ == "__main__":
    main()
