"""The experiments layer end to end at toy size: pretraining runs through the cache, the suite."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from mae_hlvm.experiments import RunCache
from mae_hlvm.experiments import evaluation as E, pretraining as P
from mae_hlvm.experiments.evaluation import EVALUATIONS, EvaluationParams, evaluate
from mae_hlvm.experiments.params import ParamsError
from mae_hlvm.mae.train import pretrain

TOY = P.PretrainingParams(n_images=64, steps=4, warmup_steps=1, batch_size=16, n_heldout=16)


@pytest.fixture
def cache(tmp_path):
    return RunCache(tmp_path / "cache")


def _same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_run_is_trained_once_then_loaded(cache):
    first = P.run(TOY, cache, progress_every_s=0)
    assert not first.reused and len(first.history) == 4 and first.checkpoint.is_file()
    assert first.record["status"] == "complete" and first.train_seconds > 0
    assert set(first.heldout) == {"loss", "baseline", "ratio"}
    again = P.run(TOY, cache)
    assert again.reused and again.folder == first.folder and _same_weights(first.model, again.model)
    assert again.history == first.history
    # every run logs the monitor loss (held-out images, one common mask) at its last step; it is no
    # part of the run's key, so runs cached before the monitor existed keep their keys
    assert first.monitor and first.monitor[-1][0] == TOY.steps and first.monitor[-1][1] > 0
    assert first.step_seconds > 0 and first.images_per_s == pytest.approx(TOY.batch_size / first.step_seconds)
    assert "monitor_every" not in TOY.cache_config()["pretrain_config"]
    assert first.monitor_ratio == again.monitor_ratio == P.MONITOR_RATIO
    late = dataclasses.replace(first, history=first.history[1:])  # resumed into the monitor: not comparable
    assert late.monitor == []


def test_changing_one_parameter_is_another_run(cache):
    a = P.run(TOY.replace(steps=0), cache)
    b = P.run(TOY.replace(steps=0, seed=1), cache)
    assert a.folder != b.folder and not _same_weights(a.model, b.model)
    assert a.history == [] and a.train_seconds == 0.0


def test_options_enter_the_key_only_where_they_act():
    # an option added after runs were cached keeps their keys while it is off, and a setting that only
    # acts for one mask kind enters the key only for that kind
    base = P.PretrainingParams().cache_config()
    for k in ("ignore_boundary_px", "mask_kind", "superpixel_segments", "object_min_share"):
        assert k not in base["params"] and k not in base["pretrain_config"]
    sp = P.PretrainingParams(data="fashion_mnist", mask_kind="superpixel").cache_config()
    assert "superpixel_segments" in sp["params"] and "object_min_share" not in sp["params"]
    obj = P.PretrainingParams(mask_kind="object").cache_config()
    assert obj["params"]["object_min_share"] == 0.0 and obj["pretrain_config"]["object_min_share"] == 0.0
    assert P.PretrainingParams(mask_kind="object", object_min_share=0.5).cache_config() != obj


def test_untrained_run_is_the_initialisation_pretrain_starts_from(cache):
    untrained = P.run(TOY.replace(steps=0), cache).model
    torch.manual_seed(TOY.seed)
    from mae_hlvm.mae import MaskedAutoencoder
    fresh = MaskedAutoencoder(TOY.pretrain_config().model_config())
    assert _same_weights(untrained, fresh)


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(cache, tmp_path):
    whole = P.run(TOY, RunCache(tmp_path / "other"))
    assert P.steps_done(TOY, cache) == 0
    started = cache.begin(P.KIND, TOY.cache_config())                 # as if killed after 2 steps
    assert P.steps_done(TOY, cache) == 0                              # begun, no checkpoint yet
    pretrain(TOY.pretrain_config(device="cpu", output_dir=str(started.folder), progress=False),
             P.training_images(TOY), until_step=2)
    assert P.steps_done(TOY, cache) == 2                              # where it will resume
    resumed = P.run(TOY, cache)
    assert P.steps_done(TOY, cache) == TOY.steps
    assert not resumed.reused and resumed.record.get("resumed")
    assert _same_weights(whole.model, resumed.model)
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in whole.history], rel=1e-6)


@pytest.mark.parametrize("change, message", [
    ({"mask_unit": 12}, "mask_unit = 12"),
    ({"mask_ratio": 0.99, "mask_unit": 16}, "mask_ratio = 0.99"),
    ({"mask_ratio": 1.0}, r"mask_ratio = 1.0: must lie in \(0, 1\)"),
    ({"data": "cifar10"}, "data must be 'shapes' | 'fashion_mnist'"),
    ({"model": "vit_giant"}, "model = 'vit_giant': must be one of"),
    ({"warmup_steps": 10}, r"warmup_steps = 10: must be <= steps \(4\)"),
    ({"batch_size": 128}, "one batch cannot be filled from n_images = 64"),
    ({"data": "fashion_mnist", "img_size": 16}, "Fashion-MNIST images are 28 px"),
])
def test_bad_sweep_points_are_refused_before_training(change, message):
    with pytest.raises(ParamsError, match=message):
        TOY.replace(**change)


SUITE = EvaluationParams(n_train=40, n_test=40, n_shift=10, n_cue=20, probe="logistic", recon_n=8, tsne_n=30,
                         tsne_perplexity=5.0, transfer_n_train=16, transfer_n_test=10, transfer_epochs=1,
                         ident_max_train=16)


def test_the_suite_runs_every_evaluation_and_caches_its_result(cache, monkeypatch):
    run = P.run(TOY.replace(steps=0), cache)
    res = evaluate(run, SUITE, cache)
    assert set(EVALUATIONS) <= set(res) and set(res["seconds"]) >= set(EVALUATIONS) - {"probe"} | {"features"}
    assert 0 <= res["reconstruction"]["ssim"]["mean"] <= 1 and res["reconstruction"]["ssim"]["n"] == 8
    assert 0 <= res["probe"]["accuracy"] <= 1 and res["probe"]["chance"] == pytest.approx(0.1)
    assert set(res["robustness"]) == {"IN1K", "IN-v2", "ObjectNet", "IN-R", "IN-A", "IN-S"}
    assert res["robustness"]["IN1K"] == pytest.approx(res["probe"]["accuracy"])
    assert len(res["tsne"]["embedding"]) == 30 and set(res["identifiability"]["by_level"]) == {
        "global", "region", "local"}
    def not_again(*args, **kwargs):
        raise AssertionError("the suite ran again instead of answering from the run's cache")

    monkeypatch.setattr(E, "_run_suite", not_again)
    assert evaluate(run, SUITE, cache) == res
    monkeypatch.undo()
    only = evaluate(run.model, SUITE.replace(evaluations=["shape_bias"]), cache)
    assert set(only) == {"mask_ratio", "mask_unit", "data", "probe", "shape_bias", "seconds"}


def test_evaluation_off_the_cpu_is_cached_apart_and_the_cpus_key_is_unchanged(cache):
    from mae_hlvm.experiments.evaluation import cache_key

    run = P.run(TOY.replace(steps=0), cache)
    smoke = SUITE.replace(evaluations=["probe"])
    res = evaluate(run, smoke, cache)
    assert evaluate(run, smoke, cache, device="cpu") == res     # the CPU's cached result, as before
    assert next(run.model.parameters()).device.type == "cpu"    # the run's model stays on the CPU
    cpu = cache_key(smoke, 0.75, 4, "shapes", torch.device("cpu"))
    assert "device" not in cpu and cache_key(smoke, 0.75, 4, "shapes", torch.device("cuda", 1)) == {
        **cpu, "device": "cuda"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_suite_on_a_gpu_agrees_with_the_cpu(cache):
    run = P.run(TOY.replace(steps=0), cache)
    cpu = evaluate(run, SUITE, cache)
    gpu = evaluate(P.run(TOY.replace(steps=0), cache), SUITE, cache, device="cuda")
    assert gpu["reconstruction"]["psnr"]["mean"] == pytest.approx(cpu["reconstruction"]["psnr"]["mean"], rel=1e-3)
    assert abs(gpu["probe"]["accuracy"] - cpu["probe"]["accuracy"]) <= 0.05
    assert set(gpu["transfer"]) == set(cpu["transfer"])


@pytest.mark.parametrize("change, message", [
    ({"evaluations": ["probe", "fid"]}, r"unknown \['fid'\]"),
    ({"evaluations": ["probe", "probe"]}, "lists an evaluation twice"),
    ({"n_test": 0}, "n_test = 0: must be >= 1"),
    ({"tsne_perplexity": 500.0}, "must be below the number of t-SNE points"),
    ({"recon_n": 50}, r"recon_n = 50: must be <= n_test = 40 \(the images it is drawn from\)"),
    ({"transfer_n_train": 41}, "transfer_n_train = 41: must be <= n_train = 40"),
])
def test_bad_suites_are_refused(change, message):
    with pytest.raises(ParamsError, match=message):
        SUITE.replace(**change)


def test_evaluate_refuses_what_is_not_a_model(cache):
    with pytest.raises(TypeError, match="PretrainingRun, a checkpoint path or a MaskedAutoencoder"):
        evaluate(42, SUITE, cache)


def test_evaluate_takes_the_data_a_bare_model_is_scored_on(cache):
    run = P.run(TOY.replace(steps=0), cache)                    # a shapes run: 3 channels
    only = SUITE.replace(evaluations=["reconstruction"], recon_n=4)
    assert evaluate(run.model, only, data="shapes")["data"] == "shapes"
    with pytest.raises(ValueError, match="data 'fashion_mnist' has 1 channel\\(s\\); the model takes 3"):
        evaluate(run.model, only, data="fashion_mnist")
    with pytest.raises(ValueError, match="data 'cifar10': the evaluation suite has images for shapes, "
                                         "fashion_mnist only"):
        evaluate(run.model, only, data="cifar10")
    with pytest.raises(ValueError, match="data 'fashion_mnist', but the run or checkpoint was trained on 'shapes'"):
        evaluate(run, only, cache, data="fashion_mnist")


def test_the_reconstruction_mask_takes_the_models_unit_unless_the_suite_names_one(cache, tmp_path):
    from mae_hlvm.mae.checkpoint import save_checkpoint

    model = P.run(TOY.replace(steps=0), cache).model
    only = SUITE.replace(evaluations=["reconstruction"], recon_ratio=0.5)
    assert evaluate(model, only, cache, mask_unit=8)["mask_unit"] == 8         # the model's own unit
    assert evaluate(model, only.replace(recon_unit=4), cache, mask_unit=8)["mask_unit"] == 4
    with pytest.raises(ValueError, match=r"reconstruction mask unit 3 px .* does not fit this model"):
        evaluate(model, only.replace(recon_unit=3), cache)
    # a checkpoint trained on data the suite has no images of is refused, naming it
    state = {"model": model.state_dict(), "model_config": model.cfg.__dict__, "config": {"mask_ratio": 0.75},
             "data": {"spec": "/data/imagenet/train", "kind": "dataset"}}
    path = save_checkpoint(tmp_path / "ckpt.pt", state)
    with pytest.raises(ValueError, match="trained on '/data/imagenet/train'; the evaluation suite scores"):
        evaluate(path, only, cache)


def test_pixel_reference_reads_the_noise_level_from_the_suites_test_images():
    from mae_hlvm.experiments.evaluation import pixel_reference

    ref = pixel_reference(SUITE.replace(n_test=300, ident_max_train=100), 32)
    assert set(ref) == {"texture_frequency", "texture_contrast", "noise_std"}
    assert ref["noise_std"] > 0.8 and all(v <= 1 for v in ref.values())


def test_final_monitor_loss_is_the_curves_last_point_or_the_same_measurement_now(cache):
    from mae_hlvm.experiments.pretraining import MONITOR_IMAGES, final_monitor_loss, heldout_images
    from mae_hlvm.mae import monitor_loss

    run = P.run(TOY, cache)
    assert run.monitor and final_monitor_loss(run, cache) == run.monitor[-1][1]
    again = monitor_loss(run.model, heldout_images(TOY)[:MONITOR_IMAGES], P.MONITOR_RATIO, batch_size=7)
    assert again == pytest.approx(run.monitor[-1][1], rel=1e-5)      # the same images, masks and model
    untrained = P.run(TOY.replace(steps=0), cache)                       # no curve: measured, then cached
    first = final_monitor_loss(untrained, cache)
    assert first > run.monitor[-1][1] and final_monitor_loss(untrained, cache) == first
    assert list(untrained.cached.folder.rglob("monitor_final-*.json"))
