# The original's Python 2-era idioms are kept (super(Net, self), .format, %), so the file reads like it.
# ruff: noqa: UP004, UP008, UP031, UP032, B007
"""The official PyTorch MNIST example (pytorch/examples, mnist/main.py as of 2025, with
``torch.accelerator``), kept as written.

This file is a plain PyTorch program: ``tests/port/test_port_programs.py`` runs it unchanged under
``torch`` and again with only its ``torch`` imports renamed to ``framework``. Departures from the
original, all for a test-sized run without downloads:

- data: synthetic 8x8 "digits" (ten fixed random stroke patterns, each image one of them with noise,
  drawn by numpy from a fixed seed so both frameworks see the same images) in a ``TensorDataset``,
  normalised with MNIST's mean/std, instead of torchvision's 28x28 MNIST; so ``fc1`` takes
  64*2*2 = 256 features, not 9216;
- ``train``/``test``/``main`` return what they print, so the test can check it;
- ``main`` takes ``argv`` (``None`` reads the command line, as the original does).
"""

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import TensorDataset


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(256, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    losses = []
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
            if args.dry_run:
                break
    return losses


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)

    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))
    return test_loss, correct / len(test_loader.dataset)


def digits_datasets(train_size, total=1000):
    """Synthetic MNIST-style digits: (N, 1, 8, 8) float tensors, normalised, and int64 labels; each class
    is a fixed random stroke pattern, each image that pattern at a random intensity plus pixel noise."""
    rng = np.random.default_rng(12345)
    patterns = (rng.random((10, 8, 8)) < 0.3).astype(np.float32)
    labels = rng.integers(0, 10, total)
    pixels = patterns[labels] * rng.uniform(0.5, 1.0, (total, 1, 1)) + rng.normal(0, 0.3, (total, 8, 8))
    images = torch.from_numpy(np.clip(pixels, 0, 1).astype(np.float32)).unsqueeze(1)
    images = (images - 0.1307) / 0.3081
    targets = torch.from_numpy(labels.astype(np.int64))
    return (TensorDataset(images[:train_size], targets[:train_size]),
            TensorDataset(images[train_size:], targets[train_size:]))


def main(argv=None):
    # Training settings
    parser = argparse.ArgumentParser(description='PyTorch MNIST Example')
    parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                        help='input batch size for training (default: 64)')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                        help='input batch size for testing (default: 1000)')
    parser.add_argument('--epochs', type=int, default=14, metavar='N',
                        help='number of epochs to train (default: 14)')
    parser.add_argument('--lr', type=float, default=1.0, metavar='LR',
                        help='learning rate (default: 1.0)')
    parser.add_argument('--gamma', type=float, default=0.7, metavar='M',
                        help='Learning rate step gamma (default: 0.7)')
    parser.add_argument('--no-accel', action='store_true',
                        help='disables accelerator')
    parser.add_argument('--dry-run', action='store_true',
                        help='quickly check a single pass')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    parser.add_argument('--save-model', action='store_true',
                        help='For Saving the current Model')
    parser.add_argument('--train-size', type=int, default=1280, metavar='N',
                        help='how many of the 1000 digits to train on; the rest are the test set')
    args = parser.parse_args(argv)
    use_accel = not args.no_accel and torch.accelerator.is_available()

    torch.manual_seed(args.seed)

    if use_accel:
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")

    train_kwargs = {'batch_size': args.batch_size}
    test_kwargs = {'batch_size': args.test_batch_size}
    if use_accel:
        accel_kwargs = {'num_workers': 1,
                        'persistent_workers': True,
                       'pin_memory': True,
                       'shuffle': True}
        train_kwargs.update(accel_kwargs)
        test_kwargs.update(accel_kwargs)

    dataset1, dataset2 = digits_datasets(args.train_size)
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    history = []
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        losses = train(args, model, device, train_loader, optimizer, epoch)
        test_loss, accuracy = test(model, device, test_loader)
        history.append({'train_losses': losses, 'test_loss': test_loss, 'accuracy': accuracy})
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.pt")
    return model, history


if __name__ == '__main__':
    main()
