"""Bad inputs, table-driven: every input a user could get wrong, across hierarchy, data, mae, eval,
experiments, the book runner and the two command lines, is refused where it enters.

Each case asserts (1) the exception type (the one documented for its kind: GraphError, DataError,
ConfigError, CheckpointError, ParamsError, CacheError, BookError, or a plain ValueError for an
argument), or for a command line exit status 1 with one ``error: ...`` line and no traceback;
(2) that the one-line message names the offending value or file; (3) that nothing on disk changed
(every file of the test folder is hashed before and after). ``book/bad_inputs.md`` summarises them.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import networkx as nx
import numpy as np
import pytest
import torch
import yaml

from mae_hlvm import book, compute
from mae_hlvm import eval as ev
from mae_hlvm import hierarchy as H
from mae_hlvm.data import DataError, pretraining_data, pretraining_images, read_idx, render_shapes, sample_hierarchy
from mae_hlvm.data.folders import load_rgb
from mae_hlvm.experiments import CacheError, ParamsError, RunCache
from mae_hlvm.experiments import cache as cache_cli
from mae_hlvm.experiments.evaluation import EvaluationParams
from mae_hlvm.experiments.pretraining import PretrainingParams
from mae_hlvm.hierarchy import GraphError
from mae_hlvm.mae import (CheckpointError, ConfigError, MAEConfig, PretrainConfig, create_mae, load_checkpoint,
                          load_pretrained, make_grid, pretrain, save_checkpoint)
from mae_hlvm.mae import cli as mae_cli
from mae_hlvm.mae.checkpoint import model_payload

ROOT = Path(__file__).resolve().parents[1]
MICRO = dict(img_size=16, patch_size=4, embed_dim=16, depth=1, num_heads=1,
             decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=1)
CLI = "exit 1"  # the error "type" of a command-line case: status 1, one `error:` line, no traceback


def cfg(**kw: Any) -> PretrainConfig:
    base = dict(model="mae_tiny", model_overrides=MICRO, batch_size=4, steps=4, warmup_steps=1, lr=1e-3,
                mask_unit=8, mask_ratio=0.5, progress=False, device="cpu")
    return PretrainConfig(**{**base, **kw})


def images(n: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- the folder every case sees
def _png(path: Path, seed: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(path)


def _book_root(folder: Path, profile_text: str | None = None) -> Path:
    import nbformat

    (folder / "notebooks" / "profiles").mkdir(parents=True)
    (folder / "_toc.yml").write_text(yaml.safe_dump(
        {"format": "jb-book", "root": "book/intro", "chapters": [{"file": "book/executed/toy"}]}))
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('profile = "default"\nx = 1', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("y = x + 1")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, folder / "notebooks" / "toy.ipynb")
    text = profile_text if profile_text is not None else yaml.safe_dump({p: {} for p in book.PROFILES})
    (folder / "notebooks" / "profiles" / "toy.yaml").write_text(text)
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("bad_inputs"))


def make_world(w: Path) -> Path:
    """The files the cases read: a run at step 2 of 4, good and bad data files, bad checkpoints, an image
    folder with an unreadable image, bad YAML configs, book roots with bad profiles, a broken cache record."""
    x = images()
    pretrain(cfg(output_dir=str(w / "run")), x, until_step=2, data_spec="good.pt")  # a run at step 2 of 4
    torch.save(x, w / "good.pt")
    torch.save((x * 255).to(torch.uint8), w / "uint8.pt")
    torch.save(x * 255, w / "x255.pt")
    torch.save(torch.where(x > 0.99, torch.tensor(float("nan")), x), w / "nan.pt")
    torch.save(x * 2 - 1, w / "neg.pt")
    torch.save(x[0], w / "flat.pt")
    torch.save([x[0], x[1]], w / "list.pt")
    torch.save(x[:, :1], w / "onech.pt")
    torch.save(x[:0], w / "none.pt")
    save_checkpoint(w / "weights.pt", model_payload(create_mae("mae_tiny", **MICRO)))
    raw = (w / "run" / "checkpoint.pt").read_bytes()
    (w / "trunc.pt").write_bytes(raw[: len(raw) // 2])
    (w / "zero.pt").write_bytes(b"")
    (w / "text.pt").write_text("this is not a checkpoint")
    torch.save(torch.ones(3), w / "tensor_ckpt.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"model": Evil()}, w / "evil.pt")
    (w / "corrupt_run").mkdir()
    (w / "corrupt_run" / "checkpoint.pt").write_bytes(raw[: len(raw) // 3])
    for i in range(3):
        _png(w / "folder" / "cls" / f"ok{i}.png", i)
    (w / "folder" / "cls" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (w / "emptyfolder").mkdir()
    (w / "bad.yaml").write_text("mask_ratio: [0.5, 0.75\nsteps: 4\n")
    (w / "strval.yaml").write_text("lr: fast\n")
    (w / "listcfg.yaml").write_text("- mask_ratio\n- 0.5\n")
    (w / "unknown.yaml").write_text("mask_ratios: 0.5\n")
    (w / "batch.yaml").write_text("batch_size: 8.5\n")
    _book_root(w / "book_ok")
    _book_root(w / "book_unknown", yaml.safe_dump({p: {"z": 3} for p in book.PROFILES}))
    _book_root(w / "book_badyaml", "smoke: {x: [1\n")
    _book_root(w / "book_notmap", "- smoke\n- default\n")
    torch.save(images(seed=1), w / "other.pt")
    broken = RunCache(w / "cache").folder("pretraining", {"k": 1})
    broken.mkdir(parents=True)
    (broken / "run.json").write_text('{"kind": "pretraining", ')  # a record cut short
    return w


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder``: path -> SHA-256 of its bytes ("dir" for folders)."""
    return {str(p.relative_to(folder)): ("dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*"))}


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Case:
    area: str                          # hierarchy, data, mae, eval, experiments, book, cli
    id: str
    call: Callable[[Path], Any]        # given the test folder
    error: type | str                  # the exception type, or CLI
    names: str                         # text the message must contain: the offending value or file


