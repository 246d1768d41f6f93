"""The training loop and evaluation on a tiny problem."""

import numpy as np
import pytest

import framework as fw
from framework import nn, optim
from framework.data import DataLoader, TensorDataset
from framework.train import Callback, EarlyStopping, History, ModelCheckpoint, evaluate, fit


def _blobs(n=120, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]], np.float32)[:classes]
    y = rng.integers(0, classes, n)
    x = (centers[y] + 0.6 * rng.standard_normal((n, 2))).astype(np.float32)
    return x, y.astype(np.int64)


def _setup(seed=0):
    fw.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    return model, optim.Adam(model.parameters(), lr=0.02)


def test_fit_reduces_loss_and_records_history():
    x, y = _blobs()
    model, optimizer = _setup()
    train = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    val = DataLoader(TensorDataset(*_blobs(60, seed=1)), batch_size=32)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    lines = []
    history = fit(model, nn.CrossEntropyLoss(), optimizer, train, val, epochs=5, scheduler=scheduler,
                  progress=False, log=lines.append)
    assert isinstance(history, History)
    assert history.epochs == [1, 2, 3, 4, 5]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"):
        assert len(history[key]) == 5, key
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_acc[-1] > 0.9
    assert history.lr == pytest.approx([0.02, 0.02, 0.01, 0.01, 0.005])
    assert len(lines) == 5 and lines[-1].startswith("epoch 5/5") and "val loss" in lines[-1]
    assert model.training  # fit leaves the model in training mode


def test_fit_train_metrics_match_the_batches():
    # lr = 0: parameters never change, so the epoch's train loss/accuracy equal a plain evaluation.
    x, y = _blobs(50)
    model, _ = _setup()
    optimizer = optim.SGD(model.parameters(), lr=0.0)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    history = fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs=1, progress=False, log=None)
    result = evaluate(model, loader, nn.CrossEntropyLoss())
    assert history.train_loss[0] == pytest.approx(result.loss, rel=1e-5)
    assert history.train_acc[0] == pytest.approx(result.accuracy)
    assert history.val_loss == [None] and history.val_acc == [None]


class _RecordingPlateau(optim.lr_scheduler.ReduceLROnPlateau):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.metrics = []

    def step(self, metrics):
        self.metrics.append(metrics)
        super().step(metrics)


@pytest.mark.parametrize("with_val", [True, False])
def test_fit_steps_reduce_lr_on_plateau_with_the_validation_or_training_loss(with_val):
    x, y = _blobs()
    model, optimizer = _setup()
    train = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    val = DataLoader(TensorDataset(*_blobs(60, seed=1)), batch_size=32) if with_val else None
    # mode='max' on a decreasing loss: never an improvement after the first epoch, so with patience 1 the
    # rate halves after epochs 3 and 5 (epoch 2 is the first bad one, epoch 3 the second).
    scheduler = _RecordingPlateau(optimizer, mode="max", patience=1, factor=0.5)
    history = fit(model, nn.CrossEntropyLoss(), optimizer, train, val, epochs=5, scheduler=scheduler,
                  progress=False, log=None)
    assert scheduler.metrics == (history.val_loss if with_val else history.train_loss)
    assert all(isinstance(m, float) for m in scheduler.metrics)
    assert history.lr == pytest.approx([0.02, 0.02, 0.02, 0.01, 0.01])
    assert scheduler.get_last_lr() == pytest.approx([0.005])


def test_evaluate_matches_manual_computation():
    x, y = _blobs(70)
    model, _ = _setup(seed=3)
    model.train()
    loader = DataLoader(TensorDataset(x, y), batch_size=32)
    result = evaluate(model, loader, nn.CrossEntropyLoss(), num_classes=3)
    assert model.training  # mode restored

    with fw.no_grad():
        logits = model(fw.tensor(x)).numpy().astype(np.float64)
    predictions = logits.argmax(1)
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    np.testing.assert_array_equal(result.predictions, predictions)
    np.testing.assert_array_equal(result.targets, y)
    assert result.accuracy == pytest.approx(np.mean(predictions == y))
    assert result.loss == pytest.approx(-log_probs[np.arange(len(y)), y].mean(), rel=1e-5)
    assert result.confusion_matrix.shape == (3, 3)
    assert result.confusion_matrix.sum() == len(y)
    assert np.trace(result.confusion_matrix) == np.sum(predictions == y)
    assert 0.0 < result.accuracy < 1.0  # an untrained model: the comparison above is not vacuous


