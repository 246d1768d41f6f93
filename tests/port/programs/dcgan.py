# The original's Python 2-era idioms are kept (super(Net, self), .format, %), so the file reads like it.
# ruff: noqa: UP004, UP008, UP031, UP032, B007
"""The DCGAN example (pytorch/examples, dcgan/main.py), kept as written at a small size.

A plain PyTorch program: ``tests/port/test_port_programs.py`` runs it unchanged under ``torch`` and
again with only its ``torch`` imports renamed to ``framework``. Departures from the original, all
for a test-sized run without downloads or torchvision:

- data: synthetic 16x16 "digits" (ten fixed random 8x8 stroke patterns, each pixel doubled, with
  noise; numpy draws them from a fixed seed so both frameworks see the same images), scaled to
  [-1, 1] (the original's ``Normalize((0.5,), (0.5,))``), in a ``TensorDataset``; so the generator has three transposed
  convolutions (1 -> 4 -> 8 -> 16) and the discriminator three convolutions (16 -> 8 -> 4 -> 1)
  instead of five each for 64x64 images;
- one iteration of the inner loop is the function ``train_step`` (the loop draws the noise and
  calls it), ``main`` takes ``argv`` and returns what it prints; no image grids are written.
"""

import argparse
import os
import random

import numpy as np
import torch
import torch.backends.cudnn as cudnn
import torch.nn as nn
import torch.nn.parallel
import torch.optim as optim
import torch.utils.data
from torch.utils.data import TensorDataset


# custom weights initialization called on netG and netD
def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        m.bias.data.fill_(0)


class Generator(nn.Module):
    def __init__(self, ngpu, nz, ngf, nc):
        super(Generator, self).__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            # input is Z, going into a convolution
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # state size. (ngf*2) x 4 x 4
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            # state size. (ngf) x 8 x 8
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh()
            # state size. (nc) x 16 x 16
        )

    def forward(self, input):
        if input.is_cuda and self.ngpu > 1:
            output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        else:
            output = self.main(input)
        return output


class Discriminator(nn.Module):
    def __init__(self, ngpu, ndf, nc):
        super(Discriminator, self).__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            # input is (nc) x 16 x 16
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf) x 8 x 8
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 4 x 4
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid()
        )

    def forward(self, input):
        if input.is_cuda and self.ngpu > 1:
            output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        else:
            output = self.main(input)

        return output.view(-1, 1).squeeze(1)


real_label = 1
fake_label = 0


def train_step(netD, netG, optimizerD, optimizerG, criterion, real_cpu, noise, device):
    """One iteration of the original's inner loop; returns its printed numbers."""
    ############################
    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
    ###########################
    # train with real
    netD.zero_grad()
    real_cpu = real_cpu.to(device)
    batch_size = real_cpu.size(0)
    label = torch.full((batch_size,), real_label, dtype=torch.float, device=device)

    output = netD(real_cpu)
    errD_real = criterion(output, label)
    errD_real.backward()
    D_x = output.mean().item()

    # train with fake
    fake = netG(noise)
    label.fill_(fake_label)
    output = netD(fake.detach())
    errD_fake = criterion(output, label)
    errD_fake.backward()
    D_G_z1 = output.mean().item()
    errD = errD_real + errD_fake
    optimizerD.step()

    ############################
    # (2) Update G network: maximize log(D(G(z)))
    ###########################
    netG.zero_grad()
    label.fill_(real_label)  # fake labels are real for generator cost
    output = netD(fake)
    errG = criterion(output, label)
    errG.backward()
    D_G_z2 = output.mean().item()
    optimizerG.step()
    return {'errD': errD.item(), 'errG': errG.item(), 'D_x': D_x, 'D_G_z1': D_G_z1, 'D_G_z2': D_G_z2}


