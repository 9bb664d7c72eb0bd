#!/bin/sh
# Compressed variants of models/digits, made by onnx-serve's own compress command and served
# through models/digits/config.json. Re-run after rebuilding the model (npm run build first).
# Each report (*.report.json) is what /v1/models and v2 metadata read for method and accuracy.
set -eu
cd "$(dirname "$0")/.."
D=models/digits
node dist/src/cli.js compress $D/model.onnx --out $D/model.int8.onnx --method int8-dynamic --eval $D/test-set.json --force --quiet
node dist/src/cli.js compress $D/model.onnx --out $D/model.pruned.onnx --method prune --sparsity 0.5 --eval $D/test-set.json --force --quiet
printf '{\n  "variants": { "int8": "model.int8.onnx", "pruned": "model.pruned.onnx" }\n}\n' > $D/config.json
