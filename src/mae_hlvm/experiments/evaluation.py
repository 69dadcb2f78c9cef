"""The book's evaluation suite on any encoder: ``evaluate(model_or_run, suite) -> dict``.

One call runs every evaluation of Section 3 of Kong et al. that a chapter or a sweep needs, on the
evaluation images of the suite (drawn with seeds pretraining never used):

=================  ==============================================================  ==========
name               what                                                            paper
=================  ==============================================================  ==========
reconstruction     SSIM / FSIM / PSNR / MSE of reconstructions, visible pasted back  Figure 5
recon_unmasked     the same of the decoder's output for unmasked images (the paper's  Figure 5
                   protocol: "the validation set without masking")
attention          share of the last layer's CLS attention on the object            Figures 6-7
tsne               2-D t-SNE embedding of test features                             Figure 8
probe              linear probe top-1 (LARS, MAE protocol; or logistic)             Table 1
robustness         the probe on the shifted test sets                               Table 1
shape_bias         the probe's shape decisions on cue-conflict images                Table 2
transfer           dense heads: mIoU, COCO box AP                                   Table 3
identifiability    kernel / linear R² of each known latent, MCC                     (none)
=================  ==============================================================  ==========

Given a :class:`~.pretraining.PretrainingRun`, the results are cached as JSON in the run's folder,
keyed by the suite: asking again loads them. Everything in the result is plain JSON data.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch

from .. import eval as ev
from ..data.shapes import FACTOR_LEVELS, ShapesBatch, render_shapes
from ..eval.paper_numbers import TABLE1_COLUMNS, VARIANT_FOR_SET
from ..mae.checkpoint import load_checkpoint, load_pretrained
from ..mae.model import MaskedAutoencoder
from ..reproducibility import seeded
from .cache import RunCache
from .params import Params, knob
from .pretraining import PretrainingRun

EVALUATIONS: tuple[str, ...] = ("reconstruction", "attention", "tsne", "probe", "robustness", "shape_bias",
                                "transfer", "identifiability", "recon_unmasked")
NEEDS_PROBE = ("robustness", "shape_bias")
# latents whose R² is meaningful: circular ones (angles, phase) and categorical ones are left out
IDENTIFIABLE_LATENTS: tuple[str, ...] = ("object_color", "background_color", "light_strength", "position", "scale",
                                         "aspect", "part", "texture_frequency", "texture_contrast", "noise_std")


@dataclass(frozen=True)
class EvaluationParams(Params):
    """The evaluation suite: which evaluations, on how many images, with which settings."""

    evaluations: tuple[str, ...] = knob(EVALUATIONS, "evaluations to run, in this order")
    n_train: int = knob(3000, "probe training images (i.i.d. shapes, unseen in pretraining)")
    n_test: int = knob(1000, "held-out i.i.d. test images")
    n_shift: int = knob(500, "images per shifted test set")
    n_cue: int = knob(500, "cue-conflict images (shape bias)")
    pool: Literal["cls", "mean"] = knob("cls", "representation: CLS token (MAE's probe) or mean patch token")
    probe: Literal["lars", "logistic"] = knob("lars", "LARS (MAE protocol) or logistic regression (fast)")
    probe_epochs: int = knob(90, "LARS probe epochs")
    probe_warmup_epochs: int = knob(10, "LARS probe warm-up epochs")
    probe_batch_size: int = knob(256, "LARS probe batch")
    probe_blr: float = knob(6.4, "LARS base lr, scaled by batch / 256 (6.4 at 256 keeps MAE's absolute lr)")
    recon_n: int = knob(1000, "test images scored for reconstruction quality")
    recon_ratio: float | None = knob(None, "mask ratio of the scored reconstructions (None: the model's own)")
    recon_unit: int | None = knob(None, "mask unit (px) with recon_ratio (None: the model's own)")
    tsne_n: int = knob(1000, "points of the t-SNE embedding")
    tsne_perplexity: float = knob(30.0, "t-SNE perplexity")
    transfer_n_train: int = knob(1000, "images for the dense heads")
    transfer_n_test: int = knob(500, "images scoring the dense heads")
    transfer_freeze: bool = knob(True, "True: heads on the frozen encoder; False: end-to-end fine-tuning")
    transfer_epochs: int = knob(30, "dense-head epochs")
    transfer_lr: float = knob(1e-2, "dense-head learning rate")
    ident_max_train: int = knob(500, "kernel-ridge training samples (O(n^3)); the rest of the test set scores")
    eval_seed: int = knob(1000, "seed of the evaluation images (pretraining uses other seeds)")
    seed: int = knob(0, "seed of masks, probes, heads and t-SNE")

    def check(self) -> None:
        unknown = [e for e in self.evaluations if e not in EVALUATIONS]
        self._require(not unknown, "evaluations", f"unknown {unknown}; valid: {', '.join(EVALUATIONS)}")
        self._require(len(set(self.evaluations)) == len(self.evaluations), "evaluations", "lists an evaluation twice")
        for name in ("n_train", "n_test", "n_shift", "n_cue", "probe_epochs", "probe_batch_size", "recon_n",
                     "tsne_n", "transfer_n_train", "transfer_n_test", "transfer_epochs", "ident_max_train"):
            self._require(getattr(self, name) >= 1, name, "must be >= 1")
        for name in ("probe_warmup_epochs", "eval_seed", "seed"):
            self._require(getattr(self, name) >= 0, name, "must be >= 0")
        for name in ("probe_blr", "tsne_perplexity", "transfer_lr"):
            self._require(getattr(self, name) > 0, name, "must be > 0")
        self._require(self.tsne_perplexity < min(self.tsne_n, self.n_test), "tsne_perplexity",
                      "must be below the number of t-SNE points")
        # a count larger than the images it draws from would be cut short without a word
        for name, pool in (("recon_n", "n_test"), ("tsne_n", "n_test"), ("transfer_n_test", "n_test"),
                           ("transfer_n_train", "n_train")):
            self._require(getattr(self, name) <= getattr(self, pool), name,
                          f"must be <= {pool} = {getattr(self, pool)} (the images it is drawn from)")
        self._require(self.recon_ratio is None or 0 < self.recon_ratio < 1, "recon_ratio", "must lie in (0, 1)")
        self._require(self.recon_unit is None or (self.recon_ratio is not None and self.recon_unit >= 1),
                      "recon_unit", "needs recon_ratio and must be >= 1")


# what each dataset can be evaluated on: Fashion-MNIST has labels and a foreground, but no shifted
# sets, cue-conflict images, boxes or known latents
APPLICABLE: dict[str, tuple[str, ...]] = {
    "shapes": EVALUATIONS,
    "fashion_mnist": ("reconstruction", "attention", "tsne", "probe", "recon_unmasked"),
}
FOREGROUND = 0.05  # a Fashion-MNIST pixel above this grey level is part of the garment


@dataclass
class LabelledImages:
    """Images [N, C, H, W] in [0, 1], labels [N], object masks [N, H, W] bool, class names."""

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    class_names: tuple[str, ...]


@dataclass
class EvaluationSets:
    """The images of a suite: probe training set, test set, shifted sets and cue-conflict set
    (the last two only for the shapes)."""

    train: ShapesBatch | LabelledImages
    test: ShapesBatch | LabelledImages
    shifted: dict[str, ShapesBatch]   # by Table 1 column (IN-v2, ObjectNet, ...)
    cue: ShapesBatch | None


def evaluation_sets(suite: EvaluationParams, img_size: int, data: str = "shapes") -> EvaluationSets:
    """The suite's images at ``img_size`` (only what its evaluations need).

    shapes: rendered with seeds from ``eval_seed`` that pretraining never uses. fashion_mnist: the
    probe trains on the first ``n_train`` training images (which pretraining also saw, as in MAE's
    protocol on ImageNet) and everything is scored on the test split."""
    if data == "fashion_mnist":
        from ..data.fashion_mnist import CLASS_NAMES
        from ..data.pretraining import fashion_mnist_images

        sets = []
        for split, n in (("train", suite.n_train), ("test", suite.n_test)):
            x, y = fashion_mnist_images(split, n, img_size)
            sets.append(LabelledImages(x, y, x[:, 0] > FOREGROUND, tuple(CLASS_NAMES)))
        return EvaluationSets(sets[0], sets[1], {}, None)
    if data != "shapes":
        raise ValueError(f"no evaluation images for data {data!r}; valid: {', '.join(APPLICABLE)}")
    s = suite.eval_seed
    shifted = ({name: render_shapes(suite.n_shift, s + 2, size=img_size, variant=v)
                for name, v in VARIANT_FOR_SET.items() if v != "iid"} if "robustness" in suite.evaluations else {})
    cue = (render_shapes(suite.n_cue, s + 3, size=img_size, variant="cue_conflict")
           if "shape_bias" in suite.evaluations else None)
    return EvaluationSets(render_shapes(suite.n_train, s, size=img_size),
                          render_shapes(suite.n_test, s + 1, size=img_size), shifted, cue)


def _as_model(model_or_run: Any) -> tuple[MaskedAutoencoder, float, int | None, Path | None, str]:
    """(model, its pretraining ratio, unit, cache folder, data) from a run, a checkpoint or a model.
    A checkpoint names its data (``data.spec``): shapes or Fashion-MNIST (with or without ``:N``) are
    evaluated on that, anything else (an image folder, a tensor file) is refused, since the suite's
    images are neither. A bare model carries no data or ratio: a 1-channel one is taken to be a
    Fashion-MNIST model, a 3-channel one a shapes model, and its ratio to be 0.75 (pass ``mask_ratio``
    to :func:`evaluate` otherwise)."""
    if isinstance(model_or_run, PretrainingRun):
        p = model_or_run.params
        return model_or_run.model, p.mask_ratio, p.mask_unit, model_or_run.folder, p.data
    if isinstance(model_or_run, (str, Path)):
        state = load_checkpoint(model_or_run)           # read once: weights and the run's settings
        saved = state.get("config") or {}
        model = load_pretrained(state).eval()
        spec = str((state.get("data") or {}).get("spec") or "")
        name = spec.partition(":")[0]
        if spec and name not in APPLICABLE:
            raise ValueError(f"checkpoint {model_or_run} was trained on {spec!r}; the evaluation suite scores "
                             f"models of {' or '.join(APPLICABLE)} on those images (their [0, 1] pixels), "
                             "so its scores here would mean nothing")
        return model, saved.get("mask_ratio", 0.75), saved.get("mask_unit"), None, name or _data_of(model)
    if isinstance(model_or_run, MaskedAutoencoder):
        return model_or_run.eval(), 0.75, None, None, _data_of(model_or_run)
    raise TypeError(f"evaluate needs a PretrainingRun, a checkpoint path or a MaskedAutoencoder, "
                    f"got {type(model_or_run).__name__}")


def _data_of(model: MaskedAutoencoder) -> str:
    return "fashion_mnist" if model.cfg.in_chans == 1 else "shapes"


CHANNELS = {"shapes": 3, "fashion_mnist": 1}


def _data_to_score(model: MaskedAutoencoder, known: str, asked: str | None, bare: bool) -> str:
    """The images the suite scores: ``asked`` when given (it must fit the model's channels, and agree
    with the data a run or checkpoint was trained on), else what the source says or implies."""
    if asked is None:
        return known
    if asked not in APPLICABLE:
        raise ValueError(f"data {asked!r}: the evaluation suite has images for {', '.join(APPLICABLE)} only")
    if not bare and asked != known:
        raise ValueError(f"data {asked!r}, but the run or checkpoint was trained on {known!r}: leave data unset "
                         "to score it on its own data")
    if model.cfg.in_chans != CHANNELS[asked]:
        raise ValueError(f"data {asked!r} has {CHANNELS[asked]} channel(s); the model takes {model.cfg.in_chans}")
    return asked


def evaluate(model_or_run: PretrainingRun | MaskedAutoencoder | str | Path, suite: EvaluationParams,
             cache: RunCache | None = None, mask_ratio: float | None = None,
             mask_unit: int | None = None, device: str | torch.device = "cpu",
             data: str | None = None) -> dict[str, Any]:
    """Every evaluation of ``suite`` on one encoder; a dict with one entry per evaluation and
    ``seconds`` (time per evaluation, including the shared feature extraction as ``features``).
    Evaluations that the model's data does not support (Fashion-MNIST has no shifted sets, cue
    conflicts, boxes or known latents) are listed under ``not_applicable`` instead.

    ``data`` names the images to score (``shapes`` or ``fashion_mnist``); a run or checkpoint brings its
    own, and a bare model is otherwise taken by its channels (see ``_as_model``).

    Reconstructions are scored at the suite's ``recon_ratio``/``recon_unit`` when set, else at the
    model's pretraining ratio and unit (a run's or a checkpoint's; ``mask_ratio``/``mask_unit``
    override). A run's results are cached in its folder.

    ``device`` runs the encoder's work there (features, reconstructions, attention, the LARS probe,
    the dense transfer; the model moves there for them and back after); the scikit-learn parts
    (logistic probe, t-SNE, R²) stay on the CPU. Results off the CPU are cached apart from the CPU's, since their numbers
    may differ in the last digits."""
    model, ratio, unit, folder, known = _as_model(model_or_run)
    data = _data_to_score(model, known, data, bare=isinstance(model_or_run, MaskedAutoencoder))
    ratio = mask_ratio if mask_ratio is not None else ratio
    unit = mask_unit if mask_unit is not None else unit
    if suite.recon_ratio is not None:  # the suite's mask; its unit, else the model's own
        ratio, unit = suite.recon_ratio, suite.recon_unit if suite.recon_unit is not None else unit
    try:
        model.mask_grid(unit)
    except ValueError as err:
        raise ValueError(f"the reconstruction mask unit {unit} px (recon_unit, mask_unit or the model's own) "
                         f"does not fit this model: {err}") from None
    device = torch.device(device)
    key = cache_key(suite, ratio, unit, data, device)
    cache = cache or RunCache()
    if folder is not None and (hit := cache.load_result(folder, "evaluation", key)) is not None:
        return hit
    home = next(model.parameters()).device
    try:
        with seeded(suite.seed):  # every draw of the suite from suite.seed; the caller's generator is kept
            result = _run_suite(model.to(device).eval(), suite, ratio, unit, data, device)
    finally:
        model.to(home)  # a run's model stays where the run keeps it (the CPU)
    if folder is not None:
        cache.save_result(folder, "evaluation", key, result)
    return result


def cache_key(suite: EvaluationParams, ratio: float, unit: int | None, data: str,
              device: torch.device) -> dict[str, Any]:
    """What an evaluation's cached result is filed under: the suite, the reconstruction mask, the data
    and, off the CPU, the device type (the CPU's key is the one results were cached under before
    evaluations could run elsewhere, so those stay valid)."""
    key = {"suite": suite.to_dict(), "mask_ratio": ratio, "mask_unit": unit, "data": data}
    return key if device.type == "cpu" else {**key, "device": device.type}


def _timed(seconds: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    t = time.perf_counter()
    out = fn()
    seconds[name] = time.perf_counter() - t
    return out


def _run_suite(model: MaskedAutoencoder, suite: EvaluationParams, ratio: float, unit: int | None,
               data: str, device: torch.device) -> dict[str, Any]:
    seconds: dict[str, float] = {}
    todo = tuple(e for e in suite.evaluations if e in APPLICABLE[data])
    out: dict[str, Any] = {"mask_ratio": ratio, "mask_unit": unit, "data": data}
    skipped = [e for e in suite.evaluations if e not in todo]
    if skipped:
        out["not_applicable"] = {e: f"{data} has no images or ground truth for it" for e in skipped}
    sets = _timed(seconds, "images", lambda: evaluation_sets(suite.replace(evaluations=todo), model.cfg.img_size,
                                                              data))
    num_classes = len(sets.train.class_names)
    needs_features = any(e in todo for e in ("tsne", "probe", *NEEDS_PROBE, "identifiability"))
    feats: dict[str, np.ndarray] = {}
    if needs_features:
        encoder = ev.feature_fn(model, suite.pool)
        named = {"train": sets.train, "test": sets.test, **sets.shifted}
        if "shape_bias" in todo:
            named["cue"] = sets.cue
        feats = _timed(seconds, "features", lambda: {k: ev.extract_features(encoder, b.images, batch_size=250)
                                                    for k, b in named.items()})
    probe = None
    if any(e in todo for e in ("probe", *NEEDS_PROBE)):  # one probe serves the probe, robustness and bias
        probe, out["probe"] = _timed(seconds, "probe", lambda: _probe(feats, sets, suite, num_classes, device))
    for name in todo:
        if name == "reconstruction":
            out[name] = _timed(seconds, name, lambda: _reconstruction(model, sets.test.images[:suite.recon_n],
                                                                      ratio, unit, suite.seed, device))
        elif name == "recon_unmasked":
            out[name] = _timed(seconds, name, lambda: ev.summarize(ev.evaluate_reconstruction(
                model.reconstruct_unmasked, sets.test.images[:suite.recon_n], batch_size=250, device=device)))
        elif name == "attention":
            out[name] = _timed(seconds, name, lambda: _attention(model, sets.test))
        elif name == "tsne":
            out[name] = _timed(seconds, name, lambda: _tsne(feats["test"], sets.test, suite))
        elif name == "robustness":
            eval_sets = {"IN1K": ev.ShiftedSet(feats["test"], sets.test.labels)}
            eval_sets.update({k: ev.ShiftedSet(feats[k], sets.shifted[k].labels) for k in sets.shifted})
            res = _timed(seconds, name, lambda: ev.evaluate_robustness(probe, eval_sets))
            out[name] = {c: float(res[c]) for c in TABLE1_COLUMNS}
        elif name == "shape_bias":
            b = _timed(seconds, name, lambda: ev.shape_bias(probe.predict(feats["cue"]), sets.cue.shape_labels,
                                                            sets.cue.texture_labels))
            out[name] = {"shape_bias": b.shape_bias, "shape_decisions": b.shape_decisions,
                         "texture_decisions": b.texture_decisions, "other_decisions": b.other_decisions, "n": b.n}
        elif name == "transfer":
            out[name] = _timed(seconds, name, lambda: _transfer(model, sets, suite, num_classes, device))
        elif name == "identifiability":
            out[name] = _timed(seconds, name, lambda: _identifiability(feats["test"], sets.test, suite))
    out["seconds"] = seconds
    return out


@torch.no_grad()
def _reconstruction(model: MaskedAutoencoder, images: torch.Tensor, ratio: float, unit: int | None,
                    seed: int, device: torch.device) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(seed)   # the same masks for every model evaluated with this seed
    scores = ev.evaluate_reconstruction(
        lambda x: model.reconstruct(x, mask_ratio=ratio, mask_unit=unit, generator=gen)["pasted"],
        images, batch_size=250, device=device)  # the masks' generator stays on the CPU: same masks anywhere
    return ev.summarize(scores)


def _attention(model: MaskedAutoencoder, test: ShapesBatch | LabelledImages) -> dict[str, float]:
    maps = ev.cls_attention(model, test.images)                    # [N, grid, grid]
    mass, area = ev.attention_on_mask(maps, test.masks)            # [N], [N]
    return {"mass": float(mass.mean()), "area": float(area.mean()), "ratio": float((mass / area).mean())}


def _tsne(features: np.ndarray, test: ShapesBatch | LabelledImages, suite: EvaluationParams) -> dict[str, Any]:
    """The embedding, and how well it separates the classes as one number: the silhouette of the
    2-D points by class (-1 to 1; Figure 8 of the paper shows pictures only)."""
    from sklearn.metrics import silhouette_score

    n = min(suite.tsne_n, len(features))
    emb = ev.tsne_embedding(features[:n], perplexity=suite.tsne_perplexity, seed=suite.seed)
    labels = np.asarray(test.labels[:n])
    return {"embedding": np.round(emb, 4).tolist(), "labels": labels.tolist(),
            "class_names": list(test.class_names), "silhouette": float(silhouette_score(emb, labels))}


def _probe(feats: dict[str, np.ndarray], sets: EvaluationSets, suite: EvaluationParams,
           num_classes: int, device: torch.device) -> tuple[ev.Probe, dict[str, Any]]:
    f, y = feats["train"], sets.train.labels
    logistic = ev.fit_logistic_probe(f, y, num_classes)
    if suite.probe == "lars":
        probe = ev.train_linear_probe(f, y, num_classes, ev.ProbeConfig(
            epochs=suite.probe_epochs, warmup_epochs=suite.probe_warmup_epochs,
            batch_size=suite.probe_batch_size, blr=suite.probe_blr, seed=suite.seed), device=device)
    else:
        probe = logistic
    return probe, {"kind": suite.probe, "accuracy": probe.accuracy(feats["test"], sets.test.labels),
                   "logistic_accuracy": logistic.accuracy(feats["test"], sets.test.labels),
                   "chance": 1.0 / num_classes}


def _transfer(model: MaskedAutoencoder, sets: EvaluationSets, suite: EvaluationParams,
              num_classes: int, device: torch.device) -> dict[str, float]:
    tr = sets.train.subset(slice(0, suite.transfer_n_train))
    te = sets.test.subset(slice(0, suite.transfer_n_test))
    cfg = ev.TransferConfig(epochs=suite.transfer_epochs, batch_size=32, lr=suite.transfer_lr, seed=suite.seed)
    net, _ = ev.finetune_dense(model, tr.images, tr.masks, tr.boxes, tr.labels, num_classes, cfg,
                               device=device, freeze_backbone=suite.transfer_freeze)
    return {k: float(v) for k, v in ev.evaluate_dense(net, te.images, te.masks, te.boxes, te.labels).items()}


def _identifiability(features: np.ndarray, test: ShapesBatch, suite: EvaluationParams) -> dict[str, Any]:
    latents = {k: test.factors[k] for k in IDENTIFIABLE_LATENTS}
    kernel = ev.r2_scores(features, latents, "kernel", max_train=suite.ident_max_train, seed=suite.seed)
    linear = ev.r2_scores(features, latents, "linear", max_train=suite.ident_max_train, seed=suite.seed)
    rows = [{"latent": col, "level": FACTOR_LEVELS[col.split("[")[0]], "r2_kernel": float(kernel[col].mean),
             "r2_linear": float(linear[col].mean)} for col in kernel]
    levels = sorted({r["level"] for r in rows})
    by_level = {lv: float(np.mean([r["r2_kernel"] for r in rows if r["level"] == lv])) for lv in levels}
    return {"rows": rows, "by_level": by_level, "mcc": float(ev.mcc(features, latents).mcc)}


def pixel_reference(suite: EvaluationParams, img_size: int, level: str = "local") -> dict[str, float]:
    """Kernel R² of the identifiable latents of ``level`` on the suite's shapes test set, read from
    ``eval.pixel_statistics`` (three hand-made statistics, no encoder) by the suite's own R² protocol:
    how much of those latents the pixels make readable at all, the reference beside an encoder's R²."""
    test = render_shapes(suite.n_test, suite.eval_seed + 1, size=img_size)   # evaluation_sets' test set
    latents = {k: test.factors[k] for k in IDENTIFIABLE_LATENTS if FACTOR_LEVELS[k] == level}
    stats = ev.pixel_statistics(test.images, test.masks)
    return {k: float(v.mean) for k, v in ev.r2_scores(stats, latents, "kernel", max_train=suite.ident_max_train,
                                                      seed=suite.seed).items()}
