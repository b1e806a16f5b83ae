#!/usr/bin/env bash
# The GPU checks of the CUDA backend, in one go on a machine with an NVIDIA GPU (an H100/H200):
#   build   configure and build with -DEDGEREC_CUDA=ON for $EDGEREC_CUDA_ARCH (default 90) into
#           $EDGEREC_GPU_BUILD (default build-gpu/; the CLI and the two conformance test binaries)
#   test    the conformance suite: test_cuda_conformance (every trainer and the exact entries),
#           test_nn_ops [conformance] (every seam operation, CPU reference vs OpenMP and CUDA),
#           the CLI's backend test; they must not say SKIPPED here (a device is expected)
#   bench   edgerec bench on CUDA (iALS on the synthetic 20M x 256-factor problem and on ML-1M,
#           BPR, SASRec on Beauty, peak device memory) and on the CPU at a smaller size
#   ncf     the NCF protocol on ML-1M for iALS and NeuMF trained on the CPU and on CUDA: hr@10
#           must agree within 0.005
# $OUT (default ./gpu-out) gets four files: summary.txt (what passed, the figures against the
# issue's bars), bench-cuda.json, bench-cpu.json and gpu-check-logs.tar.gz (every log and JSON);
# the exit status is non-zero when anything failed. Planned for ~10 minutes on an H200 with 16
# cores; the stages can also run in separate calls on one machine (build folder kept).
# Usage: tools/gpu-check.sh [STAGE...]   (default: build test bench ncf)
# Data: $EDGEREC_DATA (default .gpu-deps/data when present, else ../shared/data). A machine
# without the header-only dependencies (Eigen, cereal, CLI11, nlohmann_json, Catch2) gets them
# from .gpu-deps/root (made by tools/gpu-bundle.sh), copied into / where missing.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-./gpu-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Logs are written to a folder of their own and packed into $OUT at exit (a lent machine returns
# at most 8 files from $OUT).
final_out=$OUT
OUT=$(mktemp -d)
pack() {
  for f in summary.txt bench-cuda.json bench-cpu.json; do [ -f "$OUT/$f" ] && cp "$OUT/$f" "$final_out/"; done
  tar czf "$final_out/gpu-check-logs.tar.gz" -C "$OUT" .
  rm -rf "$OUT"
}
trap pack EXIT
arch=${EDGEREC_CUDA_ARCH:-90}
if [ -z "${EDGEREC_DATA:-}" ]; then
  if [ -d .gpu-deps/data ]; then EDGEREC_DATA=$PWD/.gpu-deps/data; else EDGEREC_DATA=$PWD/../shared/data; fi
fi
export EDGEREC_DATA
stages=${*:-build test bench ncf}
dir=${EDGEREC_GPU_BUILD:-build-gpu}
bin=$dir/bin
status=0
note() { echo "$*" | tee -a "$OUT/summary.txt"; }
pass() { note "PASS $*"; }
failed() { note "FAIL $*"; status=1; }
has() { case " $stages " in *" $1 "*) return 0 ;; esac; return 1; }
py() { if [ -x /usr/bin/python3 ]; then /usr/bin/python3 "$@"; else python3 "$@"; fi; }

note "gpu-check $(date -u +%FT%TZ) stages: $stages arch: sm_$arch data: $EDGEREC_DATA"
(nvidia-smi || true) >"$OUT/nvidia-smi.txt" 2>&1

if has build; then
  if [ -d .gpu-deps/root ]; then
    # Header-only dependencies, where the machine lacks them (never overwriting its own).
    cp -an .gpu-deps/root/. / 2>/dev/null || true
  fi
  t0=$(date +%s)
  if cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DEDGEREC_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
       -DEDGEREC_BENCH=OFF >"$OUT/configure.log" 2>&1 &&
     cmake --build "$dir" -j"$(nproc)" --target edgerec test_cuda_conformance test_nn_ops >"$OUT/build.log" 2>&1; then
    pass "build ($(($(date +%s) - t0)) s)"
    grep -i "warning" "$OUT/build.log" >"$OUT/build-warnings.txt" && failed "build has warnings (build-warnings.txt)"
  else
    failed "build (configure.log, build.log)"
    exit 1
  fi
fi