def digits_dataset(total=640):
    """Synthetic digits in [-1, 1] as (N, 1, 16, 16) float32 with their int64 labels: each class a fixed
    random 8x8 stroke pattern with every pixel doubled, each image that pattern plus a little noise."""
    rng = np.random.default_rng(12345)
    patterns = (rng.random((10, 8, 8)) < 0.3).astype(np.float32)
    labels = rng.integers(0, 10, total)
    pixels = np.kron(patterns[labels], np.ones((2, 2))) + rng.normal(0, 0.1, (total, 16, 16))
    images = torch.from_numpy(np.clip(pixels, 0, 1).astype(np.float32)).unsqueeze(1) * 2 - 1
    return TensorDataset(images, torch.from_numpy(labels.astype(np.int64)))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--workers', type=int, help='number of data loading workers', default=2)
    parser.add_argument('--batchSize', type=int, default=64, help='input batch size')
    parser.add_argument('--nz', type=int, default=100, help='size of the latent z vector')
    parser.add_argument('--ngf', type=int, default=64)
    parser.add_argument('--ndf', type=int, default=64)
    parser.add_argument('--niter', type=int, default=25, help='number of epochs to train for')
    parser.add_argument('--lr', type=float, default=0.0002, help='learning rate, default=0.0002')
    parser.add_argument('--beta1', type=float, default=0.5, help='beta1 for adam. default=0.5')
    parser.add_argument('--cuda', action='store_true', default=False, help='enables cuda')
    parser.add_argument('--dry-run', action='store_true', help='check a single training cycle works')
    parser.add_argument('--ngpu', type=int, default=1, help='number of GPUs to use')
    parser.add_argument('--netG', default='', help="path to netG (to continue training)")
    parser.add_argument('--netD', default='', help="path to netD (to continue training)")
    parser.add_argument('--outf', default='.', help='folder to output model checkpoints')
    parser.add_argument('--manualSeed', type=int, help='manual seed')
    parser.add_argument('--num-batches', type=int, default=0, help='stop each epoch after this many (0: all)')
    opt = parser.parse_args(argv)
    print(opt)

    try:
        os.makedirs(opt.outf)
    except OSError:
        pass

    if opt.manualSeed is None:
        opt.manualSeed = random.randint(1, 10000)
    print("Random Seed: ", opt.manualSeed)
    random.seed(opt.manualSeed)
    torch.manual_seed(opt.manualSeed)

    cudnn.benchmark = True

    if torch.cuda.is_available() and not opt.cuda:
        print("WARNING: You have a CUDA device, so you should probably run with --cuda")

    dataset = digits_dataset()
    nc = 1
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=opt.batchSize,
                                             shuffle=True, num_workers=int(opt.workers))

    device = torch.device("cuda:0" if opt.cuda else "cpu")
    ngpu = int(opt.ngpu)
    nz = int(opt.nz)
    ngf = int(opt.ngf)
    ndf = int(opt.ndf)

    netG = Generator(ngpu, nz, ngf, nc).to(device)
    netG.apply(weights_init)
    if opt.netG != '':
        netG.load_state_dict(torch.load(opt.netG))
    print(netG)

    netD = Discriminator(ngpu, ndf, nc).to(device)
    netD.apply(weights_init)
    if opt.netD != '':
        netD.load_state_dict(torch.load(opt.netD))
    print(netD)

    criterion = nn.BCELoss()

    fixed_noise = torch.randn(opt.batchSize, nz, 1, 1, device=device)

    # setup optimizer
    optimizerD = optim.Adam(netD.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))

    if opt.dry_run:
        opt.niter = 1

    history = []
    for epoch in range(opt.niter):
        for i, data in enumerate(dataloader, 0):
            real_cpu = data[0].to(device)
            batch_size = real_cpu.size(0)
            noise = torch.randn(batch_size, nz, 1, 1, device=device)
            stats = train_step(netD, netG, optimizerD, optimizerG, criterion, real_cpu, noise, device)
            history.append(stats)

            print('[%d/%d][%d/%d] Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f'
                  % (epoch, opt.niter, i, len(dataloader),
                     stats['errD'], stats['errG'], stats['D_x'], stats['D_G_z1'], stats['D_G_z2']))
            if i % 100 == 0:
                fake = netG(fixed_noise)  # the original saves this grid with vutils.save_image

            if opt.dry_run or (opt.num_batches and i + 1 == opt.num_batches):
                break
        # do checkpointing
        torch.save(netG.state_dict(), '%s/netG_epoch_%d.pth' % (opt.outf, epoch))
        torch.save(netD.state_dict(), '%s/netD_epoch_%d.pth' % (opt.outf, epoch))
    return netG, netD, fixed_noise, fake.detach(), history


if __name__ == '__main__':
    main()
