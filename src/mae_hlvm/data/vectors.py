"""Vector data from a hierarchical latent variable model with known ground truth.

Every node ``v`` of a networkx DiGraph is a vector, generated from its parents and its own noise as
in Eq. (1) of Kong et al. (2023):  ``v = g_v(Pa(v), eps_v)``  with ``g_v`` invertible.  Nodes with
attribute ``observed=True`` are the observables ("patches" of the datum); all others are latents.
A sample returns every latent and every noise, so any of them can be regressed from a learned
representation of the observables.

A node's attribute ``dim`` (default 1) is the dimension of its own noise eps_v, the convention of
``mae_hlvm.hierarchy.graphs.node_dims``.  Two readings of "invertible g_v" are offered (``mechanism=``):

- ``"joint"`` (default, the paper's Assumption 1): ``(Pa(v), eps_v) -> v`` is a bijection, so
  ``dim(v) = dim(Pa(v)) + dim(eps_v)``; the whole hierarchy is then an invertible map from the
  root and noise variables to the observables.
- ``"additive"``: ``v = f_v(M_v Pa(v) + eps_v)`` with ``f_v`` a bijection of R^dim(v) and
  ``dim(v) = dim(eps_v)``; invertible in ``eps_v`` for fixed parents (the post-nonlinear
  additive-noise model), so vectors keep one size down the hierarchy.

``g_v`` (resp. ``f_v``) is a leaky-ReLU MLP whose square weight matrices are drawn as
``Q1 diag(s) Q2`` (orthogonal Q, singular values in [0.5, 1.5]), hence well-conditioned and
invertible; each node's output is standardised with a fixed affine map fitted on a pilot draw so
values stay O(1) however deep the graph is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Literal

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F

from mae_hlvm.compute import torch_threads
from mae_hlvm.hierarchy.assumption import check_assumption1

NOISES = ("gaussian", "uniform", "laplace")
MECHANISMS = ("joint", "additive")
_PILOT = 4096


def _random_invertible(d: int, gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """A d x d matrix Q1 diag(s) Q2 with s ~ U[0.5, 1.5]: condition number at most 3."""
    q1, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    q2, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    s = 0.5 + torch.rand(d, generator=gen, dtype=torch.float64)
    return (q1 @ torch.diag(s) @ q2).to(dtype)


def _noise(shape: tuple[int, int], kind: str, gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """Zero-mean, unit-variance noise of the given family."""
    if kind == "gaussian":
        return torch.randn(shape, generator=gen, dtype=dtype)
    u = torch.rand(shape, generator=gen, dtype=dtype)
    if kind == "uniform":
        return (u - 0.5) * (12.0 ** 0.5)
    # Laplace by inverse CDF, scale 1/sqrt(2) for unit variance
    u = u.clamp(1e-7, 1 - 1e-7) - 0.5
    return -torch.sign(u) * torch.log1p(-2 * u.abs()) / (2.0 ** 0.5)


@dataclass
class Mechanism:
    """The invertible map g_v of one node.  ``parent_dim + noise_dim`` inputs, ``dim`` outputs."""

    dim: int
    parent_dim: int
    noise_dim: int
    kind: str
    weights: list[torch.Tensor]          # each [dim, dim]
    biases: list[torch.Tensor]           # each [dim]
    slope: float
    mix: torch.Tensor | None = None      # [parent_dim, dim], additive mechanism only
    shift: torch.Tensor | None = None    # [dim], output standardisation
    scale: torch.Tensor | None = None    # [dim]

    def _mlp(self, h: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w.T + b
            if i < last:  # the last layer stays linear so outputs are not sign-skewed
                h = F.leaky_relu(h, self.slope)
        return h

    def _mlp_inverse(self, h: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        for i in range(last, -1, -1):
            if i < last:
                h = torch.where(h >= 0, h, h / self.slope)
            h = torch.linalg.solve(self.weights[i], (h - self.biases[i]).T).T
        return h

    def __call__(self, parents: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """parents [N, parent_dim], noise [N, noise_dim] -> v [N, dim]."""
        if self.kind == "joint":
            h = self._mlp(torch.cat([parents, noise], dim=1))
        else:
            h = self._mlp(parents @ self.mix + noise)
        if self.shift is not None:
            h = (h - self.shift) / self.scale
        return h

    def invert(self, value: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
        """Recover the noise eps_v [N, noise_dim] from v [N, dim] and its parents [N, parent_dim]."""
        h = value * self.scale + self.shift if self.shift is not None else value
        h = self._mlp_inverse(h)
        if self.kind == "joint":
            return h[:, self.parent_dim:]
        return h - parents @ self.mix


@dataclass
class VectorSample:
    """N draws of every node of the graph.

    ``values[v]`` is [N, dim(v)] for every node (latents and observables), ``noises[v]`` is
    [N, dim(eps_v)] (>= 1 per node). ``observed`` lists the
    observable nodes in graph order; ``x`` concatenates them: [N, sum of their dims].
    """

    graph: nx.DiGraph
    values: dict[Hashable, torch.Tensor]
    noises: dict[Hashable, torch.Tensor]
    observed: tuple[Hashable, ...]
    latent_nodes: tuple[Hashable, ...] = field(default=())

    def __len__(self) -> int:
        return next(iter(self.values.values())).shape[0]

    @property
    def x(self) -> torch.Tensor:
        """Observables, concatenated in ``observed`` order: [N, D]."""
        return torch.cat([self.values[v] for v in self.observed], dim=1)

    @property
    def latents(self) -> dict[Hashable, torch.Tensor]:
        """Values of the latent (non-observed) nodes, each [N, dim]."""
        return {v: self.values[v] for v in self.latent_nodes}

    def subset(self, idx: Any) -> "VectorSample":
        """The samples selected by ``idx`` (slice, index tensor / list, or boolean mask), every node kept."""
        idx = idx if isinstance(idx, slice) else torch.as_tensor(idx)
        return VectorSample(self.graph, {v: x[idx] for v, x in self.values.items()},
                            {v: e[idx] for v, e in self.noises.items()}, self.observed, self.latent_nodes)

    def patches(self) -> torch.Tensor:
        """Observables as patches: [N, P, d]; requires every observable to have the same dim."""
        dims = {self.values[v].shape[1] for v in self.observed}
        if len(dims) != 1:
            raise ValueError(f"observables have different dims {sorted(dims)}; patches() needs one dim, use .x")
        return torch.stack([self.values[v] for v in self.observed], dim=1)


def check_graph(graph: Any) -> list[Hashable]:
    """Check ``graph`` against Assumption 1 for sampling; return its nodes in topological order.

    The rules are :func:`mae_hlvm.hierarchy.check_assumption1`'s, relaxed where sampling needs less:
    one observable suffices and a latent may generate no observable (it is still drawn, e.g. as a
    control that no representation of x can recover). Raises
    :class:`mae_hlvm.hierarchy.GraphError`. The order is networkx's ``topological_sort``: it fixes the
    order in which the random draws are made, so it must not change for a seed to give the same data.
    """
    check_assumption1(graph, min_observables=1, latents_reach_observables=False)
    return list(nx.topological_sort(graph))


class HierarchicalVectorModel:
    """A fixed random instance of the generating process on ``graph``; ``sample`` draws from it.

    Dimensions: dim(eps_v) is the node's ``dim`` attribute, else ``noise_dim``; dim(v) is
    dim(eps_v) + dim(Pa(v)) under ``"joint"`` and dim(eps_v) under ``"additive"``.
    ``self.dims`` holds dim(v) for every node.
    """

    def __init__(self, graph: nx.DiGraph, seed: int = 0, *, mechanism: Literal["joint", "additive"] = "joint",
                 n_layers: int = 2, slope: float = 0.2, noise: str = "gaussian", noise_dim: int = 1,
                 dtype: torch.dtype = torch.float32) -> None:
        if mechanism not in MECHANISMS:
            raise ValueError(f"mechanism must be one of {MECHANISMS}, got {mechanism!r}")
        if noise not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}, got {noise!r}")
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be an int >= 1, got {n_layers!r}")
        if not 0.0 < slope <= 1.0:
            raise ValueError(f"slope of the leaky ReLU must be in (0, 1] for invertibility, got {slope!r}")
        if isinstance(noise_dim, bool) or not isinstance(noise_dim, int) or noise_dim < 1:
            raise ValueError(f"noise_dim must be an int >= 1, got {noise_dim!r}")
        self.graph = graph
        self.order = check_graph(graph)
        self.mechanism, self.noise, self.dtype = mechanism, noise, dtype
        self.observed = tuple(v for v in graph.nodes if graph.nodes[v].get("observed", False))
        self.latent_nodes = tuple(v for v in graph.nodes if not graph.nodes[v].get("observed", False))
        gen = torch.Generator().manual_seed(int(seed))
        self.dims: dict[Hashable, int] = {}
        self.mechanisms: dict[Hashable, Mechanism] = {}
        pilot: dict[Hashable, torch.Tensor] = {}
        with torch_threads(1):  # small ops: see torch_threads
            for v in self.order:
                parents = list(graph.predecessors(v))
                pdim = sum(self.dims[p] for p in parents)
                attrs = graph.nodes[v]
                ndim = attrs.get("dim", noise_dim)                     # dim(eps_v), as in hierarchy.node_dims
                dim = pdim + ndim if mechanism == "joint" else ndim
                self.dims[v] = dim
                mech = Mechanism(
                    dim=dim, parent_dim=pdim, noise_dim=ndim, kind=mechanism, slope=float(slope),
                    weights=[_random_invertible(dim, gen, dtype) for _ in range(n_layers)],
                    biases=[0.5 * torch.randn(dim, generator=gen, dtype=torch.float64).to(dtype) for _ in range(n_layers)],
                    mix=_random_invertible(max(pdim, dim), gen, dtype)[:pdim, :dim] if mechanism == "additive" else None,
                )
                pa = torch.cat([pilot[p] for p in parents], 1) if parents else torch.zeros(_PILOT, 0, dtype=dtype)
                h = mech(pa, _noise((_PILOT, ndim), noise, gen, dtype))
                mech.shift, mech.scale = h.mean(0), h.std(0).clamp_min(1e-6)
                pilot[v] = (h - mech.shift) / mech.scale
                self.mechanisms[v] = mech

    def parents_of(self, values: dict[Hashable, torch.Tensor], v: Hashable, n: int | None = None) -> torch.Tensor:
        """Concatenated parent values of node v: [N, dim(Pa(v))] (in graph.predecessors order).

        ``n`` is needed only for a root when ``values`` is empty.
        """
        parents = list(self.graph.predecessors(v))
        if parents:
            return torch.cat([values[p] for p in parents], 1)
        n = n if n is not None else next(iter(values.values())).shape[0]
        return torch.zeros(n, 0, dtype=self.dtype)

    def sample(self, n: int, seed: int = 0) -> VectorSample:
        """Draw n samples of every node, in topological order.  Same seed, same numbers."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        gen = torch.Generator().manual_seed(int(seed))
        values: dict[Hashable, torch.Tensor] = {}
        noises: dict[Hashable, torch.Tensor] = {}
        with torch_threads(1):  # small ops: see torch_threads
            for v in self.order:
                mech = self.mechanisms[v]
                noises[v] = _noise((n, mech.noise_dim), self.noise, gen, self.dtype)
                values[v] = mech(self.parents_of(values, v, n), noises[v])
        return VectorSample(self.graph, values, noises, self.observed, self.latent_nodes)


