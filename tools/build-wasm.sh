#!/usr/bin/env bash
# Builds the core for WebAssembly (Debian's Emscripten 3.1.6) into build-wasm/.
# Works around the toolchain facts in ../shared/TOOLCHAIN.md: NODE_PATH for acorn, cereal given
# its own include dir (never -I/usr/include), Eigen3_DIR named explicitly.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-wasm}
export NODE_PATH=/usr/share/nodejs
mkdir -p "$dir/inc"
ln -sfn /usr/include/cereal "$dir/inc/cereal"
emcmake cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release \
  -DEigen3_DIR=/usr/share/eigen3/cmake -DEDGEREC_CEREAL_INCLUDE="$PWD/$dir/inc" >/dev/null
cmake --build "$dir" -j"$(nproc)"