if has test; then
  for t in "test_cuda_conformance" "test_nn_ops [conformance]"; do
    name=${t%% *}
    spec=${t#"$name"}
    # shellcheck disable=SC2086
    if "$bin/$name" $spec --durations yes >"$OUT/$name.log" 2>&1; then pass "$t"; else failed "$t ($name.log)"; fi
    grep -q "SKIPPED:\|not compared" "$OUT/$name.log" && failed "$t skipped the CUDA comparison ($name.log)"
  done
  if bash tests/cli/test_cli_backend.sh "$PWD/$bin/edgerec" /tmp/edgerec-cli-backend >"$OUT/cli_backend.log" 2>&1; then
    pass "cli backend test"
  else
    failed "cli backend test (cli_backend.log)"
  fi
fi

ml1m=$EDGEREC_DATA/ml-1m/ncf
if has bench; then
  if timeout 360 "$bin/edgerec" bench --backend cuda --ml1m "$ml1m/ml-1m.train.pairs.tsv" \
       --beauty "$EDGEREC_DATA/amazon-beauty-s3rec/Beauty.txt" >"$OUT/bench-cuda.json" 2>"$OUT/bench-cuda.err"; then
    pass "bench cuda (bench-cuda.json)"
  else
    failed "bench cuda (bench-cuda.err)"
  fi
  # The CPU at a size it finishes quickly (the same code path; figures for comparison).
  if timeout 240 "$bin/edgerec" bench --backend openmp --users 20000 --items 5000 --interactions 1000000 --epochs 2 \
       --ml1m "$ml1m/ml-1m.train.pairs.tsv" --beauty "$EDGEREC_DATA/amazon-beauty-s3rec/Beauty.txt" --sasrec-epochs 1 \
       >"$OUT/bench-cpu.json" 2>"$OUT/bench-cpu.err"; then
    pass "bench cpu (bench-cpu.json)"
  else
    failed "bench cpu (bench-cpu.err)"
  fi
fi

if has ncf; then
  for model in ials neumf; do
    for b in cuda openmp; do
      if timeout 300 "$bin/edgerec" eval --protocol ncf --data "$ml1m/ml-1m.train.pairs.tsv" \
           --test-rating "$ml1m/ml-1m.test.rating" --test-negative "$ml1m/ml-1m.test.negative" \
           --model $model --backend $b --quiet --json >"$OUT/ncf-$model-$b.json" 2>"$OUT/ncf-$model-$b.err"; then
        pass "ncf $model on $b"
      else
        failed "ncf $model on $b (ncf-$model-$b.err)"
      fi
    done
    if [ -s "$OUT/ncf-$model-cuda.json" ] && [ -s "$OUT/ncf-$model-openmp.json" ]; then
      if py - "$OUT/ncf-$model-cuda.json" "$OUT/ncf-$model-openmp.json" <<'PY' | tee -a "$OUT/summary.txt"; then
import json, sys
g, c = (json.load(open(p)) for p in sys.argv[1:3])
d = abs(g["metrics"]["hr@10"] - c["metrics"]["hr@10"])
print(f'{g["model"]}: hr@10 cuda {g["metrics"]["hr@10"]:.4f} cpu {c["metrics"]["hr@10"]:.4f} (|diff| {d:.4f}, bar 0.005); '
      f'fit {g["fit_seconds"]:.2f} s on cuda, {c["fit_seconds"]:.2f} s on cpu')
sys.exit(0 if d <= 0.005 else 1)
PY
        pass "ncf $model hr@10 within 0.005"
      else
        failed "ncf $model hr@10 differs by more than 0.005"
      fi
    fi
  done
fi

# The headline figures against the issue's bars.
if [ -s "$OUT/bench-cuda.json" ]; then
  py - "$OUT/bench-cuda.json" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
j = json.load(open(sys.argv[1]))
def fig(key, field):
    return j.get(key, {}).get(field)
ials = fig("ials_synthetic", "seconds_per_iteration")
sas = fig("sasrec_beauty", "seconds_per_epoch")
print(f'device {j.get("device", {}).get("name")}, peak device memory {j.get("device", {}).get("peak_memory_bytes")} B')
print(f'iALS synthetic {fig("ials_synthetic", "interactions")} interactions x 256 factors: {ials} s/iteration (bar 0.10)')
print(f'iALS ML-1M: {fig("ials_ml1m", "seconds_per_iteration")} s/iteration; BPR synthetic: {fig("bpr_synthetic", "seconds_per_iteration")} s/epoch, ML-1M: {fig("bpr_ml1m", "seconds_per_iteration")} s/epoch')
print(f'SASRec Beauty: {sas} s/epoch incl. validation (bar 0.5)')
PY
fi
note "gpu-check done: $([ $status -eq 0 ] && echo all passed || echo FAILURES)"
exit $status
