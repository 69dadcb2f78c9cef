"""Checkpoints: atomic writes, weights_only loading, official/timm imports and refusals."""
import argparse
import os
from pathlib import Path

import pytest
import torch

from mae_hlvm.mae import CheckpointError, create_mae, load_checkpoint, load_pretrained, save_checkpoint
from mae_hlvm.mae.checkpoint import infer_config, model_payload

MICRO = dict(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2,
             decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)


def test_atomic_save_replaces_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"a": torch.ones(2)})
    save_checkpoint(path, {"a": torch.zeros(2)})
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]
    assert torch.equal(load_checkpoint(path)["a"], torch.zeros(2))

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)  # a crash between write and rename
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"a": torch.full((2,), 7.0)})
    assert torch.equal(load_checkpoint(path)["a"], torch.zeros(2))  # old file intact
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # temp removed


def test_load_is_weights_only(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"evil\.pt holds objects that weights_only loading refuses"):
        load_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")


def test_roundtrip_our_payload(tmp_path):
    torch.manual_seed(0)
    model = create_mae("mae_tiny", **MICRO, norm_pix_loss=True)
    save_checkpoint(tmp_path / "m.pt", model_payload(model))
    loaded = load_pretrained(tmp_path / "m.pt")
    assert loaded.cfg == model.cfg
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_official_checkpoint_file_with_args_namespace(tmp_path):
    """facebookresearch/mae saves {'model', 'optimizer', 'epoch', 'scaler', 'args': Namespace}."""
    torch.manual_seed(0)
    src = create_mae("mae_tiny", **MICRO)
    sd = {f"module.{k}" if k.startswith("blocks") else k: v for k, v in src.state_dict().items()}  # DDP prefix too
    torch.save({"model": sd, "optimizer": {}, "epoch": 799, "args": argparse.Namespace(mask_ratio=0.75)},
               tmp_path / "official.pth")
    loaded = load_pretrained(tmp_path / "official.pth", num_heads=2, decoder_num_heads=2)
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, mask=torch.arange(16).lt(4).expand(2, 16)).loss,
                                   src(x, mask=torch.arange(16).lt(4).expand(2, 16)).loss)


@pytest.mark.parametrize("args, override, expected", [
    (argparse.Namespace(norm_pix_loss=True), {}, True),  # main_pretrain's args say how the loss was taken
    ({"norm_pix_loss": True}, {}, True),
    (argparse.Namespace(mask_ratio=0.75), {}, False),  # args without it, or none: the released weights
    (None, {}, False),
    (argparse.Namespace(norm_pix_loss=True), {"norm_pix_loss": False}, False),  # an override wins
])
def test_official_checkpoint_norm_pix_loss_comes_from_its_args(args, override, expected):
    sd = create_mae("mae_tiny", **MICRO).state_dict()
    obj = {"model": sd} if args is None else {"model": sd, "args": args}
    assert load_pretrained(obj, num_heads=2, decoder_num_heads=2, **override).cfg.norm_pix_loss is expected


def test_infer_config_defaults_for_known_widths():
    with torch.device("meta"):
        sd = create_mae("mae_vit_base_patch8").state_dict()
    cfg = infer_config(sd)
    assert (cfg.patch_size, cfg.img_size, cfg.num_heads, cfg.depth, cfg.decoder_num_heads, cfg.decoder_depth) \
        == (8, 224, 12, 12, 16, 8)


def test_missing_unexpected_and_misshaped_keys_are_named():
    sd = create_mae("mae_tiny", **MICRO).state_dict()
    cfg = create_mae("mae_tiny", **MICRO).cfg
    broken = dict(sd)
    del broken["blocks.1.mlp.fc2.bias"]
    with pytest.raises(ValueError, match=r"missing keys \['blocks.1.mlp.fc2.bias'\]"):
        load_pretrained(broken, cfg=cfg)
    broken = dict(sd, **{"norm.weight": torch.ones(31)})
    with pytest.raises(ValueError, match=r"mis-shaped keys \[norm.weight: expected \(32,\), got \(31,\)\]"):
        load_pretrained(broken, cfg=cfg)
    broken = dict(sd, **{"head.weight": torch.ones(10, 32)})
    with pytest.raises(ValueError, match=r"unexpected keys \['head.weight'\]"):
        load_pretrained(broken, cfg=cfg)
    with pytest.raises(ValueError, match="lacks 'patch_embed.proj.weight'"):
        load_pretrained({"cls_token": torch.zeros(1, 1, 32)})
    with pytest.raises(FileNotFoundError):
        load_pretrained(Path("/nonexistent/ck.pt"))


def test_the_next_save_removes_temp_files_of_killed_saves(tmp_path):
    """A save killed mid-write (SIGKILL: no clean-up runs) leaves ``<name>.<pid>.<random>.tmp``; the
    next save of the same file removes it, and leaves a live writer's temp file alone."""
    import signal
    import subprocess
    import sys

    path = tmp_path / "checkpoint.pt"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        orphan = tmp_path / "checkpoint.pt.999999999.abcd1234.tmp"   # pid gone
        old_style = tmp_path / "checkpoint.pt.k3j4h5g6.tmp"            # the earlier naming
        live = tmp_path / f"checkpoint.pt.{proc.pid}.efgh5678.tmp"     # a process still writing
        other = tmp_path / "other.pt.999999999.abcd1234.tmp"          # another file's temp
        for p in (orphan, old_style, live, other):
            p.write_bytes(b"half a checkpoint")
        save_checkpoint(path, {"a": torch.ones(2)})
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["checkpoint.pt", live.name, other.name])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        save_checkpoint(path, {"a": torch.zeros(2)})
        assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", other.name]
    finally:
        proc.kill()
        proc.wait()


def test_corrupt_checkpoints_raise_one_error_naming_the_file(tmp_path):
    from mae_hlvm.mae import CheckpointError

    save_checkpoint(tmp_path / "good.pt", model_payload(create_mae("mae_tiny", **MICRO)))
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    for name in ("truncated.pt", "empty.pt", "text.pt"):
        for load in (load_checkpoint, load_pretrained):
            with pytest.raises(CheckpointError, match=rf"checkpoint .*{name} \(\d+ bytes\) cannot be read"):
                load(tmp_path / name)
