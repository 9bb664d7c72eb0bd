#!/usr/bin/env python3
"""Build models/digits/model.onnx: a small MLP classifier for scikit-learn's 8x8 digits.

Data: sklearn.datasets.load_digits() (bundled with scikit-learn, no download), 1797
images of 8x8 pixels with integer intensities 0..16, labels 0..9.
Split: train_test_split(test_size=0.2, random_state=0, stratify=y) -> 1437 train / 360 test.
The held-out split is written to models/digits/test-set.json.

Model: x/16 -> Linear(64->128) -> ReLU -> Linear(128->64) -> ReLU -> Linear(64->10)
The /16 scaling is part of the exported graph, so clients send raw pixel values (0..16).

Signature:
  input   "input"         float32 [batch, 64]   raw pixel values 0..16, row-major 8x8
  output  "logits"        float32 [batch, 10]
  output  "probabilities" float32 [batch, 10]   softmax(logits)
where "batch" is a symbolic (dynamic) dimension.

Rebuild (Debian bookworm):
  apt-get install -y python3-torch python3-sklearn python3-onnx
  /usr/bin/python3 models/build_digits.py
Output paths are resolved relative to this script, not the current directory.
"""
import hashlib
import json
import os
import random
import sys

sys.dont_write_bytecode = True  # keep models/ free of __pycache__

import numpy as np
import torch
from torch import nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "digits")
MODEL_PATH = os.path.join(OUT_DIR, "model.onnx")
TEST_SET_PATH = os.path.join(OUT_DIR, "test-set.json")
OPSET = min(17, getattr(torch.onnx._constants, "ONNX_MAX_OPSET", 17))
SEED = 0
EPOCHS = 200
BATCH_SIZE = 64
LR = 1e-3
WEIGHT_DECAY = 1e-4
MIN_ACCURACY = 0.95
SPLIT_DESCRIPTION = (
    "sklearn.datasets.load_digits(); sklearn.model_selection.train_test_split("
    "X, y, test_size=0.2, random_state=0, stratify=y) -> held-out (test) part, "
    "in train_test_split order"
)


class DigitsMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        logits = self.net(x * (1.0 / 16.0))
        return logits, torch.softmax(logits, dim=1)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def main():
    seed_everything(SEED)

    digits = load_digits()
    X = digits.data.astype(np.float32)  # (1797, 64), values 0..16
    y = digits.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y
    )

    model = DigitsMLP()
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(X_train)
    yt = torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(SEED)

    model.train()
    for epoch in range(EPOCHS):
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), BATCH_SIZE):
            idx = perm[i : i + BATCH_SIZE]
            opt.zero_grad()
            logits, _ = model(xt[idx])
            loss = loss_fn(logits, yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if (epoch + 1) % 50 == 0:
            print(f"epoch {epoch + 1}: train loss {total / len(xt):.4f}")

    model.eval()
    with torch.no_grad():
        train_acc = (model(xt)[0].argmax(1) == yt).float().mean().item()
        test_logits, test_probs = model(torch.from_numpy(X_test))
        test_pred = test_logits.argmax(1).numpy()
    correct = int((test_pred == y_test).sum())
    test_acc = correct / len(y_test)
    print(f"train accuracy {train_acc:.4f}; test accuracy {test_acc:.4f} ({correct}/{len(y_test)})")
    if test_acc < MIN_ACCURACY:
        raise SystemExit(f"test accuracy {test_acc:.4f} below required {MIN_ACCURACY}")

    os.makedirs(OUT_DIR, exist_ok=True)
    dummy = torch.zeros(2, 64, dtype=torch.float32)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            MODEL_PATH,
            input_names=["input"],
            output_names=["logits", "probabilities"],
            dynamic_axes={
                "input": {0: "batch"},
                "logits": {0: "batch"},
                "probabilities": {0: "batch"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            export_params=True,
        )

    test_set = {
        "split": SPLIT_DESCRIPTION,
        "count": int(len(y_test)),
        # pixel values are exact integers 0..16; send them as float32
        "inputs": [[int(v) for v in row] for row in X_test],
        "labels": [int(v) for v in y_test],
        "accuracy": round(test_acc, 6),
        "correct": correct,
    }
    with open(TEST_SET_PATH, "w") as f:
        json.dump(test_set, f, separators=(",", ":"))
        f.write("\n")

    with open(MODEL_PATH, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {MODEL_PATH} ({os.path.getsize(MODEL_PATH)} bytes, opset {OPSET}, sha256 {digest})")
    print(f"wrote {TEST_SET_PATH} ({os.path.getsize(TEST_SET_PATH)} bytes, {len(y_test)} samples)")
    print(f"torch {torch.__version__}")


if __name__ == "__main__":
    main()
