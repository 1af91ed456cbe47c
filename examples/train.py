#!/usr/bin/env python3
"""A small, real training run to serve as a calc job: logistic regression in pure Python.

    calc-server --job 'python examples/train.py --epochs 30'

It generates a two-class dataset from ``--seed``, fits it by full-batch gradient descent, and
after each epoch prints a log line and a report line that the server reads as progress::

    {"calc": {"progress": 0.1, "message": "epoch 3/30 loss 0.4123 acc 91.3%"}}

Each epoch takes at least ``--epoch-seconds`` (default 0.15, so 30 epochs run about 5 s). On
SIGTERM (calc's cancel) it writes a checkpoint, the weights and the epoch reached, as JSON to
``--checkpoint`` (default: calc-train-checkpoint.json in the system's temporary directory, so a
run from the repository leaves nothing in it) and exits 143 (1 if it cannot write it). Bad
options exit 2 with a message. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

DEFAULT_CHECKPOINT = Path(tempfile.gettempdir()) / "calc-train-checkpoint.json"
TERMINATED = 128 + signal.SIGTERM


class Terminated(Exception):
    """SIGTERM arrived: stop at once, keep what was learnt."""


@dataclass
class Model:
    """A linear model with a sigmoid: one weight per feature and a bias."""

    weights: list[float]
    bias: float = 0.0

    def probability(self, features: list[float]) -> float:
        """P(label = 1 | features)."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


Sample = tuple[list[float], int]


def make_dataset(seed: int, samples: int, features: int) -> list[Sample]:
    """Points labelled by a hidden linear rule, with 5 % of labels flipped as noise."""
    rng = random.Random(seed)
    truth = [rng.uniform(-2, 2) for _ in range(features)]
    data: list[Sample] = []
    for _ in range(samples):
        x = [rng.gauss(0, 1) for _ in range(features)]
        label = int(sum(w * v for w, v in zip(truth, x, strict=True)) > 0)
        if rng.random() < 0.05:
            label = 1 - label
        data.append((x, label))
    return data


@dataclass(frozen=True)
class Epoch:
    """One epoch's outcome: the updated model, and the loss and accuracy before the update."""

    model: Model
    loss: float
    accuracy: float


def train_epoch(model: Model, data: list[Sample], lr: float) -> Epoch:
    """One step of full-batch gradient descent on the log loss; ``model`` is left as it was."""
    grad_w = [0.0] * len(model.weights)
    grad_b = 0.0
    loss = 0.0
    correct = 0
    for x, label in data:
        p = model.probability(x)
        loss -= math.log(max(p if label else 1.0 - p, 1e-12))
        correct += int((p >= 0.5) == bool(label))
        for i, value in enumerate(x):
            grad_w[i] += (p - label) * value
        grad_b += p - label
    n = len(data)
    updated = Model(
        weights=[w - lr * g / n for w, g in zip(model.weights, grad_w, strict=True)],
        bias=model.bias - lr * grad_b / n,
    )
    return Epoch(updated, loss / n, correct / n)


def report(progress: float, message: str) -> None:
    """The line calc reads as this run's progress and message."""
    print(json.dumps({"calc": {"progress": round(progress, 4), "message": message}}), flush=True)


def write_checkpoint(path: Path, model: Model, epoch: int) -> None:
    """The model and the epoch reached, as JSON, replaced atomically."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"epoch": epoch, "weights": model.weights, "bias": model.bias}))
    os.replace(partial, path)


def _number(text: str, kind: type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not -math.inf < value < math.inf:
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number above zero."""
    value = int(_number(text, int))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above zero: {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number above zero."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above zero: {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a number, zero or more."""
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more: {text!r}")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The options; argparse exits 2 with a one-line reason on a bad one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=positive_int, default=30, help="default 30")
    parser.add_argument("--lr", type=positive_float, default=1.0, help="learning rate, default 1.0")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed, default 0")
    parser.add_argument("--samples", type=positive_int, default=400, help="default 400")
    parser.add_argument("--features", type=positive_int, default=4, help="default 4")
    parser.add_argument(
        "--epoch-seconds",
        type=non_negative_float,
        default=0.15,
        help="least time per epoch (default 0.15)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_CHECKPOINT,
        help=f"where SIGTERM writes the model (default {DEFAULT_CHECKPOINT})",
    )
    return parser.parse_args(argv)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Train; 0 when all epochs ran, 143 after a SIGTERM (checkpoint written)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    data = make_dataset(args.seed, args.samples, args.features)
    model = Model(weights=[0.0] * args.features)
    signal.signal(signal.SIGTERM, _on_sigterm)
    epoch = 0
    step = Epoch(model, math.nan, math.nan)
    try:
        print(f"training on {len(data)} samples, {args.features} features", flush=True)
        for epoch in range(1, args.epochs + 1):
            began = time.monotonic()
            step = train_epoch(model, data, args.lr)
            model = step.model  # one assignment: a SIGTERM never sees half an update
            line = f"epoch {epoch}/{args.epochs} loss {step.loss:.4f} acc {step.accuracy:.1%}"
            print(line, flush=True)
            report(epoch / args.epochs, line)
            time.sleep(max(0.0, args.epoch_seconds - (time.monotonic() - began)))
    except Terminated:
        try:
            write_checkpoint(args.checkpoint, model, epoch)
        except OSError as error:
            print(f"terminated in epoch {epoch}: no checkpoint: {error}", file=sys.stderr)
            return 1
        print(f"terminated in epoch {epoch}: checkpoint in {args.checkpoint}", file=sys.stderr)
        return TERMINATED
    print(f"done: loss {step.loss:.4f} acc {step.accuracy:.1%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