def _graph(edit: Callable[[nx.DiGraph], Any]) -> nx.DiGraph:
    g = H.note_tree()
    edit(g)
    return g


def _locate_edited(edit: Callable[[nx.DiGraph], Any]) -> Any:
    return H.locate(_graph(edit), {"x5"})


def _cycle(g: nx.DiGraph) -> None:
    z = [v for v in g if not g.nodes[v].get("observed")]
    g.add_edge(z[-1], z[0])
    g.add_edge(z[0], z[-1])


def _single_observable() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_node("z", observed=False)
    g.add_node("x", observed=True)
    g.add_edge("z", "x")
    return g


def _orphan(g: nx.DiGraph) -> None:
    g.add_node("z_alone", observed=False)


def _cli(w: Path, *extra: str, out: str | None = "new", data: str = "good.pt") -> int:
    args = ["--data", str(w / data) if not data.startswith(("shapes", "fashion", "cifar")) else data,
            "--model-overrides", json.dumps(MICRO), "--batch-size", "4", "--steps", "4", "--warmup-steps", "1",
            "--lr", "1e-3", "--mask-unit", "8", "--mask-ratio", "0.5", "--no-progress", "--device", "cpu"]
    if out is not None:
        args += ["--output-dir", str(w / out)]
    return mae_cli.main(args + list(extra))


def _load_all(dataset: Any) -> None:
    for i in range(len(dataset)):
        dataset[i]


def _pixels(w: Path) -> list[str]:
    return [v for v in H.note_tree() if H.note_tree().nodes[v].get("observed")]


X = images(2)
X_U8 = (X * 255).to(torch.uint8)
MODEL = create_mae("mae_tiny", **MICRO)

