"""``kernelgrad train gan``: a small DCGAN on the bundled digits, scored by a digit classifier.

Trains ``Generator`` and ``Discriminator`` with alternating Adam updates (betas 0.5, 0.999) on
``binary_cross_entropy_with_logits``: each batch first updates the discriminator on real images and a detached
fake batch, then the generator through the updated discriminator (non-saturating loss). After every epoch it draws
the same fixed noise batch through the generator into ``samples_epoch_NNN.png``.

Sample quality is then measured with a ``DigitsCNN`` trained on the real training digits: of ``--num-samples``
generated digits, the share the classifier assigns to some class with probability >= 0.9 ("confident samples"),
and the share of each predicted class (a collapsed generator makes few classes). The data split is the fixed one
of ``train cnn``.

``--conditional`` trains an AC-GAN (Odena et al. 2017) instead: a ``ConditionalGenerator`` (the noise times a
learned embedding of the requested digit) and an ``ACDiscriminator`` (a real-vs-fake logit and 10 class logits),
with ``acgan_train_step``: the discriminator minimises the adversarial BCE plus ``--class-weight`` times the class
cross-entropy of the real and the fake images, the generator the adversarial BCE plus ``--class-weight`` times the
class cross-entropy of its fakes. Every epoch draws the same 10 noise vectors for each digit, one row per digit,
into ``samples_epoch_NNN.png``; ``samples_by_class.png`` is the final 10x10 grid with its rows labelled. The same
``DigitsCNN`` judges ``--num-samples`` samples, requested as digits 0, 1, ..., 9, 0, 1, ... (balanced): the
score is the share it classifies as their requested class, overall (the last line) and per digit. A generator can
score well with one image per digit, so the run also reports the within-class spread: per digit, the mean over
pixels of the samples' standard deviation, divided by that of the real training digits of the class (1: as
varied as the real digits; near 0: one image per digit).
"""

from __future__ import annotations

import argparse
import time

from ..atomic import save_figure
from .common import SPLIT_SEED, add_common_arguments, check_common_arguments, run_folder, versions, write_metrics
from .generative import load_digit_splits, plot_curves, plot_image_grid, plot_image_rows

NAME = "gan"
HELP = "a small DCGAN on the bundled digits, scored by a digit classifier"

DEFAULT_EPOCHS = 150
DEFAULT_CONDITIONAL_EPOCHS = 60
DEFAULT_BATCH_SIZE = 32
DEFAULT_LR = 2e-3
DEFAULT_LATENT_DIM = 32
DEFAULT_CLASSIFIER_EPOCHS = 40
DEFAULT_REAL_LABEL = 1.0
DEFAULT_EMA = 0.999
#: The AC-GAN trains for fewer epochs: a shorter average follows its generator (samples judged as requested after
#: 60 epochs, seed 0, tuning runs: 96.9% at 0.995, 96.7% at 0.998, 94.8% at 0.999; seed 1 at 0.995: 96.7%).
DEFAULT_CONDITIONAL_EMA = 0.995
DEFAULT_DROPOUT = 0.05
DEFAULT_NUM_SAMPLES = 1000
DEFAULT_CLASS_WEIGHT = 1.0
NUM_CLASSES = 10
CONFIDENCE = 0.9
#: Seeds of the fixed noise batch of the per-epoch pictures and of the scored samples (the same for every --seed).
FIXED_NOISE_SEED = 1234
SCORE_SEED = 4321


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, NAME, DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_LR)
    # --conditional has its own default number of epochs (and --ema): None here, see settle_defaults.
    parser.set_defaults(epochs=None)
    for action in parser._actions:  # argparse has no public way to edit an added option's help
        if action.dest == "epochs":
            action.help = f"default {DEFAULT_EPOCHS}, with --conditional {DEFAULT_CONDITIONAL_EPOCHS}"
    parser.add_argument("--latent-dim", type=int, default=DEFAULT_LATENT_DIM,
                        help=f"size of the generator's noise vector (default {DEFAULT_LATENT_DIM})")
    parser.add_argument("--classifier-epochs", type=int, default=DEFAULT_CLASSIFIER_EPOCHS,
                        help=f"epochs of the DigitsCNN that scores the samples (default {DEFAULT_CLASSIFIER_EPOCHS})")
    parser.add_argument("--real-label", type=float, default=DEFAULT_REAL_LABEL,
                        help=f"discriminator target for real images (default {DEFAULT_REAL_LABEL}; e.g. 0.9 for "
                             "one-sided label smoothing, which scored fewer confident samples here)")
    parser.add_argument("--ema", type=float, default=None,
                        help=f"decay of the moving average of the generator's weights that draws the pictures and the "
                             f"scored samples (default {DEFAULT_EMA}, with --conditional {DEFAULT_CONDITIONAL_EMA}; "
                             f"0: use the last weights)")
    parser.add_argument("--dropout", type=float, default=DEFAULT_DROPOUT,
                        help=f"drop probability after each of the discriminator's activations "
                             f"(default {DEFAULT_DROPOUT})")
    parser.add_argument("--num-samples", type=int, default=DEFAULT_NUM_SAMPLES,
                        help=f"generated digits to score (default {DEFAULT_NUM_SAMPLES})")
    parser.add_argument("--conditional", action="store_true",
                        help="train a class-conditional AC-GAN: the generator is told which digit to draw, the "
                             "discriminator also classifies; scored by the share of samples the DigitsCNN "
                             "classifies as their requested digit")
    parser.add_argument("--class-weight", type=float, default=None,
                        help=f"with --conditional: weight of the class cross-entropy terms of both losses "
                             f"(default {DEFAULT_CLASS_WEIGHT})")