def test_evaluate_without_loss_and_empty_loader():
    x, y = _blobs(10)
    model, _ = _setup()
    result = evaluate(model, DataLoader(TensorDataset(x, y), batch_size=4))
    assert result.loss is None and result.confusion_matrix.shape == (3, 3)
    with pytest.raises(ValueError, match="no samples"):
        evaluate(model, DataLoader(TensorDataset(x[:0], y[:0]), batch_size=4))


# ------------------------------------------------------------------------------- bootstrap CI


def test_bootstrap_accuracy_ci_brackets_the_accuracy_and_matches_the_normal_approximation():
    from framework.train import bootstrap_accuracy_ci

    correct = np.zeros(400, bool)
    correct[:360] = True  # accuracy 0.9
    np.random.default_rng(0).shuffle(correct)
    low, high = bootstrap_accuracy_ci(correct)
    assert low < 0.9 < high
    half_width = 1.96 * np.sqrt(0.9 * 0.1 / 400)  # ~0.0294: the bootstrap agrees with the Wald interval
    assert low == pytest.approx(0.9 - half_width, abs=0.01)
    assert high == pytest.approx(0.9 + half_width, abs=0.01)
    assert bootstrap_accuracy_ci(correct) == (low, high)  # seeded: reproducible
    narrow = bootstrap_accuracy_ci(correct, confidence=0.5)
    assert low < narrow[0] < narrow[1] < high


def test_bootstrap_accuracy_ci_degenerate_and_bad_input():
    from framework.train import EvalResult, bootstrap_accuracy_ci

    assert bootstrap_accuracy_ci(np.ones(50, bool)) == (1.0, 1.0)
    assert bootstrap_accuracy_ci(np.zeros(7, bool)) == (0.0, 0.0)
    assert bootstrap_accuracy_ci(np.array([True])) == (1.0, 1.0)
    low, high = bootstrap_accuracy_ci(np.array([1, 0, 1, 1]))  # 0/1 ints are accepted
    assert 0.0 <= low <= 0.75 <= high <= 1.0
    for bad in (np.zeros(0, bool), np.ones((2, 2), bool), np.array([0.5, 1.0])):
        with pytest.raises(ValueError, match="correct"):
            bootstrap_accuracy_ci(bad)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_accuracy_ci(np.ones(3, bool), confidence=1.0)
    result = EvalResult(loss=None, accuracy=0.5, confusion_matrix=np.zeros((2, 2), np.int64),
                        predictions=np.array([0, 1, 1, 0]), targets=np.array([0, 1, 0, 1]))
    np.testing.assert_array_equal(result.correct, [True, True, False, False])


# -------------------------------------------------------------------------------- callbacks


def _weights(model):
    return {name: t.numpy().copy() for name, t in model.state_dict().items()}


class _CraftedValLoss(Callback):
    """Overwrites each epoch's val_loss with a crafted value and snapshots the weights of every epoch."""

    def __init__(self, losses):
        self.losses, self.snapshots = losses, {}

    def on_epoch_end(self, epoch, history, model, optimizer):
        history.val_loss[-1] = self.losses[epoch - 1]
        self.snapshots[epoch] = _weights(model)
        return False


