#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang++, AddressSanitizer and UBSan
# (float-cast-overflow included), into BUILD_DIR, and runs each for SECONDS from its seed corpus
# in tests/fuzz/corpus/. A crash, leak, timeout (10 s for one input) or out-of-memory (2 GiB)
# fails the run; the input is saved as BUILD_DIR/fuzz-artifacts/<target>-crash-* and the log
# is printed. New inputs go to a scratch corpus under BUILD_DIR, never to the seeds.
# Usage: tools/fuzz.sh [BUILD_DIR [SECONDS [TARGET...]]]   (defaults: build-fuzz, 25, all five)
# Reproduce a finding: BUILD_DIR/bin/<target> BUILD_DIR/fuzz-artifacts/<target>-crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
secs=${2:-25}
shift $(( $# < 2 ? $# : 2 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_model_reader fuzz_model_payload fuzz_data_loader fuzz_ncf_test fuzz_cli_lists)

# No OpenMP (libFuzzer runs one input at a time), asserts on (Eigen checks bounds), -O1 as
# OSS-Fuzz builds: quick to compile, and sanitiser reports keep their lines.
cmake -S . -B "$dir" -DCMAKE_CXX_COMPILER="${CXX_FUZZ:-clang++}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DEDGEREC_FUZZ=ON -DEDGEREC_SANITIZE=ON \
  -DEDGEREC_OPENMP=OFF -DEDGEREC_TESTS=OFF -DEDGEREC_BENCH=OFF >/dev/null
cmake --build "$dir" --target "${targets[@]}" -j"$(nproc)"

mkdir -p "$dir/fuzz-artifacts" "$dir/fuzz-logs"
failed=()
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  seeds=tests/fuzz/corpus/$name
  [ "$name" = model_payload ] && seeds=tests/fuzz/corpus/model_reader  # same files, header fixed up
  [ -d "$seeds" ] || { echo "no seed corpus $seeds for $t" >&2; exit 1; }
  scratch=$dir/fuzz-corpus/$name
  rm -rf "$scratch" && mkdir -p "$scratch"
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  log=$dir/fuzz-logs/$t.log
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 \
     "$dir/bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       "${dict[@]}" -artifact_prefix="$dir/fuzz-artifacts/$t-" "$scratch" "$seeds" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    # libFuzzer's last status line: "#N DONE cov: C ft: F corp: files/bytes ... rss: M".
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 | tr -s ' \t' ' ' || true)
    echo "$t: ok, ${secs} s, ${execs:-?} inputs run (${done_line:-no DONE line}); new inputs kept: $(ls "$scratch" | wc -l), seeds: $(ls "$seeds" | wc -l)"
  else
    echo "$t: FAILED (log: $log)" >&2
    tail -40 "$log" >&2
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz targets failed: ${failed[*]}" >&2; exit 1; }