def settle_defaults(args: argparse.Namespace) -> None:
    """Fill in ``--epochs`` and ``--ema`` where they were left out (None): the DCGAN's defaults, or the AC-GAN's
    with ``--conditional``."""
    if args.epochs is None:
        args.epochs = DEFAULT_CONDITIONAL_EPOCHS if args.conditional else DEFAULT_EPOCHS
    if args.ema is None:
        args.ema = DEFAULT_CONDITIONAL_EMA if args.conditional else DEFAULT_EMA


def _plot_class_histogram(shares, confident: float, path) -> None:
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.bar(np.arange(len(shares)), 100 * np.asarray(shares), color="tab:blue")
    ax.axhline(10, color="gray", linestyle="--", linewidth=1, label="uniform (10%)")
    ax.set(xticks=np.arange(len(shares)), xlabel="class predicted by the DigitsCNN", ylabel="share of samples (%)",
           title=f"generated digits by class ({100 * confident:.1f}% confident)")
    ax.legend()
    save_figure(fig, path, dpi=100)


def _train_classifier(x_train, y_train, x_test, y_test, epochs: int, seed: int, device: str):
    """A DigitsCNN on the real training digits (Adam, cosine schedule, 1-pixel shifts); returns it and its accuracy."""
    from .. import nn, optim
    from ..data import DataLoader, RandomShift, TensorDataset
    from ..models import DigitsCNN
    from ..random import manual_seed
    from ..train import evaluate, fit

    manual_seed(seed)
    model = DigitsCNN().to(device)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed, device=device,
                        transform=RandomShift(1, seed=seed + 1))
    fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs=epochs, scheduler=scheduler, progress=False, log=None)
    result = evaluate(model, DataLoader(TensorDataset(x_test, y_test), batch_size=256, device=device),
                      num_classes=10)
    model.eval()
    return model, result.accuracy


def _score(generator, classifier, noise, device: str):
    """(fraction of samples the classifier assigns with probability >= CONFIDENCE, class shares) for ``noise``.

    The noise is used as drawn: the truncation trick (``psi * noise``, psi < 1) did not raise the score of an
    earlier, weaker generator (71.9% at psi 0.9, 67.8% at 0.5, against 71.6% at 1)."""
    import numpy as np

    import framework as fw

    from ..nn import functional as F

    probabilities = []
    with fw.no_grad():
        for begin in range(0, len(noise), 500):
            z = fw.tensor(noise[begin:begin + 500].astype(np.float32), device=device)
            probabilities.append(F.softmax(classifier(generator(z)), dim=1).numpy())
    probabilities = np.concatenate(probabilities)
    confident = float(np.mean(probabilities.max(axis=1) >= CONFIDENCE))
    shares = np.bincount(probabilities.argmax(axis=1), minlength=10)[:10] / len(noise)
    return confident, shares