def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights():
    x, y = _blobs(48)
    model, optimizer = _setup()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    # best 0.8 at epoch 2; epoch 4's 0.79 is not better by more than min_delta; patience 2 -> stop after epoch 4
    crafted = _CraftedValLoss([1.0, 0.8, 0.85, 0.79, 0.5, 0.4, 0.3, 0.2])
    stopper = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.02)
    lines = []
    history = fit(model, nn.CrossEntropyLoss(), optimizer, loader, loader, epochs=8, progress=False,
                  log=lines.append, callbacks=[crafted, stopper])
    assert history.epochs == [1, 2, 3, 4] and len(history) == 4
    assert stopper.stopped_epoch == 4 and stopper.best_epoch == 2 and stopper.best == 0.8
    assert lines[-1] == "stopping early after epoch 4"
    weights = _weights(model)
    assert not np.array_equal(weights["0.weight"], crafted.snapshots[4]["0.weight"])  # training moved them
    for name, value in crafted.snapshots[2].items():
        np.testing.assert_array_equal(weights[name], value, err_msg=name)


def test_early_stopping_mode_max_without_restore_and_bad_arguments():
    stopper = EarlyStopping(monitor="val_acc", patience=1, mode="max", restore_best_weights=False)
    history = History()
    model, optimizer = _setup()
    stops = []
    for epoch, acc in enumerate([0.5, 0.7, 0.7], start=1):
        history.val_acc.append(acc)
        stops.append(stopper.on_epoch_end(epoch, history, model, optimizer))
    assert stops == [False, False, True] and stopper.best_epoch == 2 and stopper.best_state is None
    with pytest.raises(ValueError, match="monitor"):
        EarlyStopping(monitor="accuracy")
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="lowest")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)
    x, y = _blobs(16)
    with pytest.raises(ValueError, match="needs a val_loader"):  # val_loss without validation data
        fit(model, nn.CrossEntropyLoss(), optimizer, DataLoader(TensorDataset(x, y), batch_size=8), epochs=2,
            progress=False, log=None, callbacks=[EarlyStopping()])


def test_model_checkpoint_every_n_epochs_writes_the_expected_files(tmp_path):
    from framework.checkpoint import load_checkpoint

    x, y = _blobs(32)
    model, optimizer = _setup()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    snapshots = _CraftedValLoss([0.0] * 5)
    saver = ModelCheckpoint(tmp_path / "ck", every=2, save_last=True)
    fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs=5, progress=False, log=None,
        callbacks=[snapshots, saver])
    names = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert names == [f"checkpoint-epoch000{e}.safetensors" for e in (2, 4, 5)]  # 5: save_last; no temp files
    for epoch in (2, 4, 5):
        fresh, fresh_opt = _setup(seed=9)
        meta = load_checkpoint(tmp_path / "ck" / f"checkpoint-epoch{epoch:04d}.safetensors", fresh, fresh_opt)
        assert meta["epoch"] == epoch
        for name, value in snapshots.snapshots[epoch].items():
            np.testing.assert_array_equal(fresh.state_dict()[name].numpy(), value, err_msg=name)
    with pytest.raises(ValueError, match="every"):
        ModelCheckpoint(tmp_path, every=0)


def test_fit_initial_epoch_continues_the_numbering():
    x, y = _blobs(32)
    model, optimizer = _setup()
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    history = fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs=5, initial_epoch=3, progress=False,
                  log=None)
    assert history.epochs == [4, 5]
    with pytest.raises(ValueError, match="initial_epoch"):
        fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs=2, initial_epoch=3, progress=False, log=None)