CASES: list[Case] = [
    # ---- hierarchy: graphs that break Assumption 1 (GraphError), masks that are not masks (ValueError)
    Case("hierarchy", "graph-not-a-digraph", lambda w: H.locate("not a graph", {"x5"}), GraphError, "got str"),
    Case("hierarchy", "graph-multigraph", lambda w: H.compile_graph(nx.MultiDiGraph(H.note_tree())), GraphError,
         "MultiDiGraph"),
    Case("hierarchy", "graph-empty", lambda w: H.compile_graph(nx.DiGraph()), GraphError, "no nodes"),
    Case("hierarchy", "subtree-masks-level-without-latents",
         lambda w: H.subtree_masks(H.kary_tree(2, 2), 7, 1, np.random.default_rng(0)), ValueError, "level 7"),
    Case("hierarchy", "graph-cycle", lambda w: _locate_edited(_cycle), GraphError, "cycle"),
    Case("hierarchy", "graph-observed-not-bool",
         lambda w: _locate_edited(lambda g: g.nodes["x5"].update(observed="yes")), GraphError, "observed='yes'"),
    Case("hierarchy", "graph-dim-zero", lambda w: _locate_edited(lambda g: g.nodes["x5"].update(dim=0)),
         GraphError, "dim=0"),
    Case("hierarchy", "graph-dim-float", lambda w: _locate_edited(lambda g: g.nodes["x5"].update(dim=1.5)),
         GraphError, "dim=1.5"),
    Case("hierarchy", "graph-edge-out-of-pixel", lambda w: _locate_edited(lambda g: g.add_edge("x5", "x6")),
         GraphError, "'x5' -> 'x6'"),
    Case("hierarchy", "graph-one-observable", lambda w: H.compile_graph(_single_observable()), GraphError,
         "1 observable"),
    Case("hierarchy", "graph-latent-without-pixel", lambda w: _locate_edited(_orphan), GraphError, "z_alone"),
    Case("hierarchy", "mask-unknown-node", lambda w: H.locate(H.note_tree(), {"nope"}), ValueError, "'nope'"),
    Case("hierarchy", "mask-a-string", lambda w: H.locate(H.note_tree(), "x5"), ValueError, "'x5'"),
    Case("hierarchy", "mask-a-latent", lambda w: H.locate(H.note_tree(), {"z6"}), ValueError, "'z6'"),
    Case("hierarchy", "mask-empty", lambda w: H.locate(H.note_tree(), set()), ValueError, "empty"),
    Case("hierarchy", "mask-everything", lambda w: H.locate(H.note_tree(), _pixels(w)), ValueError, "covers all"),
    Case("hierarchy", "mask-array-not-bool",
         lambda w: H.compile_graph(H.note_tree()).locate_many(np.zeros((1, len(_pixels(w))), dtype=int)), ValueError,
         "int64"),
    Case("hierarchy", "mask-array-wrong-width",
         lambda w: H.compile_graph(H.note_tree()).locate_many(np.zeros((2, 3), dtype=bool)), ValueError, "(2, 3)"),
    Case("hierarchy", "brute-force-too-large", lambda w: H.brute_force_locate(H.quadtree(3), {"x_0_0"}),
         ValueError, "2^21"),
    Case("hierarchy", "quadtree-depth-zero", lambda w: H.quadtree(0), ValueError, "got 0"),
    Case("hierarchy", "kary-branching-one", lambda w: H.kary_tree(2, 1), ValueError, "got 1"),
    Case("hierarchy", "dag-edge-probability", lambda w: H.random_layered_dag(1, 2, 3, p_edge=1.5), ValueError,
         "1.5"),
    Case("hierarchy", "unit-counts-ratio-zero", lambda w: H.unit_counts(4, 0.0), ValueError, "0.0"),
    Case("hierarchy", "unit-masks-ratio", lambda w: H.random_unit_masks(8, 1.5, 2, 2, np.random.default_rng(0)),
         ValueError, "1.5"),
    Case("hierarchy", "sweep-ratio", lambda w: H.masking_sweep(3, [1.2], [2], 4), ValueError, "1.2"),
    Case("hierarchy", "sweep-unit-not-power-of-two", lambda w: H.masking_sweep(3, [0.5], [3], 4), ValueError,
         "unit 3"),
    Case("hierarchy", "sweep-one-mask", lambda w: H.masking_sweep(3, [0.5], [2], 0), ValueError, "got 0"),
    Case("hierarchy", "grid-mask-not-bool", lambda w: H.grid_mask_nodes(np.zeros((4, 4), int)), ValueError,
         "int64"),

    # ---- data: sources and files (DataError), generator arguments (ValueError)
    Case("data", "pt-uint8", lambda w: pretraining_data(str(w / "uint8.pt")), DataError, "uint8"),
    Case("data", "objects-of-fashion-mnist", lambda w: pretraining_images("fashion_mnist", 4, objects=True), DataError,
         "'fashion_mnist'"),
    Case("data", "pt-0-255-floats", lambda w: pretraining_data(str(w / "x255.pt")), DataError, "divide by 255"),
    Case("data", "pt-nan", lambda w: pretraining_data(str(w / "nan.pt")), DataError, "NaN"),
    Case("data", "pt-negative", lambda w: pretraining_data(str(w / "neg.pt")), DataError, "outside [0, 1]"),
    Case("data", "pt-3d", lambda w: pretraining_data(str(w / "flat.pt")), DataError, "(3, 16, 16)"),
    Case("data", "pt-list", lambda w: pretraining_data(str(w / "list.pt")), DataError, "list"),
    Case("data", "pt-no-images", lambda w: pretraining_data(str(w / "none.pt")), DataError, "no images"),
    Case("data", "pt-channels", lambda w: pretraining_data(str(w / "onech.pt"), in_chans=3), DataError,
         "1-channel"),
    Case("data", "pt-truncated", lambda w: pretraining_data(str(w / "trunc.pt")), DataError, "trunc.pt"),
    Case("data", "pt-text", lambda w: pretraining_data(str(w / "text.pt")), DataError, "text.pt"),
    Case("data", "pt-unsafe-pickle", lambda w: pretraining_data(str(w / "evil.pt")), DataError, "evil.pt"),
    Case("data", "spec-count-not-a-number", lambda w: pretraining_data("shapes:abc"), DataError, "'abc'"),
    Case("data", "spec-count-zero", lambda w: pretraining_data("shapes:0"), DataError, "'0'"),
    Case("data", "spec-count-negative", lambda w: pretraining_data("shapes:-3"), DataError, "'-3'"),
    Case("data", "spec-count-and-n-disagree", lambda w: pretraining_data("shapes:4", n=2), DataError, "n=2"),
    Case("data", "spec-unknown", lambda w: pretraining_data("cifar10"), DataError, "'cifar10'"),
    Case("data", "spec-empty", lambda w: pretraining_data(""), DataError, "''"),
    Case("data", "spec-n-zero", lambda w: pretraining_data("shapes", n=0), DataError, "got 0"),
    Case("data", "spec-channels", lambda w: pretraining_data("fashion_mnist:4", in_chans=3), DataError,
         "in_chans: 1"),
    Case("data", "images-count-zero", lambda w: pretraining_images("shapes", 0), DataError, "got 0"),
    Case("data", "images-unknown-set", lambda w: pretraining_images("mnist", 4), DataError, "'mnist'"),
    Case("data", "images-fashion-too-small", lambda w: pretraining_images("fashion_mnist", 4, img_size=16),
         DataError, "img_size 16"),
    Case("data", "folder-unreadable-image", lambda w: _load_all(pretraining_data(str(w / "folder"), img_size=16)),
         DataError, "broken.png"),
    Case("data", "folder-without-classes", lambda w: pretraining_data(str(w / "emptyfolder")), DataError,
         "emptyfolder"),
    Case("data", "folder-image-unreadable-load-rgb", lambda w: load_rgb(w / "folder" / "cls" / "broken.png"),
         DataError, "broken.png"),
    Case("data", "idx-not-idx", lambda w: read_idx(w / "text.pt"), DataError, "text.pt"),
    Case("data", "shapes-n-zero", lambda w: render_shapes(0, seed=0), ValueError, "got 0"),
    Case("data", "shapes-size-small", lambda w: render_shapes(2, seed=0, size=7), ValueError, "got 7"),
    Case("data", "shapes-variant", lambda w: render_shapes(2, seed=0, variant="x"), ValueError, "'x'"),
    Case("data", "shapes-seed-negative", lambda w: render_shapes(2, seed=-1), ValueError, "got -1"),
    Case("data", "vectors-n-zero", lambda w: sample_hierarchy(H.note_tree(), 0), ValueError, "got 0"),
    Case("data", "vectors-not-a-graph", lambda w: sample_hierarchy("g", 4), GraphError, "got str"),

    # ---- mae: configuration (ConfigError), checkpoints (CheckpointError), data given to pretrain (DataError)
    Case("mae", "lr-negative", lambda w: cfg(lr=-1), ConfigError, "lr = -1.0"),
    Case("mae", "epochs-zero", lambda w: cfg(steps=None, epochs=0), ConfigError, "epochs = 0.0"),
    Case("mae", "warmup-steps-negative", lambda w: cfg(warmup_steps=-1), ConfigError, "warmup_steps = -1"),
    Case("mae", "warmup-epochs-negative", lambda w: cfg(warmup_epochs=-1), ConfigError, "warmup_epochs = -1.0"),
    Case("mae", "warmup-longer-than-run", lambda w: pretrain(cfg(steps=4, warmup_steps=10), images()), ConfigError,
         "warm-up of 10 steps"),
    Case("mae", "weight-decay-negative", lambda w: cfg(weight_decay=-0.1), ConfigError, "weight_decay = -0.1"),
    Case("mae", "mask-ratio-above-one", lambda w: cfg(mask_ratio=1.5), ConfigError, "mask_ratio = 1.5"),
    Case("mae", "mask-ratio-string", lambda w: cfg(mask_ratio="0.5"), ConfigError, "'0.5'"),
    Case("mae", "mask-ratio-nan", lambda w: cfg(mask_ratio=math.nan), ConfigError, "nan"),
    Case("mae", "mask-unit-not-patch-multiple", lambda w: cfg(mask_unit=6), ConfigError, "mask unit 6"),
    Case("mae", "mask-ratio-leaves-nothing", lambda w: cfg(mask_ratio=0.8), ConfigError, "0.8"),
    Case("mae", "batch-size-zero", lambda w: cfg(batch_size=0), ConfigError, "batch_size = 0"),
    Case("mae", "batch-size-float", lambda w: cfg(batch_size=8.5), ConfigError, "8.5"),
    Case("mae", "steps-zero", lambda w: cfg(steps=0), ConfigError, "steps = 0"),
    Case("mae", "blr-zero", lambda w: cfg(blr=0), ConfigError, "blr = 0.0"),
    Case("mae", "min-lr-above-lr", lambda w: cfg(min_lr=1.0, lr=0.1), ConfigError, "min_lr = 1.0"),
    Case("mae", "betas-one-value", lambda w: cfg(betas=(0.9,)), ConfigError, "(0.9,)"),
    Case("mae", "betas-above-one", lambda w: cfg(betas=(0.9, 1.5)), ConfigError, "(0.9, 1.5)"),
    Case("mae", "clip-grad-zero", lambda w: cfg(clip_grad=0), ConfigError, "clip_grad = 0.0"),
    Case("mae", "augment-unknown", lambda w: cfg(augment="crop"), ConfigError, "'crop'"),
    Case("mae", "amp-unknown", lambda w: cfg(amp="fp16"), ConfigError, "'fp16'"),
    Case("mae", "seed-negative", lambda w: cfg(seed=-1), ConfigError, "seed = -1"),
    Case("mae", "device-unknown", lambda w: cfg(device="gpu"), ConfigError, "'gpu'"),
    Case("mae", "device-malformed", lambda w: cfg(device="cuda:x"), ConfigError, "'cuda:x'"),
    Case("mae", "num-workers-negative", lambda w: cfg(num_workers=-1), ConfigError, "num_workers = -1"),
    Case("mae", "log-every-zero", lambda w: cfg(log_every=0), ConfigError, "log_every = 0"),
    Case("mae", "checkpoint-every-negative", lambda w: cfg(checkpoint_every=-1), ConfigError,
         "checkpoint_every = -1"),
    Case("mae", "progress-every-inf", lambda w: cfg(progress_every_s=math.inf), ConfigError, "inf"),
    Case("mae", "compile-string", lambda w: cfg(compile="yes"), ConfigError, "'yes'"),
    Case("mae", "mask-kind-unknown", lambda w: cfg(mask_kind="blocks"), ConfigError, "'blocks'"),
    Case("mae", "object-min-share-one", lambda w: cfg(object_min_share=1.0), ConfigError, "object_min_share = 1.0"),
    Case("mae", "object-masks-without-object-channel",
         lambda w: pretrain(cfg(mask_kind="object", mask_unit=None, steps=1), images()), DataError, "[N, 4, 16, 16]"),
    Case("mae", "monitor-every-negative", lambda w: cfg(monitor_every=-1), ConfigError, "monitor_every = -1"),
    Case("mae", "monitor-ratio-one", lambda w: cfg(monitor_ratio=1.0), ConfigError, "monitor_ratio = 1.0"),
    Case("mae", "monitor-ratio-leaves-nothing", lambda w: cfg(monitor_every=1, monitor_ratio=0.99), ConfigError,
         "monitor_ratio = 0.99"),
    Case("mae", "monitor-images-wrong-channels",
         lambda w: pretrain(cfg(monitor_every=1, steps=1), images(), monitor_images=images()[:, :1]), DataError,
         "monitor_images (8, 1, 16, 16)"),
    Case("mae", "monitor-images-nan",
         lambda w: pretrain(cfg(monitor_every=1, steps=1), images(), monitor_images=images() * math.nan), DataError,
         "monitor_images"),
    Case("mae", "amp-unknown-at-resolve", lambda w: compute.resolve_amp("fp16", torch.device("cpu")), ValueError,
         "'fp16'"),
    Case("mae", "output-dir-empty", lambda w: cfg(output_dir=""), ConfigError, "''"),
    Case("mae", "preset-unknown", lambda w: cfg(model="mae_huge"), ConfigError, "'mae_huge'"),
    Case("mae", "overrides-wrong-type", lambda w: cfg(model_overrides={**MICRO, "in_chans": "3"}), ConfigError,
         "'3'"),
    Case("mae", "overrides-unknown-field", lambda w: cfg(model_overrides={**MICRO, "depth2": 1}), ConfigError,
         "depth2"),
    Case("mae", "overrides-not-a-mapping", lambda w: cfg(model_overrides=5), ConfigError, "got 5"),
    Case("mae", "from-dict-not-a-mapping", lambda w: PretrainConfig.from_dict([1]), ConfigError, "list"),
    Case("mae", "yaml-malformed", lambda w: PretrainConfig.from_yaml(w / "bad.yaml"), ConfigError,
         "bad.yaml is not valid YAML at line"),
    Case("mae", "yaml-string-for-number", lambda w: PretrainConfig.from_yaml(w / "strval.yaml"), ConfigError,
         "'fast'"),
    Case("mae", "yaml-float-for-int", lambda w: PretrainConfig.from_yaml(w / "batch.yaml"), ConfigError, "8.5"),
    Case("mae", "yaml-a-list", lambda w: PretrainConfig.from_yaml(w / "listcfg.yaml"), ConfigError, "listcfg.yaml"),
    Case("mae", "yaml-unknown-key", lambda w: PretrainConfig.from_yaml(w / "unknown.yaml"), ConfigError,
         "mask_ratios"),
    Case("mae", "yaml-missing", lambda w: PretrainConfig.from_yaml(w / "no_such.yaml"), FileNotFoundError,
         "no_such.yaml"),
    Case("mae", "model-mlp-ratio-zero", lambda w: MAEConfig(mlp_ratio=0), ConfigError, "got 0.0"),
    Case("mae", "model-heads-do-not-divide", lambda w: MAEConfig(embed_dim=30, num_heads=4), ConfigError, "30"),
    Case("mae", "model-patch-does-not-divide", lambda w: MAEConfig(img_size=30, patch_size=4), ConfigError,
         "img_size 30"),
    Case("mae", "model-norm-pix-string", lambda w: MAEConfig(norm_pix_loss="yes"), ConfigError, "'yes'"),
    Case("mae", "checkpoint-truncated", lambda w: load_checkpoint(w / "trunc.pt"), CheckpointError, "trunc.pt"),
    Case("mae", "checkpoint-empty-file", lambda w: load_checkpoint(w / "zero.pt"), CheckpointError, "zero.pt"),
    Case("mae", "checkpoint-text", lambda w: load_checkpoint(w / "text.pt"), CheckpointError, "text.pt"),
    Case("mae", "checkpoint-unsafe-pickle", lambda w: load_checkpoint(w / "evil.pt"), CheckpointError, "evil.pt"),
    Case("mae", "checkpoint-not-a-dict", lambda w: load_checkpoint(w / "tensor_ckpt.pt"), CheckpointError, "Tensor"),
    Case("mae", "checkpoint-missing", lambda w: load_checkpoint(w / "missing.pt"), FileNotFoundError, "missing.pt"),
    Case("mae", "pretrained-truncated", lambda w: load_pretrained(w / "trunc.pt"), CheckpointError, "trunc.pt"),
    Case("mae", "pretrained-not-tensors", lambda w: load_pretrained({"model": {"a": "b"}}), CheckpointError, "'a'"),
    Case("mae", "pretrained-not-a-source", lambda w: load_pretrained(42), CheckpointError, "int"),
    Case("mae", "pretrained-wrong-shapes",
         lambda w: load_pretrained(w / "weights.pt", cfg=MAEConfig(**{**MICRO, "embed_dim": 32})), CheckpointError,
         "mis-shaped"),
    Case("mae", "pretrain-uint8-images", lambda w: pretrain(cfg(), (images() * 255).to(torch.uint8)), DataError,
         "uint8"),
    Case("mae", "pretrain-nan-images",
         lambda w: pretrain(cfg(), torch.where(images() > 0.99, torch.tensor(float("nan")), images())), DataError,
         "NaN"),
    Case("mae", "pretrain-wrong-channels", lambda w: pretrain(cfg(), images()[:, :1]), DataError,
         "(8, 1, 16, 16)"),
    Case("mae", "pretrain-too-few-images", lambda w: pretrain(cfg(), images(2)), DataError, "2 images"),
    Case("mae", "pretrain-not-images", lambda w: pretrain(cfg(), [1, 2, 3]), DataError, "list"),
    Case("mae", "pretrain-until-step-negative", lambda w: pretrain(cfg(), images(), until_step=-1), ConfigError,
         "until_step = -1"),
    Case("mae", "pretrain-until-step-zero", lambda w: pretrain(cfg(), images(), until_step=0), ConfigError,
         "until_step = 0"),
    Case("mae", "pretrain-resume-below-checkpoint",
         lambda w: pretrain(cfg(output_dir=str(w / "run")), images(), resume=True, until_step=1), CheckpointError,
         "until_step 1 is below"),
    Case("mae", "pretrain-new-run-over-a-run", lambda w: pretrain(cfg(output_dir=str(w / "run")), images()),
         CheckpointError, "already holds a run"),
    Case("mae", "pretrain-resume-other-config",
         lambda w: pretrain(cfg(output_dir=str(w / "run"), mask_ratio=0.75), images(), resume=True),
         CheckpointError, "mask_ratio (checkpoint 0.5, now 0.75)"),
    Case("mae", "pretrain-resume-other-data",
         lambda w: pretrain(cfg(output_dir=str(w / "run")), images(seed=1), resume=True), CheckpointError,
         "other data"),
    Case("mae", "pretrain-resume-missing", lambda w: pretrain(cfg(), images(), resume=w / "nope.pt"),
         FileNotFoundError, "nope.pt"),
    Case("mae", "pretrain-resume-weights-only",
         lambda w: pretrain(cfg(output_dir=str(w / "new")), images(), resume=w / "weights.pt"), CheckpointError,
         "not a training checkpoint"),
    Case("mae", "pretrain-resume-truncated", lambda w: pretrain(cfg(), images(), resume=w / "trunc.pt"),
         CheckpointError, "trunc.pt"),
    Case("mae", "pretrain-resume-not-a-path", lambda w: pretrain(cfg(), images(), resume=3), ConfigError,
         "resume = 3"),
    Case("mae", "pretrain-epochs-round-to-no-step", lambda w: pretrain(cfg(steps=None, epochs=0.1), images()),
         ConfigError, "epochs = 0.1"),
    Case("mae", "pretrain-warmup-epochs-outlast-run",
         lambda w: pretrain(cfg(steps=None, epochs=1, warmup_steps=None, warmup_epochs=5), images()), ConfigError,
         "warm-up of 10 steps"),
    Case("mae", "pretrain-min-lr-above-peak", lambda w: pretrain(cfg(lr=None, min_lr=1.0), images()), ConfigError,
         "min_lr = 1.0"),
    Case("mae", "pretrain-output-dir-is-a-file", lambda w: pretrain(cfg(output_dir=str(w / "good.pt")), images()),
         ConfigError, "good.pt"),
    Case("mae", "pretrain-model-not-a-model", lambda w: pretrain(cfg(), images(), model="vit"), ConfigError, "got str"),
    Case("mae", "model-uint8-images", lambda w: MODEL(X_U8), ValueError, "uint8"),
    Case("mae", "model-mask-ratio", lambda w: MODEL(X, mask_ratio=1.5), ValueError, "1.5"),
    Case("mae", "mask-grid-unit", lambda w: make_grid(32, 4, 6), ValueError, "unit 6"),

    # ---- eval: images and features (DataError), arguments (ValueError)
    Case("eval", "ssim-integer-images", lambda w: ev.ssim(X_U8, X_U8), DataError, "uint8"),
    Case("eval", "ssim-0-255-floats", lambda w: ev.ssim(X * 255, X * 255), DataError, "outside [0, 1.0]"),
    Case("eval", "ssim-nan", lambda w: ev.ssim(X * math.nan, X), DataError, "NaN"),
    Case("eval", "ssim-shapes-differ", lambda w: ev.ssim(X, X[:1]), DataError, "(1, 3, 16, 16)"),
    Case("eval", "ssim-sigma-zero", lambda w: ev.ssim(X, X, sigma=0), ValueError, "sigma"),
    Case("eval", "psnr-data-range-zero", lambda w: ev.psnr(X, X, data_range=0), DataError, "got 0"),
    Case("eval", "mse-integer-images", lambda w: ev.mse(X_U8, X_U8), DataError, "uint8"),
    Case("eval", "fsim-two-channels", lambda w: ev.fsim(X[:, :2], X[:, :2]), DataError, "got 2"),
    Case("eval", "metrics-unknown", lambda w: ev.reconstruction_metrics(X, X, metrics=["ssi"]), ValueError, "'ssi'"),
    Case("eval", "metrics-batch-zero", lambda w: ev.reconstruction_metrics(X, X, batch_size=0), ValueError, "got 0"),
    Case("eval", "features-batch-zero", lambda w: ev.extract_features(ev.feature_fn(MODEL), X, batch_size=0),
         ValueError, "got 0"),
    Case("eval", "features-integer-images", lambda w: ev.extract_features(ev.feature_fn(MODEL), X_U8), DataError,
         "uint8"),
    Case("eval", "features-pool", lambda w: ev.feature_fn(MODEL, pool="max"), ValueError, "'max'"),
    Case("eval", "tsne-perplexity", lambda w: ev.tsne_embedding(np.random.rand(10, 4), perplexity=0), ValueError,
         "got 0"),
    Case("eval", "probe-float-labels", lambda w: ev.fit_logistic_probe(np.random.rand(10, 4), np.random.rand(10)),
         DataError, "float64"),
    Case("eval", "probe-nan-features", lambda w: ev.fit_logistic_probe(np.full((10, 4), np.nan), np.arange(10) % 2),
         DataError, "NaN"),
    Case("eval", "top1-labels-mismatch", lambda w: ev.top1_accuracy(torch.rand(4, 3), torch.tensor([0, 1])),
         DataError, "(2,)"),
    Case("eval", "probe-config-epochs", lambda w: ev.ProbeConfig(epochs=0), ValueError, "got 0, 10"),
    Case("eval", "transfer-config-lr", lambda w: ev.TransferConfig(lr=-1), ValueError, "lr = -1"),
    Case("eval", "r2-latents-not-a-mapping", lambda w: ev.r2_scores(np.random.rand(10, 4), np.random.rand(10, 2)),
         ValueError, "ndarray"),
    Case("eval", "masked-loss-nan-images", lambda w: ev.masked_loss_vs_mean_colour(MODEL, X * math.nan, 0.5, 8),
         DataError, "NaN"),
    Case("eval", "attention-integer-images", lambda w: ev.attention_maps(MODEL, X_U8), DataError, "uint8"),

    # ---- experiments: parameters (ParamsError), the run cache (CacheError, ValueError)
    Case("experiments", "params-mask-ratio", lambda w: PretrainingParams(mask_ratio=1.5), ParamsError, "1.5"),
    Case("experiments", "params-steps-negative", lambda w: PretrainingParams(steps=-1), ParamsError, "steps = -1"),
    Case("experiments", "params-blr-zero", lambda w: PretrainingParams(blr=0.0), ParamsError, "blr = 0.0"),
    Case("experiments", "params-object-masks-on-fashion-mnist",
         lambda w: PretrainingParams(data="fashion_mnist", mask_kind="object"), ParamsError, "fashion_mnist"),
    Case("experiments", "params-data-unknown", lambda w: PretrainingParams(data="cifar"), ParamsError, "'cifar'"),
    Case("experiments", "params-warmup-longer", lambda w: PretrainingParams(steps=100, warmup_steps=500),
         ParamsError, "500"),
    Case("experiments", "params-mask-unit", lambda w: PretrainingParams(mask_unit=6), ParamsError, "mask unit 6 px"),
    Case("experiments", "params-seed-too-large", lambda w: PretrainingParams(seed=2**33), ParamsError,
         str(2**33)),
    Case("experiments", "params-unknown-knob", lambda w: PretrainingParams.from_dict({"mask_ratios": 0.5}),
         ParamsError, "mask_ratios"),
    Case("experiments", "params-string-for-number", lambda w: PretrainingParams.from_dict({"mask_ratio": "0.5"}),
         ParamsError, "'0.5'"),
    Case("experiments", "suite-unknown-evaluation", lambda w: EvaluationParams(evaluations=("probe", "nope")),
         ParamsError, "nope"),
    Case("experiments", "suite-n-train-zero", lambda w: EvaluationParams(n_train=0), ParamsError, "n_train = 0"),
    Case("experiments", "cache-unreadable-record", lambda w: RunCache(w / "cache").lookup("pretraining", {"k": 1}),
         CacheError, "run.json"),
    Case("experiments", "cache-prune-without-filter", lambda w: RunCache(w / "cache").prune(), ValueError, "filter"),
    Case("experiments", "cache-kind-not-identifier", lambda w: RunCache(w / "cache").folder("bad kind", {}),
         ValueError, "'bad kind'"),
    Case("experiments", "cache-cli-negative-age",
         lambda w: cache_cli.main(["--root", str(w / "cache"), "prune", "--older-than", "-1"]), CLI, "-1"),

    # ---- book runner (BookError)
    Case("book", "profile-unknown", lambda w: book.profile_parameters(w / "book_ok", "toy", "huge"),
         book.BookError, "'huge'"),
    Case("book", "chapter-unknown", lambda w: book.run_book(w / "book_ok", "smoke", only=["nope"]),
         book.BookError, "'nope'"),
    Case("book", "profile-unknown-parameter", lambda w: book.profile_parameters(w / "book_unknown", "toy", "smoke"),
         book.BookError, "unknown parameter(s) z"),
    Case("book", "profile-malformed-yaml", lambda w: book.profile_parameters(w / "book_badyaml", "toy", "smoke"),
         book.BookError, "toy.yaml"),
    Case("book", "profile-not-a-mapping", lambda w: book.profile_parameters(w / "book_notmap", "toy", "smoke"),
         book.BookError, "toy.yaml"),
    Case("book", "override-unknown",
         lambda w: book.run_chapter(w / "book_ok", "toy", "smoke", out_dir=w / "book_out", overrides={"w": 1}),
         book.BookError, "unknown parameter(s) w"),
    Case("book", "override-out-of-range",
         lambda w: book.run_chapter(ROOT, "06_pretraining", "smoke", out_dir=w / "book_out",
                                    overrides={"mask_ratio": 1.5}), book.BookError, "1.5"),
    Case("book", "override-wrong-type", lambda w: book.chapter_params("06_pretraining", "smoke", ROOT, steps="many"),
         ParamsError, "'many'"),
    Case("book", "no-book-here", lambda w: book.find_root(w / "emptyfolder"), book.BookError, "emptyfolder"),
    Case("book", "cli-parameter-without-chapter", lambda w: book.main(["-p", "x", "1"]), CLI, "--only"),

    # ---- the pretraining command line: one line, no traceback, exit 1, nothing written
    Case("cli", "lr-negative", lambda w: _cli(w, "--lr", "-1"), CLI, "lr = -1.0"),
    Case("cli", "epochs-zero", lambda w: mae_cli.main(["--epochs", "0", "--device", "cpu"]), CLI, "epochs = 0.0"),
    Case("cli", "warmup-negative", lambda w: _cli(w, "--warmup-steps", "-1"), CLI, "warmup_steps = -1"),
    Case("cli", "weight-decay-negative", lambda w: _cli(w, "--weight-decay", "-1"), CLI, "weight_decay = -1.0"),
    Case("cli", "until-step-negative", lambda w: _cli(w, "--until-step", "-1"), CLI, "until_step = -1"),
    Case("cli", "resume-below-checkpoint", lambda w: _cli(w, "--resume", "--until-step", "1", out="run"), CLI,
         "until_step 1 is below"),
    Case("cli", "new-run-over-a-run", lambda w: _cli(w, out="run"), CLI, "already holds a run"),
    Case("cli", "resume-truncated-checkpoint", lambda w: _cli(w, "--resume", out="corrupt_run"), CLI,
         "checkpoint.pt"),
    Case("cli", "resume-other-data", lambda w: _cli(w, "--resume", out="run", data="other.pt"), CLI, "other data"),
    Case("cli", "config-malformed", lambda w: _cli(w, "--config", str(w / "bad.yaml")), CLI, "bad.yaml"),
    Case("cli", "config-string-for-number", lambda w: _cli(w, "--config", str(w / "strval.yaml")), CLI, "'fast'"),
    Case("cli", "config-float-for-int", lambda w: mae_cli.main(["--config", str(w / "batch.yaml")]), CLI, "8.5"),
    Case("cli", "config-a-list", lambda w: _cli(w, "--config", str(w / "listcfg.yaml")), CLI, "listcfg.yaml"),
    Case("cli", "config-missing", lambda w: _cli(w, "--config", "no_such_config"), CLI, "no_such_config"),
    Case("cli", "device-unknown", lambda w: _cli(w, "--device", "gpu"), CLI, "'gpu'"),
    Case("cli", "device-absent", lambda w: _cli(w, "--device", "cuda:7"), CLI, "cuda:7"),
    Case("cli", "data-uint8", lambda w: _cli(w, data="uint8.pt"), CLI, "uint8"),
    Case("cli", "data-0-255-floats", lambda w: _cli(w, data="x255.pt"), CLI, "divide by 255"),
    Case("cli", "data-nan", lambda w: _cli(w, data="nan.pt"), CLI, "NaN"),
    Case("cli", "data-truncated", lambda w: _cli(w, data="trunc.pt"), CLI, "trunc.pt"),
    Case("cli", "data-unreadable-image-in-folder", lambda w: _cli(w, out=None, data="folder"), CLI, "broken.png"),
    Case("cli", "data-count", lambda w: _cli(w, data="shapes:abc"), CLI, "'abc'"),
    Case("cli", "data-unknown", lambda w: _cli(w, data="cifar10"), CLI, "'cifar10'"),
    Case("cli", "data-channels", lambda w: _cli(w, data="fashion_mnist:4"), CLI, "in_chans: 1"),
    Case("cli", "mask-ratio", lambda w: _cli(w, "--mask-ratio", "1.5"), CLI, "mask_ratio = 1.5"),
    Case("cli", "clip-grad-zero", lambda w: _cli(w, "--clip-grad", "0"), CLI, "clip_grad = 0.0"),
    Case("cli", "batch-size-zero", lambda w: _cli(w, "--batch-size", "0"), CLI, "batch_size = 0"),
    Case("cli", "seed-negative", lambda w: _cli(w, "--seed", "-1"), CLI, "seed = -1"),
    Case("cli", "amp-unknown", lambda w: _cli(w, "--amp", "fp16"), CLI, "'fp16'"),
    Case("cli", "preset-unknown", lambda w: _cli(w, "--model", "mae_huge"), CLI, "'mae_huge'"),
    Case("cli", "overrides-wrong-type", lambda w: _cli(w, "--model-overrides", "{in_chans: x}"), CLI, "'x'"),
]


def test_the_table_is_large_and_covers_every_layer():
    assert len(CASES) >= 100
    assert {c.area for c in CASES} == {"hierarchy", "data", "mae", "eval", "experiments", "book", "cli"}
    assert len({(c.area, c.id) for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}:{c.id}" for c in CASES])
def test_bad_input_is_refused_naming_it_and_changes_nothing(case: Case, world: Path, capsys) -> None:
    before = snapshot(world)
    if case.error == CLI:
        status = case.call(world)
        out = capsys.readouterr()
        lines = out.err.strip().splitlines()
        assert status == 1, out
        assert len(lines) == 1 and lines[0].startswith("error: "), out.err
        assert "Traceback" not in out.err + out.out
        message = lines[0]
    else:
        with pytest.raises(Exception) as info:
            case.call(world)
        assert type(info.value) is case.error, f"{type(info.value).__name__}: {info.value}"
        message = str(info.value)
        assert len(message.strip().splitlines()) == 1, message
    assert case.names in message, message
    assert snapshot(world) == before
