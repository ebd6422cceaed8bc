"""The reference: the training loop of pytorch/examples' `vae/main.py`, written out the way that example does it.

torchvision dataset + ToTensor + DataLoader (batch 128, shuffled; num_workers 0 on CPU), an MLP
784-400-20 VAE with a sigmoid decoder, Adam lr 1e-3, loss = BCE (reduction "sum") + KLD, a test pass and
a grid of 64 samples saved after every epoch, a log line every 10 batches. Written for this benchmark
from the example's well-known structure; only the dataset differs (Fashion-MNIST, see bench/README.md),
and the log lines go to a buffer instead of the terminal.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn, optim


class ReferenceVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """Reconstruction + KL divergence losses summed over all elements and batch."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def run_reference(train_dataset, test_dataset, epochs: int, results_dir: Path, batch_size: int = 128,
                  log_interval: int = 10, seed: int = 1, log: io.StringIO | None = None) -> dict:
    """Train and test as the example's main() does; return per-epoch train and test loss per image and seconds."""
    from torchvision.utils import save_image

    log = log if log is not None else io.StringIO()
    torch.manual_seed(seed)
    device = torch.device("cpu")
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=batch_size, shuffle=False)
    model = ReferenceVAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    results_dir.mkdir(parents=True, exist_ok=True)
    history = {"loss": [], "test": []}

    def train(epoch):
        model.train()
        train_loss = 0
        for batch_idx, (data, _) in enumerate(train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            if batch_idx % log_interval == 0:
                print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)} "
                      f"({100. * batch_idx / len(train_loader):.0f}%)]\tLoss: {loss.item() / len(data):.6f}", file=log)
        avg = train_loss / len(train_loader.dataset)
        print(f"====> Epoch: {epoch} Average loss: {avg:.4f}", file=log)
        history["loss"].append(avg)

    def test(epoch):
        model.eval()
        test_loss = 0
        with torch.no_grad():
            for i, (data, _) in enumerate(test_loader):
                data = data.to(device)
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
                if i == 0:
                    n = min(data.size(0), 8)
                    comparison = torch.cat([data[:n], recon_batch.view(-1, 1, 28, 28)[:n]])
                    save_image(comparison.cpu(), results_dir / f"reconstruction_{epoch}.png", nrow=n)
        test_loss /= len(test_loader.dataset)
        print(f"====> Test set loss: {test_loss:.4f}", file=log)
        history["test"].append(test_loss)

    history["epoch_s"] = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()  # (the benchmark's addition: seconds per epoch)
        train(epoch)
        test(epoch)
        with torch.no_grad():
            sample = torch.randn(64, 20).to(device)
            sample = model.decode(sample).cpu()
            save_image(sample.view(64, 1, 28, 28), results_dir / f"sample_{epoch}.png")
        history["epoch_s"].append(time.perf_counter() - start)
    return history
