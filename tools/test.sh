#!/usr/bin/env bash
# The README's second command: install what is missing, build, run every test:
#   1. native Release build: Catch2 unit tests and CLI tests (ctest); where nvcc exists, the CUDA
#      backend is compiled too and its tests run (they skip without a GPU)
#   2. WebAssembly build: the wasm core's own tests (Catch2 compiled to wasm, run by Node), the
#      npm package's tests in Node (node --test), incl. the golden cross-target test against
#      the native CLI
#   3. the browser tests: headless Chromium driven by playwright-core (the package, apps built
#      by Vite, webpack and esbuild from the packed tarball, demo, webview page)
#   4. the AddressSanitizer + UBSan build (float-cast-overflow included): the ctest suite again
#   5. the libFuzzer targets (clang++, ASan + UBSan): each run for EDGEREC_FUZZ_SECONDS (15) from
#      its seed corpus (tools/fuzz.sh, tests/fuzz/README.md)
# Real-data tests (ctest label realdata) read $EDGEREC_DATA (default ../shared/data): they skip
# with a message when it is absent, but fail under CI=true. The sanitiser run skips the accuracy
# bars on purpose (EDGEREC_SANITIZED, for speed); the Release run checks them.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --web
jobs=$(nproc)
# Each stage's heading carries the minutes:seconds since the start, so a slow stage shows in CI's log.
stage() { printf '== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

stage "npm dependencies (the CLI's ONNX test runs onnxruntime-node)"
ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix web --no-audit --no-fund --loglevel=error

stage "native build (Release)"
tools/build.sh build
stage "native tests"
ctest --test-dir build --output-on-failure -j"$jobs"

# Where the CUDA toolkit is installed, the CUDA backend is compiled too (compile only: a GPU is
# not expected; its conformance tests say SKIPPED without a device, and the CLI's backend test
# checks the error a CUDA build gives without one). In the same build folder, so the core is not
# compiled twice (the CUDA option changes no C++ flag), for one architecture (sm_90) to keep it
# short, and switched off again afterwards so the rest of this script uses the default CLI.
# tools/gpu-check.sh builds and runs it on a GPU.
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc" ]; then
  stage "CUDA backend (compile; nvcc at $nvcc)"
  cmake -S . -B build -DEDGEREC_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DCMAKE_CUDA_ARCHITECTURES="${EDGEREC_CUDA_ARCHITECTURES:-90}" >/dev/null
  cmake --build build -j"$jobs" --target edgerec test_cuda_conformance
  build/bin/test_cuda_conformance
  bash tests/cli/test_cli_backend.sh "$PWD/build/bin/edgerec" "$PWD/build/test-tmp/cli-backend-cuda"
  cmake -S . -B build -DEDGEREC_CUDA=OFF >/dev/null
  cmake --build build -j"$jobs" --target edgerec test_cuda_conformance
fi

stage "wasm build"
tools/build-wasm.sh
stage "wasm core tests (Node): kernels and tensor operations against their references"
# emcc's JS optimiser needs acorn from Debian's node modules (TOOLCHAIN.md; tools/build-wasm.sh
# sets the same for the package targets).
NODE_PATH=/usr/share/nodejs cmake --build build-wasm -j"$jobs" --target edgerec_wasm_tests
node build-wasm/bin/edgerec_wasm_tests.js
stage "JavaScript package tests (Node)"
EDGEREC="$PWD/build/bin/edgerec" npm test --prefix web
stage "browser tests (Chromium)"
EDGEREC="$PWD/build/bin/edgerec" npm run test:browser --prefix web

stage "native build (AddressSanitizer + UBSan)"
# -O1 -g1 with asserts on (Eigen checks bounds): quick to compile, fast enough to run.
tools/build.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DEDGEREC_SANITIZE=ON -DEDGEREC_BENCH=OFF
stage "native tests (AddressSanitizer + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  EDGEREC_SANITIZED=1 ctest --test-dir build-asan --output-on-failure -j"$jobs"

stage "fuzz smoke (clang++ libFuzzer, ASan + UBSan): each target ${EDGEREC_FUZZ_SECONDS:-15} s"
tools/fuzz.sh build-fuzz "${EDGEREC_FUZZ_SECONDS:-15}"
stage "all tests passed"
