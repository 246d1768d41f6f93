"""The training loop and evaluation on a tiny problem."""

import numpy as np
import pytest

import framework as fw
from framework import nn, optim
from framework.data import DataLoader, TensorDataset
from framework.train import History, evaluate, fit


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
