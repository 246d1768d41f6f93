"""The five training workloads of ``benchmarks/cpu_train_step.py``: each a model, its batches, its loss and
optimizer, built twice -- in kernelgrad (``cpu`` device) and in PyTorch -- with the same weights.

A workload's two sides are :class:`Side` objects: the networks (by name), a ``step(i)`` doing one training
step on batch ``i`` (cycled) and returning its loss, and a ``check_step(i)`` doing the same step
deterministically (dropout off, fixed noise) for the first-loss sanity check, so the two frameworks can be
compared number for number. The torch side is built *from the kernelgrad side's weights*
(``load_state_dict``, strict), so both start identical.

Where PyTorch's API and kernelgrad's are the same (the MNIST example net, the char-LSTM, the MNIST-1D CNN),
one function builds both twins from the framework namespace it is given (``framework`` or ``torch``): the
two cannot drift apart. The DigitsCNN and the DCGAN are kernelgrad's own models (``framework.models``); their
PyTorch twins are written out here, layer by layer in the same order, so the parameter names match.

Only public APIs are used (modules, optimizers, ``state_dict``, ``framework.models.gan``'s step functions):
the kernels and the autograd engine underneath may change freely.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Batches prepared per workload at most (cycled beyond that): enough that the timed steps do not replay
#: one cache-hot batch, few enough to keep memory small.
MAX_BATCHES = 256


@dataclass
class Side:
    """One framework's half of a workload.

    Attributes:
        models: the networks by name; the torch side loads the kernelgrad side's ``state_dict`` name by name.
        step: ``step(i)`` runs one training step on batch ``i % len(batches)`` and returns its loss (a float).
        check_step: ``check_step(i)`` runs the same step with dropout off and any noise taken from the batch,
            returning every loss the step computes (``(loss,)``, or the GAN's ``(d_loss, g_loss)``).
    """

    models: dict[str, Any]
    step: Callable[[int], float]
    check_step: Callable[[int], tuple[float, ...]]


@dataclass(frozen=True)
class Workload:
    """A benchmarked training step: what it is (for the JSON) and how to build it in each framework.

    ``make_batches(n)`` returns ``n`` batches of numpy arrays; ``kernelgrad(batches)`` builds the kernelgrad
    side (its weights seeded with ``fw.manual_seed(0)``) and ``torch(batches, weights)`` the PyTorch side
    from those weights (``{model name: {state_dict key: array}}``).
    """

    name: str
    title: str
    model: str
    data: str
    input_shape: tuple[int, ...]
    loss: str
    optimizer: str
    target_ratio: float
    steps: int  # default timed steps per repeat: about half a second to a second of PyTorch time, one thread
    warmup: int
    make_batches: Callable[[int], list[tuple[np.ndarray, ...]]]
    kernelgrad: Callable[[list], Side]
    torch: Callable[[list, dict], Side]
    notes: str = ""

    def describe(self) -> dict[str, Any]:
        """The workload's JSON description (everything but the builders)."""
        return {"title": self.title, "model": self.model, "data": self.data, "input_shape": list(self.input_shape),
                "dtype": "float32", "loss": self.loss, "optimizer": self.optimizer,
                "target_ratio": self.target_ratio, "notes": self.notes}


# ------------------------------------------------------------------------------------------------ helpers


@contextlib.contextmanager
def dropout_off(models: dict[str, Any]) -> Iterator[None]:
    """Every ``Dropout*`` module of ``models`` in eval mode for the block (the rest stays in training mode).

    The two frameworks draw different dropout masks, so the sanity check compares steps without them;
    batch norm keeps using batch statistics, as in the timed steps.
    """
    dropouts = [m for model in models.values() for m in model.modules() if type(m).__name__.startswith("Dropout")]
    for m in dropouts:
        m.train(False)
    try:
        yield
    finally:
        for m in dropouts:
            m.train(True)


def kernelgrad_weights(side: Side) -> dict[str, dict[str, np.ndarray]]:
    """Copies of every parameter and buffer of the kernelgrad side's networks, as numpy arrays."""
    return {name: {key: np.array(value.numpy(), copy=True) for key, value in model.state_dict().items()}
            for name, model in side.models.items()}


def load_torch_weights(models: dict[str, Any], weights: dict[str, dict[str, np.ndarray]]) -> None:
    """Loads ``weights`` into the torch networks; strict, so a name or shape the twins disagree on raises."""
    import torch

    for name, model in models.items():
        model.load_state_dict({key: torch.from_numpy(np.array(value, copy=True))
                               for key, value in weights[name].items()})


def classification_side(model: Any, optimizer: Any, loss_fn: Callable, batches: list,
                        to_tensor: Callable) -> Side:
    """A :class:`Side` whose step is the plain supervised one, the same code for both frameworks:
    ``zero_grad``, forward, loss, backward, optimizer step, ``loss.item()``."""
    data = [tuple(to_tensor(a) for a in batch) for batch in batches]
    model.train()

    def step(i: int) -> float:
        x, y = data[i % len(data)]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    def check_step(i: int) -> tuple[float, ...]:
        with dropout_off({"model": model}):
            return (step(i),)

    return Side({"model": model}, step, check_step)


def _kernelgrad_lib():
    import framework as fw

    fw.manual_seed(0)
    return fw, lambda a: fw.tensor(a, device="cpu")


def _torch_lib():
    import torch

    torch.manual_seed(0)  # dropout masks and the GAN's noise
    return torch, torch.from_numpy


def _digit_rows(count: int, batch: int, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``count`` batches of ``batch`` sklearn digits ``[batch, 1, 8, 8]`` in [0, 1] and their labels, cycling
    through one shuffle of the 1797 images."""
    from framework.data import load_digits

    x, y = load_digits()
    order = np.random.default_rng(seed).permutation(len(y))
    for i in range(count):
        rows = order[np.arange(i * batch, (i + 1) * batch) % len(y)]
        yield np.ascontiguousarray(x[rows]), y[rows]


# ------------------------------------------------------------------------------- 1. DigitsCNN (kernelgrad's)


def _digits_defaults() -> dict[str, Any]:
    # The benchmarked shape is whatever DigitsCNN's defaults are, so the two never drift apart.
    from framework.models import DigitsCNN

    return {name: p.default for name, p in inspect.signature(DigitsCNN).parameters.items()}


DIGITS_BATCH = 64


def digits_batches(count: int) -> list[tuple[np.ndarray, ...]]:
    return list(_digit_rows(count, DIGITS_BATCH))


def digits_kernelgrad(batches: list) -> Side:
    from framework.models import DigitsCNN

    fw, to_tensor = _kernelgrad_lib()
    model = DigitsCNN().to("cpu")
    return classification_side(model, fw.optim.Adam(model.parameters(), lr=1e-3), fw.nn.CrossEntropyLoss(),
                               batches, to_tensor)


def digits_torch(batches: list, weights: dict) -> Side:
    torch, to_tensor = _torch_lib()
    nn = torch.nn
    d = _digits_defaults()
    width, hidden, side = d["width"], d["hidden"], d["image_size"] // 4
    # DigitsCNN's layers in DigitsCNN's order, so the Sequential indices (state_dict keys) match.
    model = nn.Sequential(
        nn.Conv2d(d["in_channels"], width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * side * side, hidden), nn.ReLU(), nn.Dropout(d["dropout"]),
        nn.Linear(hidden, d["num_classes"]),
    )
    load_torch_weights({"model": model}, weights)
    return classification_side(model, torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss(),
                               batches, to_tensor)


# ------------------------------------------------------------------- 2. PyTorch's MNIST example network


MNIST_BATCH = 64


def mnist_net(lib: Any) -> Any:
    """pytorch/examples ``mnist/main.py``'s ``Net``, written against ``lib`` (``framework`` or ``torch``)."""
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = lib.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    return Net()


def mnist_batches(count: int) -> list[tuple[np.ndarray, ...]]:
    """The 8x8 digits blown up to MNIST's frame: each pixel a 3x3 block (24x24), 2 zero pixels of border
    (28x28), then the example's ``Normalize((0.1307,), (0.3081,))``."""
    batches = []
    for x, y in _digit_rows(count, MNIST_BATCH, seed=1):
        big = np.kron(x, np.ones((1, 1, 3, 3), dtype=np.float32))
        big = np.pad(big, ((0, 0), (0, 0), (2, 2), (2, 2)))
        batches.append((np.ascontiguousarray((big - 0.1307) / 0.3081, dtype=np.float32), y))
    return batches


def _mnist_side(lib: Any, to_tensor: Callable, batches: list, weights: dict | None) -> Side:
    model = mnist_net(lib)
    if weights is not None:
        load_torch_weights({"model": model}, weights)
    return classification_side(model, lib.optim.Adadelta(model.parameters(), lr=1.0), lib.nn.functional.nll_loss,
                               batches, to_tensor)


def mnist_kernelgrad(batches: list) -> Side:
    return _mnist_side(*_kernelgrad_lib(), batches, None)


def mnist_torch(batches: list, weights: dict) -> Side:
    return _mnist_side(*_torch_lib(), batches, weights)


# ------------------------------------------------------------------------------- 3. char-level LSTM LM


VOCAB, EMBED, HIDDEN, LAYERS = 65, 64, 128, 2
LSTM_BATCH, LSTM_SEQ = 32, 64


def char_lstm(lib: Any) -> Any:
    """Embedding(65, 64) -> LSTM(64, 128, 2 layers, batch_first) -> Linear(128, 65): next-character logits
    ``[N, T, 65]`` for tokens ``[N, T]``."""
    nn = lib.nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, HIDDEN, num_layers=LAYERS, batch_first=True)
            self.head = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tokens):
            out, _ = self.lstm(self.embed(tokens))
            return self.head(out)

    return CharLSTM()


