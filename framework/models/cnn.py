"""A small convolutional classifier for 8x8 digits and 28x28 MNIST-style images."""

from __future__ import annotations

from .. import nn


class DigitsCNN(nn.Sequential):
    """Two conv/ReLU/max-pool stages, then a fused Linear+ReLU hidden layer, dropout and the classifier.

    ``Conv2d(in, w, 3, pad 1) → ReLU → MaxPool2d(2) → Conv2d(w, 2w, 3, pad 1) → ReLU → MaxPool2d(2)
    → Flatten → Linear(2w·(s/4)², hidden) → ReLU → Dropout → Linear(hidden, num_classes)``; the
    Linear directly followed by ReLU runs as one fused ``linear_relu`` kernel.

    Args:
        in_channels: input channels (1 for grey images).
        num_classes: number of output logits.
        image_size: input height = width; must be divisible by 4 (8 for digits, 28 for MNIST).
        width: channels of the first conv (the second has ``2 * width``).
        hidden: units of the hidden fully connected layer.
        dropout: drop probability before the classifier.

    Shapes: input ``[N, in_channels, image_size, image_size]`` -> logits ``[N, num_classes]``.

    Raises:
        ValueError: ``image_size`` not a positive multiple of 4.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 8, width: int = 32,
                 hidden: int = 128, dropout: float = 0.25):
        if image_size <= 0 or image_size % 4:
            raise ValueError(f"DigitsCNN: image_size must be a positive multiple of 4, got {image_size}")
        side = image_size // 4  # two 2x2 poolings
        super().__init__(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * side * side, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        self.image_size = image_size
