"""The theory of Kong et al. (2023), executable: hierarchical latent graphs (Assumption 1),
Algorithms 1 and 2 *reconstructed from Theorem 1* (the paper's appendix is not available), random
unit masks, and the Monte Carlo of what masking predicts.

A graph that breaks Assumption 1 raises :class:`GraphError` (a ``ValueError``), whoever checks it:
:func:`validate_graph`, :func:`compile_graph` / :func:`locate`, or the data sampler.

Pinned API: ``locate(graph, masked)`` -> object with ``.c``, ``.common`` (A), ``.s_m``, ``.s_mc``
(frozensets of node ids); ``brute_force_locate(graph, masked)``.
"""
from .assumption import CheckedGraph, GraphError, check_assumption1
from .graphs import (figure1_graph, figure2_graph, figure4_graph, kary_tree, latents, node_dims,
                     note_dag, note_forest, note_tree, observables, quadtree, random_layered_dag,
                     tree_positions, validate_graph, validate_mask)
from .locate import (BRUTE_FORCE_MAX_LATENTS, BruteForce, HierarchyIndex, Located, brute_force_locate,
                     compile_graph, locate)
from .masks import (MirrorCounts, grid_mask_nodes, mirror_counts, node_levels, random_unit_masks,
                    subtree_masks, unit_counts)
from .predictions import MaskingSweep, feasible_units, masking_sweep, mirror_noise_text, noise_bound
from .plotting import draw_hierarchy, draw_quadtree_located, html_table
from .quadtree_locate import QuadtreeLocated, locate_quadtree

__all__ = [
    "CheckedGraph", "GraphError", "check_assumption1",
    "figure1_graph", "figure2_graph", "figure4_graph", "kary_tree", "latents", "node_dims", "note_dag",
    "note_forest", "note_tree", "observables", "quadtree", "random_layered_dag", "tree_positions",
    "validate_graph", "validate_mask",
    "BRUTE_FORCE_MAX_LATENTS", "BruteForce", "HierarchyIndex", "Located", "brute_force_locate", "compile_graph",
    "locate",
    "MirrorCounts", "grid_mask_nodes", "mirror_counts", "node_levels", "random_unit_masks", "subtree_masks",
    "unit_counts",
    "MaskingSweep", "feasible_units", "masking_sweep", "mirror_noise_text", "noise_bound",
    "QuadtreeLocated", "locate_quadtree", "draw_hierarchy", "draw_quadtree_located", "html_table",
]