def lstm_batches(count: int) -> list[tuple[np.ndarray, ...]]:
    """Uniformly random tokens: inputs ``[32, 64]`` and, as in language modelling, targets = the next token."""
    rng = np.random.default_rng(2)
    batches = []
    for _ in range(count):
        text = rng.integers(0, VOCAB, size=(LSTM_BATCH, LSTM_SEQ + 1), dtype=np.int64)
        batches.append((np.ascontiguousarray(text[:, :-1]), np.ascontiguousarray(text[:, 1:])))
    return batches


def _lstm_side(lib: Any, to_tensor: Callable, batches: list, weights: dict | None) -> Side:
    model = char_lstm(lib)
    if weights is not None:
        load_torch_weights({"model": model}, weights)

    def loss_fn(logits, target):  # cross-entropy over every position
        return lib.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), target.reshape(-1))

    return classification_side(model, lib.optim.Adam(model.parameters(), lr=1e-3), loss_fn, batches, to_tensor)


def lstm_kernelgrad(batches: list) -> Side:
    return _lstm_side(*_kernelgrad_lib(), batches, None)


def lstm_torch(batches: list, weights: dict) -> Side:
    return _lstm_side(*_torch_lib(), batches, weights)


# ---------------------------------------------------------------------- 4. DCGAN of `kernelgrad train gan`


