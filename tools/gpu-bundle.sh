#!/usr/bin/env bash
# Prepares .gpu-deps/ (ignored by git) for tools/gpu-check.sh on a machine that has CUDA, CMake
# and a C++ compiler but not this project's header-only dependencies or its data (such as a lent
# GPU machine that cannot download): the Debian headers and CMake package files of Eigen 3.4,
# cereal, CLI11, nlohmann_json and Catch2 at their absolute paths under .gpu-deps/root/, and the
# ML-1M NCF files and Amazon Beauty under .gpu-deps/data/. About 20 MiB; carry .gpu-deps there.
# Usage: tools/gpu-bundle.sh [DATA_DIR]   (default: $EDGEREC_DATA, else ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-${EDGEREC_DATA:-../shared/data}}
rm -rf .gpu-deps
mkdir -p .gpu-deps/root .gpu-deps/data
for p in /usr/include/eigen3 /usr/share/eigen3/cmake /usr/include/cereal /usr/lib/x86_64-linux-gnu/cmake/cereal \
         /usr/include/CLI /usr/share/cmake/CLI11 /usr/include/nlohmann /usr/share/cmake/nlohmann_json \
         /usr/include/catch2 /usr/lib/cmake/Catch2; do
  [ -e "$p" ] || { echo "gpu-bundle: $p is missing (run tools/install-deps.sh)" >&2; exit 1; }
  mkdir -p ".gpu-deps/root$(dirname "$p")"
  cp -a "$p" ".gpu-deps/root$(dirname "$p")/"
done
mkdir -p .gpu-deps/data/ml-1m/ncf .gpu-deps/data/amazon-beauty-s3rec
cp "$data"/ml-1m/ncf/ml-1m.train.pairs.tsv "$data"/ml-1m/ncf/ml-1m.test.rating "$data"/ml-1m/ncf/ml-1m.test.negative \
   .gpu-deps/data/ml-1m/ncf/
cp "$data"/amazon-beauty-s3rec/Beauty.txt .gpu-deps/data/amazon-beauty-s3rec/
du -sh .gpu-deps
