#!/usr/bin/env python3
"""Build models/seed-mlp/model.onnx: an untrained, seed-initialised MLP.

Architecture: Linear(1000->200) -> ReLU -> Linear(200->100) -> ReLU -> Linear(100->1)
(no activation on the output). Weights come from torch.manual_seed(0), so re-running
this script reproduces the same weights (and, with the same torch version, the same
file bytes).

Signature:
  input  "input"  float32 [batch, 1000]
  output "output" float32 [batch, 1]
where "batch" is a symbolic (dynamic) dimension.

Rebuild (Debian bookworm):
  apt-get install -y python3-torch python3-onnx
  /usr/bin/python3 models/build_seed_mlp.py
The output path is resolved relative to this script, not the current directory.
"""
import hashlib
import os
import sys

sys.dont_write_bytecode = True  # keep models/ free of __pycache__

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "seed-mlp")
OUT_PATH = os.path.join(OUT_DIR, "model.onnx")
OPSET = min(17, getattr(torch.onnx._constants, "ONNX_MAX_OPSET", 17))
SEED = 0


class SeedMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(1000, 200),
            nn.ReLU(),
            nn.Linear(200, 100),
            nn.ReLU(),
            nn.Linear(100, 1),
        )

    def forward(self, x):
        return self.net(x)


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    model = SeedMLP().eval()
    os.makedirs(OUT_DIR, exist_ok=True)
    dummy = torch.zeros(2, 1000, dtype=torch.float32)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            OUT_PATH,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
            export_params=True,
        )

    # Sanity check: reference output on a fixed input (printed for the README/tests).
    with torch.no_grad():
        x = torch.arange(3 * 1000, dtype=torch.float32).reshape(3, 1000) / 3000.0
        ref = model(x).squeeze(1).tolist()
    with open(OUT_PATH, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {OUT_PATH} ({os.path.getsize(OUT_PATH)} bytes, opset {OPSET}, sha256 {digest})")
    print(f"torch {torch.__version__}; reference output for arange(3000).reshape(3,1000)/3000: {ref}")


if __name__ == "__main__":
    main()
