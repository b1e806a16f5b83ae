#!/usr/bin/env bash
# The CMake package end to end: `cmake --install` the build into a temporary prefix, configure
# and build tests/package/ (a separate project: find_package(edgerec CONFIG REQUIRED), links
# edgerec::core) against that prefix alone, then check that it loads golden model files and
# reproduces their expected top-5 lists (models/golden/README.md: same items, scores within 1e-5,
# relative above 1).
# Usage: run.sh BUILD_DIR SOURCE_DIR WORK_DIR CXX_COMPILER [CXX_FLAGS [COMPILER_LAUNCHER]]
set -euo pipefail
build=$1 src=$2 work=$3 cxx=$4 cxxflags=${5:-} launcher=${6:-}
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in include/edgerec/edgerec.hpp include/edgerec/version.hpp; do
  [ -f "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
config=$(find "$prefix" -name edgerec-config.cmake)
[ -n "$config" ] || { echo "FAIL: no edgerec-config.cmake under $prefix"; exit 1; }
# A relocatable package: nothing in it may point back into the source or build tree.
if grep -rlF -e "$src" -e "$build" "$(dirname "$config")"; then
  echo "FAIL: the installed package files name the source or build tree"; exit 1
fi

# Only the prefix: no package registry, no hint at the build tree.
cmake -S "$src/tests/package" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$cxxflags" \
  ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF >"$work/configure.log"
cmake --build "$work/consumer" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }

status=0
for kind in ials svd bpr itemknn ials.int8; do
  model="$src/models/golden/v2/$kind.edgerec"
  "$work/consumer/golden_topk" "$model" >"$work/$kind.tsv"
  /usr/bin/python3 - "$work/$kind.tsv" "${model%.edgerec}.expected.tsv" "$kind" <<'PY' || status=1
import sys
def rows(path):
    return [l.rstrip("\n").split("\t") for l in open(path) if l.strip() and not l.startswith("#")]
got, want, kind = rows(sys.argv[1]), rows(sys.argv[2]), sys.argv[3]
bad = [f"{g} != {w}" for g, w in zip(got, want)
       if g[:3] != w[:3] or abs(float(g[3]) - float(w[3])) > 1e-5 * max(1.0, abs(float(w[3])))]
if len(got) != len(want) or bad:
    print(f"FAIL: {kind}: {len(got)} lines for {len(want)} expected; first differences: {bad[:3]}")
    sys.exit(1)
print(f"{kind}: {len(got)} top-5 lines reproduced")
PY
done
exit $status
