"""The book's computations as library calls: one ``run(params) -> Result`` per computation.

Between the book runner (``mae_hlvm.book``) and the library (``mae``, ``eval``, ``data``,
``hierarchy``). Each computation has a frozen :class:`~.params.Params` dataclass, the only
definition of its knobs (a chapter's profiles load into it), and a ``run`` that computes, or loads
from the :class:`~.cache.RunCache`, what the chapter shows.

- ``params``: the Params base, ``knob``, ``ParamsError``;
- ``cache``: content-addressed run folders (``python -m mae_hlvm.experiments.cache list|prune``);
- ``pretraining``: ``PretrainingParams`` and ``run`` -> a pretrained (or random-init) MAE;
- ``evaluation``: ``EvaluationParams`` (the evaluation suite) and ``evaluate(model_or_run, suite)``;
- ``recorded``: the small recorded form of runs too long for ``make book`` (write, read, staleness);
- ``sweep``, ``section36``, ``theorem2``: the computations of chapters 09, 10 and 08, their decision
  rules (fixed before the runs) and the readings their prose glues;
- ``chapters``: the Params of the chapters whose computations are short calls in the notebook;
- ``figures``: image grids, reconstruction panels, attention overlays shared by the chapters;
- ``prose``: one spelling of numbers, counts and ranges in glued sentences.
"""
from typing import Any

from .params import Params, ParamsError, knob

__all__ = ["CacheError", "Params", "ParamsError", "RunCache", "knob"]


def __getattr__(name: str) -> Any:
    # the cache is imported on first use, so that ``python -m mae_hlvm.experiments.cache`` runs the
    # module once (importing it here first made runpy warn about a module found in sys.modules)
    if name in ("CacheError", "RunCache"):
        from . import cache

        return getattr(cache, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
