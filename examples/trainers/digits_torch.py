"""A small PyTorch network on digits, on the GPU that `kubetune run` assigned
(CUDA_VISIBLE_DEVICES), reporting validation accuracy per epoch. Used by
examples/pytorch-gpu.yaml; falls back to the CPU only when `--allow-cpu` is given.
"""

import argparse
import os
import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import kubetune


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--dropout", type=float, required=True)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--allow-cpu", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.allow_cpu:
        raise SystemExit(
            "no CUDA device visible (CUDA_VISIBLE_DEVICES="
            f"{os.environ.get('CUDA_VISIBLE_DEVICES')!r})"
        )
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(
        f"device={device} name={torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}"
        f" CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}"
    )

    x, y = load_digits(return_X_y=True)
    train_x, val_x, train_y, val_y = train_test_split(x / 16.0, y, test_size=0.3, random_state=0)
    to = lambda a, t: torch.tensor(a, dtype=t, device=device)  # noqa: E731
    train_x, val_x = to(train_x, torch.float32), to(val_x, torch.float32)
    train_y, val_y = to(train_y, torch.long), to(val_y, torch.long)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, args.width),
        nn.ReLU(),
        nn.Dropout(args.dropout),
        nn.Linear(args.width, args.width),
        nn.ReLU(),
        nn.Dropout(args.dropout),
        nn.Linear(args.width, 10),
    ).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(train_x), device=device)
        for batch in order.split(64):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(train_x[batch]), train_y[batch]).backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(val_x).argmax(1) == val_y).float().mean().item()
        kubetune.report(step=epoch, accuracy=accuracy)
    print(f"trained {args.epochs} epochs in {time.time() - start:.1f}s")


if __name__ == "__main__":
    main()
