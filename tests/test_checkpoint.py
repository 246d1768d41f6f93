"""Checkpoints: round trips, mismatches and atomic writes."""

import numpy as np
import pytest

import framework as fw
from framework import nn, optim
from framework.checkpoint import load_checkpoint, save_checkpoint


def _model(hidden=8):
    return nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3))


def _train_a_few_steps(model, optimizer, steps=3):
    rng = np.random.default_rng(0)
    x = fw.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = fw.tensor(rng.integers(0, 3, 16))
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def _assert_optimizer_states_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for index, entries in sa["state"].items():
        assert entries.keys() == sb["state"][index].keys()
        for name, value in entries.items():
            other = sb["state"][index][name]
            if isinstance(value, fw.Tensor):
                np.testing.assert_array_equal(value.numpy(), other.numpy())
            else:
                assert value == other


def test_round_trip_restores_parameters_optimizer_and_metadata(tmp_path):
    fw.manual_seed(0)
    model = _model()
    optimizer = optim.Adam(model.parameters(), lr=3e-3, betas=(0.8, 0.99))
    _train_a_few_steps(model, optimizer)
    path = save_checkpoint(tmp_path / "ck.safetensors", model, optimizer, epoch=3, extra={"note": "hi", "n": [1, 2]})

    fw.manual_seed(1)  # different initial values, fresh optimizer state
    restored = _model()
    restored_opt = optim.Adam(restored.parameters(), lr=1.0)
    meta = load_checkpoint(path, restored, restored_opt)

    assert meta == {"epoch": 3, "extra": {"note": "hi", "n": [1, 2]}}
    for (name, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    _assert_optimizer_states_equal(optimizer, restored_opt)
    assert restored_opt.param_groups[0]["betas"] == (0.8, 0.99)
    # training continues identically from the restored state
    _train_a_few_steps(model, optimizer, 2)
    _train_a_few_steps(restored, restored_opt, 2)
    for a, b in zip(model.parameters(), restored.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_model_only_checkpoint(tmp_path):
    model = _model()
    save_checkpoint(tmp_path / "m.safetensors", model)
    other = _model()
    assert load_checkpoint(tmp_path / "m.safetensors", other) == {"epoch": None, "extra": None}
    np.testing.assert_array_equal(model[0].weight.numpy(), other[0].weight.numpy())
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(tmp_path / "m.safetensors", other, optim.SGD(other.parameters(), lr=0.1))


def test_buffers_round_trip_with_their_shapes_and_dtypes(tmp_path):
    """BatchNorm's buffers, the 0-d int64 ``num_batches_tracked`` included, come back exactly."""
    fw.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3))
    model(fw.randn(4, 1, 5, 5))  # training mode: moves the running statistics and counts the batch
    save_checkpoint(tmp_path / "bn.safetensors", model, epoch=1)
    restored = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3))
    load_checkpoint(tmp_path / "bn.safetensors", restored)
    for name, b in model.named_buffers():
        other = dict(restored.named_buffers())[name]
        assert other.shape == b.shape and other.dtype == b.dtype, name
        np.testing.assert_array_equal(other.numpy(), b.numpy(), err_msg=name)
    assert restored[1].num_batches_tracked.shape == () and restored[1].num_batches_tracked.item() == 1


def test_named_optimizers_round_trip(tmp_path):
    """Two optimizers (a GAN's) in one checkpoint, restored by name; wrong names or kinds are refused."""
    fw.manual_seed(0)
    models = nn.ModuleDict({"a": _model(), "b": _model(5)})
    optimizers = {"a": optim.Adam(models["a"].parameters(), lr=1e-2), "b": optim.SGD(models["b"].parameters(),
                                                                                    lr=0.1, momentum=0.9)}
    for name in ("a", "b"):
        _train_a_few_steps(models[name], optimizers[name])
    path = save_checkpoint(tmp_path / "two.safetensors", models, optimizers, epoch=2)
    restored = {"a": optim.Adam(models["a"].parameters()), "b": optim.SGD(models["b"].parameters(), lr=1.0)}
    assert load_checkpoint(path, models, restored)["epoch"] == 2
    for name in ("a", "b"):
        _assert_optimizer_states_equal(optimizers[name], restored[name])
    with pytest.raises(ValueError, match=r"has optimizers \['a', 'b'\], asked for \['a'\]"):
        load_checkpoint(path, models, {"a": restored["a"]})
    with pytest.raises(ValueError, match="named optimizers"):
        load_checkpoint(path, models, restored["a"])
    single = save_checkpoint(tmp_path / "one.safetensors", models["a"], optimizers["a"])
    with pytest.raises(ValueError, match="no named optimizer states"):
        load_checkpoint(single, models["a"], {"a": restored["a"]})