def _print_header(args: argparse.Namespace, device: str, x_train, x_test, extra: str = "") -> None:
    """The device and data lines both modes print first."""
    print(f"device: {device}" + (f"  (BLAS threads: {args.threads})" if device == "cpu" else ""))
    print(f"data: digits  train {len(x_train)}  test {len(x_test)}  image {tuple(x_train.shape[1:])}  "
          f"latent dim {args.latent_dim}{extra}")


def _judge(args: argparse.Namespace, x_train, y_train, x_test, y_test, device: str):
    """``(classifier, its test accuracy, the scored noise [num_samples, latent_dim])``: the DigitsCNN both modes are
    scored by, trained and reported, and the fixed noise of the scored samples."""
    import numpy as np

    print(f"scoring: training a DigitsCNN for {args.classifier_epochs} epochs on the real training digits")
    classifier, accuracy = _train_classifier(x_train, y_train, x_test, y_test, args.classifier_epochs, args.seed,
                                             device)
    print(f"classifier test accuracy: {100 * accuracy:.1f}%")
    return classifier, accuracy, np.random.default_rng(SCORE_SEED).standard_normal((args.num_samples, args.latent_dim))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import numpy as np
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    import framework as fw

    from .. import nn, optim
    from ..checkpoint import save_checkpoint
    from ..data import DataLoader, TensorDataset
    from ..models import Discriminator, Generator, gan_train_step, update_ema
    from ..train import BatchMean, fit

    settle_defaults(args)
    device = check_common_arguments(parser, args)
    for name in ("latent_dim", "classifier_epochs", "num_samples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if not 0 < args.real_label <= 1:
        parser.error("--real-label must be in (0, 1]")
    if not 0 <= args.ema < 1:
        parser.error("--ema must be in [0, 1)")
    if not 0 <= args.dropout < 1:
        parser.error("--dropout must be in [0, 1)")
    if args.conditional:
        return _run_conditional(parser, args, device)
    if args.class_weight is not None:
        parser.error("--class-weight needs --conditional")
    (x_train, y_train), _, (x_test, y_test) = load_digit_splits(parser, args.limit)
    start = time.perf_counter()
    folder = run_folder(args.out, NAME)  # made now: the per-epoch sample pictures go there while training
    _print_header(args, device, x_train, x_test)

    fw.manual_seed(args.seed)
    generator = Generator(latent_dim=args.latent_dim, image_size=x_train.shape[-1]).to(device)
    discriminator = Discriminator(image_size=x_train.shape[-1], dropout=args.dropout).to(device)
    # beta1 = 0.5 (Radford et al. 2016): momentum from a moving opponent's old gradients destabilises the game.
    g_optimizer = optim.Adam(generator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    d_optimizer = optim.Adam(discriminator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    # The moving average of the generator's weights (a copy, never trained) is the generator we show and score.
    average = Generator(latent_dim=args.latent_dim, image_size=x_train.shape[-1]).to(device)
    average.load_state_dict(generator.state_dict())
    shown = average if args.ema > 0 else generator
    loader = DataLoader(TensorDataset(x_train), batch_size=args.batch_size, shuffle=True, seed=args.seed,
                        device=device)
    fixed_noise = np.random.default_rng(FIXED_NOISE_SEED).standard_normal((50, args.latent_dim)).astype(np.float32)
    fixed_noise = fw.tensor(fixed_noise, device=device)

    def step(batch) -> dict:
        (real,) = batch
        d_loss, g_loss = gan_train_step(generator, discriminator, g_optimizer, d_optimizer, real, args.real_label)
        if args.ema > 0:
            update_ema(average, generator, args.ema)
        return {"d_loss": d_loss, "g_loss": g_loss}

    def draw_samples(epoch: int) -> dict:
        """The per-epoch picture of the fixed noise batch (no validation numbers)."""
        shown.eval()
        with fw.no_grad():
            samples = shown(fixed_noise).numpy()
        shown.train()
        plot_image_grid(samples, folder / f"samples_epoch_{epoch:03d}.png", columns=10,
                        title=f"epoch {epoch}: the same noise batch every epoch")
        return {}

    with threadpool_limits(limits=args.threads, user_api="blas"):
        # model=None, optimizer=None: the step trains both networks with their own optimizers (no lr column).
        history = fit(None, None, None, loader, epochs=args.epochs, progress=not args.no_progress, step=step,
                      metrics={"d_loss": BatchMean("d_loss"), "g_loss": BatchMean("g_loss")}, validate=draw_samples,
                      summary=lambda row: f"D loss {row['d_loss']:.4f}  G loss {row['g_loss']:.4f}",
                      postfix=lambda values: {"d": f"{values['d_loss']:.3f}", "g": f"{values['g_loss']:.3f}"})
        gan_seconds = time.perf_counter() - start

        classifier, classifier_accuracy, noise = _judge(args, x_train, y_train, x_test, y_test, device)
        shown.eval()
        confident, shares = _score(shown, classifier, noise, device)
    elapsed = time.perf_counter() - start

    # One file: the networks (keys generator.*, generator_ema.*, discriminator.*) and both optimizers.
    networks = nn.ModuleDict({"generator": generator, "generator_ema": average, "discriminator": discriminator})
    save_checkpoint(folder / "checkpoint.safetensors", networks,
                    {"generator": g_optimizer, "discriminator": d_optimizer}, epoch=args.epochs,
                    extra={"model": "GAN", "latent_dim": args.latent_dim, "image_size": int(x_train.shape[-1])})
    plot_curves(history["epochs"], {"discriminator": history["d_loss"], "generator": history["g_loss"]},
                folder / "learning_curve.png", ylabel="binary cross-entropy", title="GAN losses (mean per epoch)")
    _plot_class_histogram(shares, confident, folder / "class_histogram.png")
    metrics = {
        "model": "GAN (Generator + Discriminator)",
        "device": device,
        "data": "digits",
        "sizes": {"train": len(x_train), "test": len(x_test)},
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": "Adam(betas=(0.5, 0.999)) for each network",
        "seed": args.seed,
        "split_seed": SPLIT_SEED,
        "latent_dim": args.latent_dim,
        "real_label": args.real_label,
        "ema": args.ema,
        "dropout": args.dropout,
        "threads": args.threads,
        "classifier_epochs": args.classifier_epochs,
        "classifier_test_accuracy": classifier_accuracy,
        "num_samples": args.num_samples,
        "confidence_threshold": CONFIDENCE,
        "confident_samples": confident,
        "class_shares": shares.tolist(),
        "min_class_share": float(shares.min()),
        "history": history,
        "gan_seconds": gan_seconds,
        "elapsed_seconds": elapsed,
        "versions": versions(),
    }
    write_metrics(folder, metrics)
    print("class shares of the samples: " + "  ".join(f"{c}: {100 * s:.1f}%" for c, s in enumerate(shares)))
    print(f"run folder: {folder}")
    print(f"elapsed: {elapsed:.1f}s")
    print(f"confident samples: {100 * confident:.1f}% (min class share {100 * shares.min():.1f}%)")
    return 0


def _plot_class_accuracy(per_class, accuracy: float, path) -> None:
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.bar(np.arange(len(per_class)), 100 * np.asarray(per_class), color="tab:blue")
    ax.set(xticks=np.arange(len(per_class)), ylim=(0, 100), xlabel="requested digit",
           ylabel="classified as requested (%)",
           title=f"conditional samples the DigitsCNN classifies as requested ({100 * accuracy:.1f}%)")
    save_figure(fig, path, dpi=100)


def _score_conditional(generator, classifier, noise, labels, device: str):
    """Judge the samples ``generator(noise, labels)`` with ``classifier``: ``(images [N, 1, H, W], share classified
    as requested, share per requested class [10], share confident)``."""
    import numpy as np

    import framework as fw

    from ..nn import functional as F

    images, probabilities = [], []
    with fw.no_grad():
        for begin in range(0, len(noise), 500):
            z = fw.tensor(noise[begin:begin + 500].astype(np.float32), device=device)
            c = fw.tensor(labels[begin:begin + 500], device=device)
            fake = generator(z, c)
            images.append(fake.numpy())
            probabilities.append(F.softmax(classifier(fake), dim=1).numpy())
    images, probabilities = np.concatenate(images), np.concatenate(probabilities)
    hits = probabilities.argmax(axis=1) == labels
    per_class = np.array([hits[labels == c].mean() for c in range(NUM_CLASSES)])
    return images, float(hits.mean()), per_class, float(np.mean(probabilities.max(axis=1) >= CONFIDENCE))


def _class_spread_ratios(images, labels, x_real, y_real) -> list[float | None]:
    """Per class: the mean over pixels of the generated images' standard deviation over that class's samples,
    divided by the same for the real images of the class (None: fewer than 2 samples of it on either side)."""
    ratios = []
    for c in range(NUM_CLASSES):
        fake, real = images[labels == c], x_real[y_real == c]
        if len(fake) < 2 or len(real) < 2:
            ratios.append(None)
        else:
            ratios.append(float(fake.std(axis=0).mean() / real.std(axis=0).mean()))
    return ratios


def _run_conditional(parser: argparse.ArgumentParser, args: argparse.Namespace, device: str) -> int:
    """``train gan --conditional``: the AC-GAN, its pictures, checkpoint and score (arguments already checked)."""
    import numpy as np
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    import framework as fw

    from .. import nn, optim
    from ..checkpoint import save_checkpoint
    from ..data import DataLoader, TensorDataset
    from ..models import ACDiscriminator, ACGANLosses, ConditionalGenerator, acgan_train_step, update_ema
    from ..train import BatchMean, fit

    class_weight = DEFAULT_CLASS_WEIGHT if args.class_weight is None else args.class_weight
    if class_weight < 0:
        parser.error("--class-weight must be >= 0")
    if args.num_samples < NUM_CLASSES:
        parser.error(f"--num-samples must be >= {NUM_CLASSES} with --conditional (samples of every digit)")
    (x_train, y_train), _, (x_test, y_test) = load_digit_splits(parser, args.limit)
    start = time.perf_counter()
    folder = run_folder(args.out, NAME)
    _print_header(args, device, x_train, x_test, f"  conditional (AC-GAN, class weight {class_weight:g})")

    fw.manual_seed(args.seed)
    image_size = int(x_train.shape[-1])
    generator = ConditionalGenerator(latent_dim=args.latent_dim, num_classes=NUM_CLASSES,
                                     image_size=image_size).to(device)
    discriminator = ACDiscriminator(num_classes=NUM_CLASSES, image_size=image_size, dropout=args.dropout).to(device)
    g_optimizer = optim.Adam(generator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    d_optimizer = optim.Adam(discriminator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    average = ConditionalGenerator(latent_dim=args.latent_dim, num_classes=NUM_CLASSES,
                                   image_size=image_size).to(device)
    average.load_state_dict(generator.state_dict())
    shown = average if args.ema > 0 else generator
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True, seed=args.seed,
                        device=device)
    # The pictures: row r holds 10 samples of digit r, the same 10 noise vectors in every row.
    fixed_noise = np.random.default_rng(FIXED_NOISE_SEED).standard_normal((10, args.latent_dim)).astype(np.float32)
    fixed_noise = fw.tensor(np.tile(fixed_noise, (NUM_CLASSES, 1)), device=device)
    fixed_labels = fw.tensor(np.repeat(np.arange(NUM_CLASSES), 10), device=device)

    def step(batch) -> dict:
        real, labels = batch
        losses = acgan_train_step(generator, discriminator, g_optimizer, d_optimizer, real, labels,
                                  args.real_label, class_weight)
        if args.ema > 0:
            update_ema(average, generator, args.ema)
        return losses._asdict()

    def draw(model) -> np.ndarray:
        model.eval()
        with fw.no_grad():
            samples = model(fixed_noise, fixed_labels).numpy()
        model.train()
        return samples

    def draw_samples(epoch: int) -> dict:
        plot_image_grid(draw(shown), folder / f"samples_epoch_{epoch:03d}.png", columns=10,
                        title=f"epoch {epoch}: row r = digit r, the same noise every row and epoch")
        return {}

    names = ACGANLosses._fields
    with threadpool_limits(limits=args.threads, user_api="blas"):
        history = fit(None, None, None, loader, epochs=args.epochs, progress=not args.no_progress, step=step,
                      metrics={name: BatchMean(name) for name in names}, validate=draw_samples,
                      summary=lambda row: (f"D loss {row['d_adversarial']:.4f} + class {row['d_class']:.4f}  "
                                           f"G loss {row['g_adversarial']:.4f} + class {row['g_class']:.4f}"),
                      postfix=lambda values: {"d": f"{values['d_adversarial']:.3f}",
                                              "g": f"{values['g_adversarial']:.3f}",
                                              "cls": f"{values['g_class']:.3f}"})
        gan_seconds = time.perf_counter() - start

        classifier, classifier_accuracy, noise = _judge(args, x_train, y_train, x_test, y_test, device)
        requested = np.arange(args.num_samples) % NUM_CLASSES
        shown.eval()
        images, accuracy, per_class, confident = _score_conditional(shown, classifier, noise, requested, device)
        final = draw(shown)
    spreads = _class_spread_ratios(images, requested, x_train, y_train)
    known = [r for r in spreads if r is not None]
    mean_spread = float(np.mean(known)) if known else None
    elapsed = time.perf_counter() - start

    networks = nn.ModuleDict({"generator": generator, "generator_ema": average, "discriminator": discriminator})
    save_checkpoint(folder / "checkpoint.safetensors", networks,
                    {"generator": g_optimizer, "discriminator": d_optimizer}, epoch=args.epochs,
                    extra={"model": "AC-GAN", "latent_dim": args.latent_dim, "image_size": image_size,
                           "num_classes": NUM_CLASSES})
    plot_curves(history["epochs"], {"discriminator (BCE)": history["d_adversarial"],
                                    "discriminator (class CE, real + fake)": history["d_class"],
                                    "generator (BCE)": history["g_adversarial"],
                                    "generator (class CE)": history["g_class"]},
                folder / "learning_curve.png", ylabel="loss", title="AC-GAN losses (mean per epoch)")
    plot_image_rows([(str(c), final[10 * c:10 * c + 10]) for c in range(NUM_CLASSES)],
                    folder / "samples_by_class.png", title="AC-GAN samples: row r = digit r")
    _plot_class_accuracy(per_class, accuracy, folder / "class_accuracy.png")
    metrics = {
        "model": "AC-GAN (ConditionalGenerator + ACDiscriminator)",
        "device": device,
        "data": "digits",
        "sizes": {"train": len(x_train), "test": len(x_test)},
        "conditional": True,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": "Adam(betas=(0.5, 0.999)) for each network",
        "seed": args.seed,
        "split_seed": SPLIT_SEED,
        "latent_dim": args.latent_dim,
        "num_classes": NUM_CLASSES,
        "class_weight": class_weight,
        "real_label": args.real_label,
        "ema": args.ema,
        "dropout": args.dropout,
        "threads": args.threads,
        "classifier_epochs": args.classifier_epochs,
        "classifier_test_accuracy": classifier_accuracy,
        "num_samples": args.num_samples,
        "requested_class_accuracy": accuracy,
        "per_class_accuracy": per_class.tolist(),
        "min_class_accuracy": float(per_class.min()),
        "confidence_threshold": CONFIDENCE,
        "confident_samples": confident,
        "class_spread_ratios": spreads,
        "mean_class_spread_ratio": mean_spread,
        "history": history,
        "gan_seconds": gan_seconds,
        "elapsed_seconds": elapsed,
        "versions": versions(),
    }
    write_metrics(folder, metrics)
    print("classified as requested, per digit: "
          + "  ".join(f"{c}: {100 * a:.1f}%" for c, a in enumerate(per_class)))
    print(f"confident samples: {100 * confident:.1f}%")
    if known:
        print(f"within-class spread of the samples / of the real digits: {mean_spread:.2f} (min {min(known):.2f})")
    print(f"run folder: {folder}")
    print(f"elapsed: {elapsed:.1f}s")
    print(f"samples classified as their requested class: {100 * accuracy:.1f}%")
    return 0
