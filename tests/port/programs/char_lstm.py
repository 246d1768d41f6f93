# The original's Python 2-era idioms are kept (super(Net, self), .format, %), so the file reads like it.
# ruff: noqa: UP004, UP008, UP031, UP032, B007
"""A character-level LSTM language model, the way pytorch/examples word_language_model trains one.

A plain PyTorch program: ``tests/port/test_port_programs.py`` runs it unchanged under ``torch`` and
again with only its ``torch`` imports renamed to ``framework``. It follows word_language_model's
main.py, model.py and generate.py (``batchify``, ``get_batch``, ``repackage_hidden``, truncated BPTT
with the hidden state detached between chunks, ``clip_grad_norm_``, optionally tied embedding and
softmax weights, the hand-written SGD step ``p.data.add_(p.grad, alpha=-lr)``, annealing the rate
when validation stalls, and sampling with ``torch.multinomial`` on ``exp(log_softmax / temperature)``)
on characters of a small built-in text instead of the words of Wikitext-2. ``train``/``evaluate``/
``generate``/``main`` return what they print, so the test can check it; ``torch.save`` stores the
``state_dict`` (not the pickled model).
"""

import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

TEXT = (
    "the cat sat on the mat. the dog sat on the log. "
    "a cat and a dog sat on a mat and a log. "
    "the cat ate the rat. the dog ate the cat food. "
) * 6


class Corpus(object):
    """Characters of ``text`` as int64 ids: the first 90% for training, the rest for validation."""

    def __init__(self, text):
        self.idx2char = sorted(set(text))
        self.char2idx = {c: i for i, c in enumerate(self.idx2char)}
        ids = torch.tensor([self.char2idx[c] for c in text], dtype=torch.long)
        split = int(len(text) * 0.9)
        self.train = ids[:split]
        self.valid = ids[split:]


class CharLSTM(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super(CharLSTM, self).__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)

        # Optionally tie weights as in:
        # "Using the Output Embedding to Improve Language Models" (Press & Wolf 2016)
        # https://arxiv.org/abs/1608.05859
        if tie_weights:
            if nhid != ninp:
                raise ValueError('When using the tied flag, nhid must be equal to emsize')
            self.decoder.weight = self.encoder.weight

        self.init_weights()
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid))


def batchify(data, bsz, device):
    # Work out how cleanly we can divide the dataset into bsz parts.
    nbatch = data.size(0) // bsz
    # Trim off any extra elements that wouldn't cleanly fit (remainders).
    data = data.narrow(0, 0, nbatch * bsz)
    # Evenly divide the data across the bsz batches.
    data = data.view(bsz, -1).t().contiguous()
    return data.to(device)


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    else:
        return tuple(repackage_hidden(v) for v in h)


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


def evaluate(model, data_source, criterion, args):
    # Turn on evaluation mode which disables dropout.
    model.eval()
    total_loss = 0.
    hidden = model.init_hidden(args.eval_batch_size)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, args.bptt):
            data, targets = get_batch(data_source, i, args.bptt)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def train(model, train_data, criterion, lr, epoch, args):
    # Turn on training mode which enables dropout.
    model.train()
    losses = []
    hidden = model.init_hidden(args.batch_size)
    for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
        data, targets = get_batch(train_data, i, args.bptt)
        # Starting each batch, we detach the hidden state from how it was previously produced.
        # If we didn't, the model would try backpropagating all the way to start of the dataset.
        hidden = repackage_hidden(hidden)
        model.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()

        # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)

        losses.append(loss.item())
        if batch % args.log_interval == 0 and batch > 0:
            cur_loss = sum(losses[-args.log_interval:]) / args.log_interval
            print('| epoch {:3d} | {:5d} batches | lr {:02.2f} | loss {:5.2f} | ppl {:8.2f}'.format(
                epoch, batch, lr, cur_loss, math.exp(cur_loss)))
    return losses


def generate(model, corpus, device, nchars, temperature):
    """Sample ``nchars`` characters, feeding each back in (generate.py)."""
    model.eval()
    ntokens = len(corpus.idx2char)
    hidden = model.init_hidden(1)
    input = torch.randint(ntokens, (1, 1), dtype=torch.long).to(device)
    chars = []
    with torch.no_grad():  # no tracking history
        for i in range(nchars):
            output, hidden = model(input, hidden)
            char_weights = output.squeeze().div(temperature).exp().cpu()
            char_idx = torch.multinomial(char_weights, 1)[0]
            input.fill_(char_idx)
            chars.append(corpus.idx2char[char_idx])
    return ''.join(chars)


def main(argv=None):
    parser = argparse.ArgumentParser(description='PyTorch character-level LSTM language model')
    parser.add_argument('--emsize', type=int, default=16, help='size of character embeddings')
    parser.add_argument('--nhid', type=int, default=32, help='number of hidden units per layer')
    parser.add_argument('--nlayers', type=int, default=2, help='number of layers')
    parser.add_argument('--lr', type=float, default=20, help='initial learning rate')
    parser.add_argument('--clip', type=float, default=0.25, help='gradient clipping')
    parser.add_argument('--epochs', type=int, default=40, help='upper epoch limit')
    parser.add_argument('--batch_size', type=int, default=8, metavar='N', help='batch size')
    parser.add_argument('--eval_batch_size', type=int, default=4, metavar='N', help='eval batch size')
    parser.add_argument('--bptt', type=int, default=20, help='sequence length')
    parser.add_argument('--dropout', type=float, default=0.2,
                        help='dropout applied to layers (0 = no dropout)')
    parser.add_argument('--tied', action='store_true', help='tie the character embedding and softmax weights')
    parser.add_argument('--seed', type=int, default=1111, help='random seed')
    parser.add_argument('--cuda', action='store_true', default=False, help='use CUDA')
    parser.add_argument('--log-interval', type=int, default=200, metavar='N', help='report interval')
    parser.add_argument('--save', type=str, default='model.pt', help='path to save the final model')
    parser.add_argument('--chars', type=int, default=200, help='number of characters to generate')
    parser.add_argument('--temperature', type=float, default=1.0,
                        help='temperature - higher will increase diversity')
    args = parser.parse_args(argv)

    # Set the random seed manually for reproducibility.
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if args.cuda else "cpu")

    corpus = Corpus(TEXT)
    train_data = batchify(corpus.train, args.batch_size, device)
    val_data = batchify(corpus.valid, args.eval_batch_size, device)

    ntokens = len(corpus.idx2char)
    model = CharLSTM(ntokens, args.emsize, args.nhid, args.nlayers, args.dropout, args.tied).to(device)
    criterion = nn.NLLLoss()

    # Loop over epochs.
    lr = args.lr
    best_val_loss = None
    history = []
    for epoch in range(1, args.epochs + 1):
        losses = train(model, train_data, criterion, lr, epoch, args)
        val_loss = evaluate(model, val_data, criterion, args)
        history.append({'train_losses': losses, 'val_loss': val_loss, 'lr': lr})
        # Save the model if the validation loss is the best we've seen so far.
        if not best_val_loss or val_loss < best_val_loss:
            with open(args.save, 'wb') as f:
                torch.save(model.state_dict(), f)
            best_val_loss = val_loss
        else:
            # Anneal the learning rate if no improvement has been seen in the validation dataset.
            lr /= 4.0

    text = generate(model, corpus, device, args.chars, args.temperature)
    print(text)
    return model, corpus, history, text


if __name__ == '__main__':
    main()