def test_shape_mismatch_names_the_key(tmp_path):
    save_checkpoint(tmp_path / "m.safetensors", _model(hidden=8))
    with pytest.raises(ValueError, match=r"'0\.weight'.*\(8, 4\).*\(5, 4\)"):
        load_checkpoint(tmp_path / "m.safetensors", _model(hidden=5))


def test_missing_and_unexpected_keys_are_named(tmp_path):
    save_checkpoint(tmp_path / "m.safetensors", _model())
    bigger = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Linear(3, 3))
    with pytest.raises(ValueError, match=r"missing keys \['3\.weight', '3\.bias'\]"):
        load_checkpoint(tmp_path / "m.safetensors", bigger)


def test_no_temp_files_left_behind(tmp_path):
    model = _model()
    save_checkpoint(tmp_path / "m.safetensors", model)
    save_checkpoint(tmp_path / "m.safetensors", model, epoch=2)  # overwrite in place
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "bad.safetensors", model, extra={"x": Unserialisable()})
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    assert load_checkpoint(tmp_path / "m.safetensors", _model())["epoch"] == 2


def test_not_a_checkpoint(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ValueError, match="not a kernelgrad checkpoint"):
        load_checkpoint(tmp_path / "plain.safetensors", _model())
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.safetensors", _model())


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "bad_header", "bad_metadata"])
def test_corrupted_checkpoint_raises_a_clear_error(tmp_path, damage):
    model = _model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, optim.SGD(model.parameters(), lr=0.1), epoch=1)
    data = path.read_bytes()
    if damage == "truncated":
        data = data[: len(data) - 20]
    elif damage == "garbage":
        data = b"not a checkpoint at all" * 4
    elif damage == "empty":
        data = b""
    elif damage == "bad_header":
        data = data[:8] + b"{" * 16 + data[24:]
    else:  # valid safetensors whose kernelgrad metadata is not JSON
        from safetensors.numpy import save_file

        save_file({"model.0.weight": np.zeros((8, 4), np.float32)}, str(path), metadata={"kernelgrad": "{oops"})
        data = path.read_bytes()
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"m\.safetensors: corrupted"):
        load_checkpoint(path, _model())


def test_optimizer_of_another_model_is_rejected(tmp_path):
    model = _model()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    _train_a_few_steps(model, optimizer)
    path = save_checkpoint(tmp_path / "m.safetensors", model, optimizer)
    same = _model()
    two_groups = optim.Adam([{"params": [same[0].weight, same[0].bias]}, {"params": [same[2].weight, same[2].bias]}])
    with pytest.raises(ValueError, match="parameter groups"):
        load_checkpoint(path, same, two_groups)


def _scheduled(kind: str):
    from framework.optim import lr_scheduler as sched

    fw.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    make = {
        "step": lambda: sched.StepLR(opt, 3, 0.5),
        "onecycle": lambda: sched.OneCycleLR(opt, 1.0, total_steps=40),
        "plateau": lambda: sched.ReduceLROnPlateau(opt, patience=1),
        "sequential": lambda: sched.SequentialLR(opt, [sched.LinearLR(opt, 0.1, total_iters=3),
                                                       sched.CosineAnnealingLR(opt, 10)], [3]),
        "warm-restarts": lambda: sched.CosineAnnealingWarmRestarts(opt, 4, 2),
    }
    return model, opt, make[kind]()


def _advance(opt, scheduler, steps: range) -> list[list[float]]:
    from framework.optim.lr_scheduler import ReduceLROnPlateau

    rates = []
    for k in steps:
        opt.step()
        if isinstance(scheduler, ReduceLROnPlateau):
            scheduler.step([1.0, 0.9, 0.95, 0.97, 0.99, 1.2][k % 6])  # improvements and plateaus
        else:
            scheduler.step()
        rates.append([group["lr"] for group in opt.param_groups])
    return rates


@pytest.mark.parametrize("kind", ["step", "onecycle", "plateau", "sequential", "warm-restarts"])
def test_scheduler_round_trip_continues_the_same_schedule(tmp_path, kind):
    model, opt, scheduler = _scheduled(kind)
    _advance(opt, scheduler, range(7))
    path = save_checkpoint(tmp_path / "ckpt.safetensors", model, opt, epoch=7, scheduler=scheduler)
    expected = _advance(opt, scheduler, range(7, 15))
    model2, opt2, scheduler2 = _scheduled(kind)
    load_checkpoint(path, model2, opt2, scheduler=scheduler2)
    assert _advance(opt2, scheduler2, range(7, 15)) == expected
    assert len({tuple(r) for r in expected}) > 1  # the schedule really moves over these steps


