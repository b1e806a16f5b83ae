#!/usr/bin/env bash
# The README's second command: install what is missing, build, run every test — the normal
# build and then the AddressSanitizer + UBSan build. Real-data tests skip (with a message)
# when ../shared/data is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
jobs=$(nproc)

echo "== build (Release)"
tools/build.sh build
echo "== tests (Release)"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build (AddressSanitizer + UBSan)"
tools/build.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGEREC_SANITIZE=ON -DEDGEREC_BENCH=OFF
echo "== tests (AddressSanitizer + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  EDGEREC_SANITIZED=1 ctest --test-dir build-asan --output-on-failure -j"$jobs"