def gan_settings() -> dict[str, Any]:
    """What ``kernelgrad train gan`` trains by default: its batch size, lr, latent size, discriminator dropout
    and real label, and the widths of ``Generator``/``Discriminator`` (their signature defaults)."""
    from framework.commands import train_gan
    from framework.models import Discriminator, Generator

    g = {n: p.default for n, p in inspect.signature(Generator).parameters.items()}
    d = {n: p.default for n, p in inspect.signature(Discriminator).parameters.items()}
    return {"batch": train_gan.DEFAULT_BATCH_SIZE, "lr": train_gan.DEFAULT_LR,
            "latent_dim": train_gan.DEFAULT_LATENT_DIM, "dropout": train_gan.DEFAULT_DROPOUT,
            "real_label": train_gan.DEFAULT_REAL_LABEL, "g_width": g["width"], "d_width": d["width"],
            "image_size": 8, "channels": 1}


def gan_batches(count: int) -> list[tuple[np.ndarray, ...]]:
    """Real digits ``[32, 1, 8, 8]`` and a noise batch ``[32, latent]`` (the noise is used by the sanity
    check only: a timed step draws its own, as ``gan_train_step`` does)."""
    s = gan_settings()
    rng = np.random.default_rng(3)
    return [(x, rng.standard_normal((s["batch"], s["latent_dim"])).astype(np.float32))
            for x, _ in _digit_rows(count, s["batch"], seed=3)]