def test_history_round_trip_and_plot(tmp_path):
    import json

    x, y = _blobs(32)
    model, optimizer = _setup()
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    history = fit(model, nn.CrossEntropyLoss(), optimizer, loader, loader, epochs=3, progress=False, log=None)
    restored = History.from_dict(json.loads(json.dumps(history.to_dict())))
    assert restored == history and restored.val_acc == history.val_acc
    path = restored.plot(tmp_path / "curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="unknown keys"):
        History.from_dict({"epochs": [1], "bogus": [2]})
    with pytest.raises(ValueError, match="different lengths"):
        History.from_dict({"epochs": [1, 2], "train_loss": [0.1]})


# ------------------------------------------------------------------------ custom step and metrics


def test_fit_with_a_custom_step_metrics_and_validation_returns_ordered_columns(tmp_path):
    from framework.train import BatchMean, Mean, loss_step

    x, y = _blobs(40)
    model, optimizer = _setup()
    loader = DataLoader(TensorDataset(x, y), batch_size=16)  # batches of 16, 16, 8: per-sample != per-batch
    inner = loss_step(model, nn.CrossEntropyLoss(), optimizer)
    losses, sizes = [], []

    def step(batch):
        values = inner(batch)
        losses.append(values["loss"])
        sizes.append(batch[0].shape[0])
        return {"loss": values["loss"], "half": 0.5 * values["loss"]}

    lines = []
    history = fit(model, None, None, loader, epochs=2, progress=False, log=lines.append, step=step,
                  metrics={"loss": Mean("loss"), "both": Mean("loss", "half"), "per_batch": BatchMean("loss")},
                  validate=lambda epoch: {"val_x": 1.5 * epoch}, summary=lambda row: f"loss {row['loss']:.3f}",
                  callbacks=[ModelCheckpoint(tmp_path, every=3, save_last=True)])
    assert list(history) == ["epochs", "loss", "both", "per_batch", "val_x", "seconds"]  # no optimizer: no lr
    assert history["epochs"] == [1, 2] and history["val_x"] == [1.5, 3.0]
    first = np.array(losses[:3])
    assert sizes[:3] == [16, 16, 8] and 0 < first.min() < first.max()  # not a vacuous comparison
    assert history["loss"][0] == pytest.approx(np.dot(first, sizes[:3]) / 40, rel=1e-12)
    assert history["both"][0] == pytest.approx(1.5 * history["loss"][0], rel=1e-12)
    assert history["per_batch"][0] == pytest.approx(first.mean(), rel=1e-12)
    assert history["loss"][1] < history["loss"][0]
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2  loss ") and "lr" not in lines[1]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-epoch0002.safetensors"]  # callbacks read the dict


def test_fit_and_evaluate_metrics_of_a_regressor():
    from framework.train import Accuracy, Mean

    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    fw.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.0)  # lr 0: the training loss equals a plain evaluation
    loader = DataLoader(TensorDataset(x, y), batch_size=7)
    history = fit(model, nn.functional.mse_loss, optimizer, loader, epochs=1, progress=False, log=None,
                  metrics={"train_loss": Mean("loss")})
    assert list(history) == ["epochs", "train_loss", "lr", "seconds"]
    with fw.no_grad():
        expected = float(np.mean((model(fw.tensor(x)).numpy().astype(np.float64) - y) ** 2))
    assert expected > 0.1 and history["train_loss"][0] == pytest.approx(expected, rel=1e-5)
    result = evaluate(model, loader, nn.functional.mse_loss, metrics={"mse": Mean("loss")})
    assert result == {"mse": pytest.approx(expected, rel=1e-5)} and model.training
    xc, yc = _blobs(20)
    classifier, _ = _setup()
    result = evaluate(classifier, DataLoader(TensorDataset(xc, yc), batch_size=8), metrics={"acc": Accuracy()})
    assert result["acc"] == pytest.approx(evaluate(classifier, DataLoader(TensorDataset(xc, yc))).accuracy)


def test_fit_refuses_inconsistent_arguments():
    from framework.train import Mean

    x, y = _blobs(8)
    model, optimizer = _setup()
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    with pytest.raises(ValueError, match="loss_fn"):
        fit(model, None, optimizer, loader, progress=False, log=None)
    with pytest.raises(ValueError, match="needs a loss_fn"):  # a classifier step validated on val_loader
        fit(model, None, optimizer, loader, loader, progress=False, log=None, step=lambda batch: {})
    with pytest.raises(ValueError, match="validate="):
        fit(model, nn.CrossEntropyLoss(), optimizer, loader, loader, progress=False, log=None,
            metrics={"train_loss": Mean("loss")})
    with pytest.raises(ValueError, match="at least one key"):
        Mean()