def canonical_dependence(sample: VectorSample) -> np.ndarray:
    """First canonical correlation between every pair of observables: [P, P], 1 on the diagonal.

    A linear measure of how much two patches share (the generating maps are nonlinear, so it is a
    lower bound on their dependence): whiten each patch, then take the top singular value of the
    cross-covariance of the whitened pair.
    """
    blocks = []
    for v in sample.observed:
        a = sample.values[v].double()
        a = a - a.mean(0)
        cov = a.T @ a / (a.shape[0] - 1)
        evals, evecs = torch.linalg.eigh(cov)
        if evals.min() <= 1e-12 * evals.max():
            raise ValueError(f"observable {v!r} has a singular covariance; canonical correlations are undefined")
        blocks.append(a @ evecs / evals.sqrt())                               # [N, d_v], identity covariance
    z = torch.cat(blocks, 1)
    cross = (z.T @ z / (z.shape[0] - 1)).numpy()
    edges = np.cumsum([0] + [b.shape[1] for b in blocks])
    p = len(blocks)
    out = np.ones((p, p))
    for i in range(p):
        for j in range(i + 1, p):
            out[i, j] = out[j, i] = np.linalg.svd(cross[edges[i]:edges[i + 1], edges[j]:edges[j + 1]], compute_uv=False)[0]
    return out


def sample_hierarchy(graph: nx.DiGraph, n: int, seed: int = 0, **model_kwargs: Any) -> VectorSample:
    """One-call form: build ``HierarchicalVectorModel(graph, seed, **model_kwargs)`` and draw n samples.

    The mechanisms and the draw are both seeded by ``seed`` (the draw uses ``seed + 1`` so the
    two streams differ).
    """
    return HierarchicalVectorModel(graph, seed, **model_kwargs).sample(n, seed + 1)