def gan_kernelgrad(batches: list) -> Side:
    from framework.models import Discriminator, Generator, gan_train_step
    from framework.models.gan import discriminator_step, generator_step

    fw, to_tensor = _kernelgrad_lib()
    s = gan_settings()
    generator = Generator(latent_dim=s["latent_dim"], image_size=s["image_size"]).to("cpu")
    discriminator = Discriminator(image_size=s["image_size"], dropout=s["dropout"]).to("cpu")
    g_opt = fw.optim.Adam(generator.parameters(), lr=s["lr"], betas=(0.5, 0.999))
    d_opt = fw.optim.Adam(discriminator.parameters(), lr=s["lr"], betas=(0.5, 0.999))
    data = [(to_tensor(real), to_tensor(z)) for real, z in batches]
    models = {"generator": generator, "discriminator": discriminator}

    def step(i: int) -> float:
        d_loss, g_loss = gan_train_step(generator, discriminator, g_opt, d_opt, data[i % len(data)][0],
                                        s["real_label"])
        return g_loss

    def check_step(i: int) -> tuple[float, ...]:
        real, z = data[i % len(data)]
        with dropout_off(models):  # gan_train_step's two halves, with the batch's noise instead of a fresh draw
            fake = generator(z)
            d_loss = discriminator_step(discriminator, d_opt, real, fake, s["real_label"])
            return d_loss, generator_step(discriminator, g_opt, fake)

    return Side(models, step, check_step)