def test_adamw_weight_decay_is_decoupled_from_the_gradient():
    # With a zero gradient Adam's normalised step is 0, so AdamW only shrinks: p <- p * (1 - lr * wd).
    # Adam's weight_decay is L2 (added to the gradient) and so goes through the normalisation: a step of ~lr.
    results = {}
    for name in ("AdamW", "Adam"):
        p = nn.Parameter(fw.tensor(np.array([2.0, -4.0], np.float32)))
        opt = getattr(optim, name)([p], lr=0.1, weight_decay=0.1)
        p.grad = fw.tensor(np.zeros(2, np.float32))
        opt.step()
        results[name] = p.numpy()
    np.testing.assert_allclose(results["AdamW"], [2.0 * 0.99, -4.0 * 0.99], rtol=1e-6)
    np.testing.assert_allclose(results["Adam"], [2.0 - 0.1, -4.0 + 0.1], rtol=1e-5)


# -------------------------------------------------------------------------- cross-validation


def test_cross_validate_returns_k_scores_on_a_tiny_config():
    from framework.train import CVResult, cross_validate

    x, y = _blobs(90)
    built = []

    def model_fn():
        built.append(1)
        return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))

    lines = []
    result = cross_validate(model_fn, TensorDataset(x, y), k=3, epochs=5, batch_size=16, lr=0.02, seed=0,
                            log=lines.append)
    assert isinstance(result, CVResult) and len(built) == 3  # a fresh model per fold
    assert len(result.scores) == 3 and all(0.8 < s <= 1.0 for s in result.scores)  # separable blobs
    assert sum(test for _, test in result.fold_sizes) == 90
    assert all(train + test == 90 for train, test in result.fold_sizes)
    assert result.mean == pytest.approx(np.mean(result.scores)) and result.std == pytest.approx(np.std(result.scores))
    assert [len(h) for h in result.histories] == [5, 5, 5]
    assert len(lines) == 3 and lines[0].startswith("fold 1/3: accuracy")
    assert str(result).endswith("(3 folds)")
    again = cross_validate(model_fn, (x, y), k=3, epochs=5, batch_size=16, lr=0.02, seed=0)
    assert again.scores == result.scores  # seeded: folds, initialisation and shuffling are reproducible
    plain = cross_validate(model_fn, (x, y), k=2, stratified=False, epochs=1, batch_size=16, lr=0.02)
    assert len(plain.scores) == 2


def test_cross_validate_bad_arguments():
    from framework.train import cross_validate

    x, y = _blobs(30)
    model_fn = lambda: nn.Linear(2, 3)  # noqa: E731
    with pytest.raises(ValueError, match="k must be"):
        cross_validate(model_fn, (x, y), k=1)
    y_rare = y.copy()
    y_rare[:] = 0
    y_rare[:2] = 1  # class 1 has 2 samples: 3 stratified folds are impossible
    with pytest.raises(ValueError, match="smallest class has only 2"):
        cross_validate(model_fn, (x, y_rare), k=3)
    with pytest.raises(TypeError, match="dataset"):
        cross_validate(model_fn, x, k=3)
    with pytest.raises(ValueError, match="shapes"):
        cross_validate(model_fn, (x, y[:-1]), k=3)


# -------------------------------------------------------------------------- frozen parameters


def test_frozen_layers_get_no_gradient_and_are_not_updated(device):
    from framework.models import DigitsCNN

    fw.manual_seed(0)
    model = DigitsCNN(width=2, hidden=8).to(device)
    model[0].freeze()
    model[3].freeze()
    assert model.num_parameters(trainable_only=True) == model[7].weight.numel() + 8 + model[10].weight.numel() + 10
    before = _weights(model)
    optimizer = optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)  # decay must not touch frozen ones
    x = fw.tensor(np.random.default_rng(0).random((4, 1, 8, 8), np.float32), device=device)
    y = fw.tensor(np.array([0, 1, 2, 3]), device=device)
    for _ in range(2):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        for layer in (model[0], model[3]):
            assert layer.weight.grad is None and layer.bias.grad is None
        assert model[10].weight.grad is not None
        optimizer.step()
    after = _weights(model)
    for name in ("0.weight", "0.bias", "3.weight", "3.bias"):
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    assert not np.array_equal(after["10.weight"], before["10.weight"])