def test_scheduler_missing_or_of_another_class_is_a_clear_error(tmp_path):
    model, opt, scheduler = _scheduled("step")
    plain = save_checkpoint(tmp_path / "plain.safetensors", model, opt)
    with pytest.raises(ValueError, match="no scheduler state"):
        load_checkpoint(plain, model, opt, scheduler=scheduler)
    path = save_checkpoint(tmp_path / "step.safetensors", model, opt, scheduler=scheduler)
    _, opt2, plateau = _scheduled("plateau")
    with pytest.raises(ValueError, match="does not fit a ReduceLROnPlateau"):
        load_checkpoint(path, model, opt2, scheduler=plateau)


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def test_a_killed_save_leaves_no_litter_after_the_next_save(tmp_path):
    """A writer killed between create and rename cannot clean up; the next save removes its temporary."""
    import signal
    import subprocess
    import sys

    target = tmp_path / "m.safetensors"
    dead = tmp_path / f".m.safetensors.{_dead_pid()}.0a1b2c3d.tmp"
    dead.write_bytes(b"half a checkpoint")
    # a temporary of a writer that is still alive (another process saving right now) must survive
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = tmp_path / f".m.safetensors.{sleeper.pid}.0a1b2c3d.tmp"
        alive.write_bytes(b"being written")
        other = tmp_path / f".other.safetensors.{_dead_pid()}.0a1b2c3d.tmp"  # another file's: not ours to touch
        other.write_bytes(b"x")
        save_checkpoint(target, _model())
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, alive.name, other.name])
    finally:
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()
    save_checkpoint(target, _model())  # now that writer is dead too
    assert not alive.exists()
    assert load_checkpoint(target, _model())["epoch"] is None


def test_a_real_kill_during_save_is_cleaned_up(tmp_path):
    """SIGKILL a process in the middle of writing (its temporary exists, the rename never happens)."""
    import subprocess
    import sys

    target = tmp_path / "m.safetensors"
    code = (
        "import sys, os, signal\n"
        "from framework.atomic import atomic_write\n"
        "with atomic_write(sys.argv[1]) as f:\n"
        "    f.write(b'partial')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True)
    assert proc.returncode == -9
    litter = [p.name for p in tmp_path.iterdir()]
    assert len(litter) == 1 and litter[0].endswith(".tmp"), litter  # what a kill leaves
    save_checkpoint(target, _model())
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_file_permissions_follow_the_umask(tmp_path, umask):
    import os
    import stat

    old = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "m.safetensors", _model())
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_a_failed_load_changes_nothing(tmp_path):
    """The optimizer part fails only once it is being loaded: model and optimizer must be as before."""
    model = _model()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    _train_a_few_steps(model, optimizer)
    path = save_checkpoint(tmp_path / "m.safetensors", model, optimizer)

    fw.manual_seed(5)
    target = _model()
    target_opt = optim.Adam([{"params": [target[0].weight, target[0].bias]},
                             {"params": [target[2].weight, target[2].bias]}], lr=0.5)
    _train_a_few_steps(target, target_opt, 1)
    before = {name: value.numpy().copy() for name, value in target.state_dict().items()}
    before_opt = target_opt.state_dict()
    before_state = {i: {k: (v.numpy().copy() if isinstance(v, fw.Tensor) else v) for k, v in s.items()}
                    for i, s in before_opt["state"].items()}
    with pytest.raises(ValueError, match="parameter groups"):
        load_checkpoint(path, target, target_opt)
    for name, value in target.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[name], err_msg=name)
    after = target_opt.state_dict()
    assert after["param_groups"] == before_opt["param_groups"]
    for i, entries in after["state"].items():
        for k, v in entries.items():
            np.testing.assert_array_equal(v.numpy() if isinstance(v, fw.Tensor) else v, before_state[i][k])

    # a scheduler of another class is refused before the model is touched
    from framework.optim.lr_scheduler import StepLR

    model2 = _model()
    opt2 = optim.SGD(model2.parameters(), lr=0.1)
    path2 = save_checkpoint(tmp_path / "s.safetensors", model2, opt2, scheduler=StepLR(opt2, 2))
    fresh = _model()
    snapshot = {name: value.numpy().copy() for name, value in fresh.state_dict().items()}
    fresh_opt = optim.SGD(fresh.parameters(), lr=0.1)
    from framework.optim.lr_scheduler import ReduceLROnPlateau

    with pytest.raises(ValueError, match="does not fit"):
        load_checkpoint(path2, fresh, fresh_opt, ReduceLROnPlateau(fresh_opt))
    for name, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), snapshot[name], err_msg=name)


@pytest.mark.parametrize("meta_change", [{"format": "something-else"}, {"version": 99}, {"version": "1"},
                                          {"format": None}])
def test_format_and_version_are_checked(tmp_path, meta_change):
    import json

    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    path = save_checkpoint(tmp_path / "m.safetensors", _model())
    with safe_open(str(path), framework="numpy") as f:
        meta = json.loads(f.metadata()["kernelgrad"])
    meta.update(meta_change)
    save_file(load_file(str(path)), str(path), metadata={"kernelgrad": json.dumps(meta)})
    with pytest.raises(ValueError, match="not a kernelgrad checkpoint|format version"):
        load_checkpoint(path, _model())