def gan_torch(batches: list, weights: dict) -> Side:
    torch, to_tensor = _torch_lib()
    nn, F = torch.nn, torch.nn.functional
    s = gan_settings()
    gw, dw, side = s["g_width"], s["d_width"], s["image_size"] // 2

    class MinibatchStdDev(nn.Module):
        """framework.models.gan.MinibatchStdDev (torch has none): the batch's mean std as one more channel."""

        def forward(self, x):
            n, _, h, w = x.shape
            if n > 1:
                spread = x.std(dim=0).mean().reshape(1, 1, 1, 1).expand(n, 1, h, w)
            else:
                spread = x.new_zeros(n, 1, h, w)
            return torch.cat([x, spread], dim=1)

    # Generator's and Discriminator's layers in their order, so the Sequential indices match.
    generator = nn.Sequential(
        nn.Linear(s["latent_dim"], 2 * gw * side * side), nn.ReLU(), nn.Unflatten(1, (2 * gw, side, side)),
        nn.ConvTranspose2d(2 * gw, gw, 4, stride=2, padding=1), nn.BatchNorm2d(gw), nn.ReLU(),
        nn.Conv2d(gw, gw, 3, padding=1), nn.ReLU(), nn.Conv2d(gw, s["channels"], 3, padding=1), nn.Sigmoid(),
    )
    quarter = s["image_size"] // 4
    discriminator = nn.Sequential(
        nn.Conv2d(s["channels"], dw, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Dropout(s["dropout"]),
        nn.Conv2d(dw, 2 * dw, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Dropout(s["dropout"]),
        MinibatchStdDev(), nn.Flatten(), nn.Linear((2 * dw + 1) * quarter * quarter, 1),
    )
    models = {"generator": generator, "discriminator": discriminator}
    load_torch_weights(models, weights)
    generator.train()
    discriminator.train()
    g_opt = torch.optim.Adam(generator.parameters(), lr=s["lr"], betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=s["lr"], betas=(0.5, 0.999))
    data = [(to_tensor(real), to_tensor(z)) for real, z in batches]

    def gan_step(real, z) -> tuple[float, float]:
        """framework.models.gan.gan_train_step in PyTorch: the discriminator on real and detached fake
        images, then the generator through the updated, frozen discriminator (non-saturating loss)."""
        fake = generator(z)
        d_opt.zero_grad()
        logits_real, logits_fake = discriminator(real), discriminator(fake.detach())
        d_loss = (F.binary_cross_entropy_with_logits(logits_real, torch.full_like(logits_real, s["real_label"]))
                  + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))
        d_loss.backward()
        d_opt.step()
        d_value = d_loss.item()
        g_opt.zero_grad()
        discriminator.requires_grad_(False)
        logits = discriminator(fake)
        g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        g_loss.backward()
        discriminator.requires_grad_(True)
        g_opt.step()
        return d_value, g_loss.item()

    def step(i: int) -> float:
        real = data[i % len(data)][0]
        return gan_step(real, torch.randn(real.shape[0], s["latent_dim"]))[1]

    def check_step(i: int) -> tuple[float, ...]:
        with dropout_off(models):
            return gan_step(*data[i % len(data)])

    return Side(models, step, check_step)


# --------------------------------------------------------------------------------- 5. MNIST-1D's CNN


MNIST1D_BATCH, MNIST1D_LENGTH = 100, 40


def mnist1d_cnn(lib: Any) -> Any:
    """greydanus/mnist1d ``models.py``'s ``ConvBase`` (channels 25, linear_in 125), against ``lib``."""
    nn, F = lib.nn, lib.nn.functional

    class ConvBase(nn.Module):
        def __init__(self, output_size: int = 10, channels: int = 25, linear_in: int = 125):
            super().__init__()
            self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
            self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.linear = nn.Linear(linear_in, output_size)

        def forward(self, x):  # x [N, 40] -> [N, 1, 40]; lengths 40 -> 19 -> 10 -> 5
            x = x.reshape(-1, 1, x.shape[-1])
            h1 = F.relu(self.conv1(x))
            h2 = F.relu(self.conv2(h1))
            h3 = F.relu(self.conv3(h2))
            return self.linear(h3.reshape(h3.shape[0], -1))

    return ConvBase()


def mnist1d_batches(count: int) -> list[tuple[np.ndarray, ...]]:
    """Synthetic stand-ins for MNIST-1D (no download here): standard-normal sequences ``[100, 40]`` and
    random labels 0-9; the step's cost does not depend on the values."""
    rng = np.random.default_rng(4)
    return [(rng.standard_normal((MNIST1D_BATCH, MNIST1D_LENGTH)).astype(np.float32),
             rng.integers(0, 10, size=MNIST1D_BATCH, dtype=np.int64)) for _ in range(count)]


def _mnist1d_side(lib: Any, to_tensor: Callable, batches: list, weights: dict | None) -> Side:
    model = mnist1d_cnn(lib)
    if weights is not None:
        load_torch_weights({"model": model}, weights)
    return classification_side(model, lib.optim.Adam(model.parameters(), lr=1e-2),
                               lib.nn.functional.cross_entropy, batches, to_tensor)


def mnist1d_kernelgrad(batches: list) -> Side:
    return _mnist1d_side(*_kernelgrad_lib(), batches, None)


def mnist1d_torch(batches: list, weights: dict) -> Side:
    return _mnist1d_side(*_torch_lib(), batches, weights)


# ------------------------------------------------------------------------------------------ the registry


def workloads() -> dict[str, Workload]:
    """Every workload by name, in the order the benchmark runs them."""
    d = _digits_defaults()
    g = gan_settings()
    torch_adam = "PyTorch's default implementation (single-tensor on CPU)"
    items = [
        Workload(
            "digits", "DigitsCNN",
            f"framework.models.DigitsCNN(width={d['width']}, hidden={d['hidden']}, dropout={d['dropout']})",
            "sklearn digits", (DIGITS_BATCH, 1, 8, 8), "cross_entropy",
            f"Adam(lr=1e-3); torch: {torch_adam}", 1.0, 200, 20, digits_batches, digits_kernelgrad, digits_torch),
        Workload(
            "mnist", "MNIST example net",
            "pytorch/examples mnist Net: Conv2d(1,32,3,1), ReLU, Conv2d(32,64,3,1), ReLU, max_pool2d(2), "
            "Dropout(0.25), flatten, Linear(9216,128), ReLU, Dropout(0.5), Linear(128,10), log_softmax",
            "sklearn digits upsampled to 28x28 (3x3 blocks + 2-pixel border), normalised as the example",
            (MNIST_BATCH, 1, 28, 28), "nll_loss", f"Adadelta(lr=1.0); torch: {torch_adam}", 1.5, 10, 2,
            mnist_batches, mnist_kernelgrad, mnist_torch),
        Workload(
            "lstm", "char-LSTM",
            f"Embedding({VOCAB},{EMBED}) -> LSTM({EMBED},{HIDDEN},num_layers={LAYERS},batch_first=True) -> "
            f"Linear({HIDDEN},{VOCAB})",
            "uniformly random tokens, targets = next token", (LSTM_BATCH, LSTM_SEQ),
            "cross_entropy over every position",
            f"Adam(lr=1e-3), no gradient clipping; torch: {torch_adam}", 2.0, 20, 2,
            lstm_batches, lstm_kernelgrad, lstm_torch),
        Workload(
            "gan", "DCGAN (train gan)",
            f"framework.models.Generator(latent_dim={g['latent_dim']}, width={g['g_width']}) + "
            f"Discriminator(width={g['d_width']}, dropout={g['dropout']}, with MinibatchStdDev); "
            "torch twin written layer by layer (MinibatchStdDev in a few lines of torch)",
            "sklearn digits (real), noise drawn per step by each framework",
            (g["batch"], 1, 8, 8), f"BCE-with-logits, D step then G step (real_label {g['real_label']})",
            f"Adam(lr={g['lr']}, betas=(0.5, 0.999)) x2; torch: {torch_adam}", 1.5, 60, 5,
            gan_batches, gan_kernelgrad, gan_torch,
            notes="one step = framework.models.gan_train_step: one discriminator + one generator update "
                  "(the EMA copy of `train gan` is not part of it); lr, batch, latent size and dropout are "
                  "`kernelgrad train gan`'s defaults"),
        Workload(
            "mnist1d", "MNIST-1D CNN",
            "greydanus/mnist1d ConvBase: Conv1d(1,25,5,s2,p1), ReLU, Conv1d(25,25,3,s2,p1), ReLU, "
            "Conv1d(25,25,3,s2,p1), ReLU, flatten, Linear(125,10)",
            "synthetic standard-normal sequences of 40 samples, random labels", (MNIST1D_BATCH, MNIST1D_LENGTH),
            "cross_entropy", f"Adam(lr=1e-2); torch: {torch_adam}", 1.5, 200, 20,
            mnist1d_batches, mnist1d_kernelgrad, mnist1d_torch),
    ]
    return {w.name: w for w in items}
