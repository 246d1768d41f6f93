"""The per-epoch record of :func:`~framework.train.fit`: :class:`History` (and its learning-curve picture)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import save_figure


@dataclass
class History:
    """Per-epoch metrics of :func:`fit`; every list has one entry per epoch (``val_*`` hold None
    when there is no validation loader). Accuracies are fractions in [0, 1]."""

    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    val_acc: list[float | None] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __getitem__(self, key: str) -> list:
        return getattr(self, key)

    def to_dict(self) -> dict[str, list]:
        """Plain lists (JSON-serialisable); :meth:`from_dict` reverses it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, list]) -> History:
        """Rebuild a History from :meth:`to_dict`'s output (e.g. read back from ``metrics.json``).

        Raises:
            ValueError: unknown keys, or lists of different lengths.
        """
        names = set(cls.__dataclass_fields__)
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"History.from_dict: unknown keys {sorted(unknown)}")
        lengths = {key: len(value) for key, value in data.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"History.from_dict: lists of different lengths {lengths}")
        return cls(**{key: list(value) for key, value in data.items()})

    def __len__(self) -> int:
        return len(self.epochs)

    def plot(self, path: str | os.PathLike, loss_label: str = "loss") -> Path:
        """Save the learning curves (loss and accuracy per epoch, train and validation) as a picture.

        Args:
            path: the image file (its suffix picks the format, e.g. ``.png``).
            loss_label: y-axis label of the loss panel (e.g. ``"cross-entropy"``).

        Returns:
            ``path`` as a Path.
        """
        # The object-oriented Figure API renders with Agg and never touches pyplot's global backend.
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 4), layout="constrained")
        loss_ax, acc_ax = fig.subplots(1, 2)
        epochs = self.epochs
        loss_ax.plot(epochs, self.train_loss, marker="o", label="train")
        acc_ax.plot(epochs, [100 * a for a in self.train_acc], marker="o", label="train")
        if any(v is not None for v in self.val_loss):
            loss_ax.plot(epochs, self.val_loss, marker="o", label="validation")
            acc_ax.plot(epochs, [100 * a for a in self.val_acc], marker="o", label="validation")
        loss_ax.set(xlabel="epoch", ylabel=loss_label, title="loss")
        acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
        for ax in (loss_ax, acc_ax):
            ax.grid(alpha=0.3)
            ax.legend()
        path = Path(path)
        save_figure(fig, path, dpi=100)
        return path
