#!/usr/bin/env bash
# --backend: which backend ran is reported (train/eval/tune --json, info's "backends"), unknown
# names are usage errors, and asking for cuda where this build or machine has none is a one-line
# error naming why. Where a device is present the same commands run on it.
source "$(dirname "$0")/lib.sh"

expect_ok "generate" "$BIN" generate --out syn --users 200 --items 120 --interactions 4000 --seed 1 --json
for b in cpu openmp; do
  expect_ok "train --backend $b" "$BIN" train --data syn/ratings.csv --model ials --epochs 2 --backend $b --out m-$b.edgerec --json
  [ "$(json_get out.txt 'j["backend"]')" = "$b" ] && ok || fail "train --backend $b reports $(cat out.txt)"
done
expect_ok "eval --backend cpu" "$BIN" eval --data syn/ratings.csv --model bpr --epochs 2 --protocol loo --backend cpu --json
[ "$(json_get out.txt 'j["backend"]')" = cpu ] && ok || fail "eval does not report its backend"

expect_ok "info" "$BIN" info --model m-cpu.edgerec --json
built=$(json_get out.txt 'j["backends"]["cuda_built"]')
available=$(json_get out.txt 'j["backends"]["cuda_available"]')
default=$(json_get out.txt 'j["backends"]["default"]')
if [ "$available" = True ]; then
  [ "$default" = cuda ] && ok || fail "info: a device is present but the default is $default"
  expect_ok "train --backend cuda" "$BIN" train --data syn/ratings.csv --model ials --epochs 2 --backend cuda --out m-cuda.edgerec --json
  [ "$(json_get out.txt 'j["backend"]')" = cuda ] && ok || fail "train --backend cuda reports $(cat out.txt)"
  [ "$(json_get out.txt 'j["device"]["peak_memory_bytes"] > 0')" = True ] && ok || fail "no peak device memory reported"
  expect_ok "train (auto)" "$BIN" train --data syn/ratings.csv --model ials --epochs 2 --out m-auto.edgerec --json
  [ "$(json_get out.txt 'j["backend"]')" = cuda ] && ok || fail "auto did not pick cuda"
else
  [ "$default" = openmp ] && ok || fail "info: no device but the default is $default"
  reason=$(json_get out.txt 'j["backends"]["cuda_reason"]')
  [ -n "$reason" ] && ok || fail "info gives no reason for the missing CUDA backend"
  if [ "$built" = True ]; then
    echo "$reason" | grep -qi "device\|driver" && ok || fail "CUDA build without a device: reason '$reason'"
  else
    echo "$reason" | grep -q "built without CUDA" && ok || fail "build without CUDA: reason '$reason'"
  fi
  expect_err "train --backend cuda without one" "^edgerec: error: --backend cuda: " \
    "$BIN" train --data syn/ratings.csv --model ials --epochs 2 --backend cuda --out m-cuda.edgerec
  [ "$(wc -l <err.txt)" -eq 1 ] && ok || fail "the error is not one line: $(cat err.txt)"
  [ ! -e m-cuda.edgerec ] && ok || fail "a model file was written"
  expect_ok "train (auto) falls back" "$BIN" train --data syn/ratings.csv --model ials --epochs 2 --out m-auto.edgerec --json
  [ "$(json_get out.txt 'j["backend"]')" = openmp ] && ok || fail "auto did not fall back to openmp"
fi
# bench: one JSON object with every figure (the data files stand in for ML-1M and Beauty here).
expect_ok "bench on cpu" "$BIN" bench --backend cpu --users 150 --items 100 --interactions 3000 --factors 16 --epochs 3 \
  --bpr-factors 8 --ml1m syn/ratings.csv --beauty syn/ratings.csv --sasrec-epochs 2
[ "$(json_get out.txt 'j["backend"]')" = cpu ] && ok || fail "bench does not report its backend"
for k in ials_synthetic bpr_synthetic ials_ml1m bpr_ml1m; do
  [ "$(json_get out.txt "len(j['$k']['iteration_seconds']) == 3 and j['$k']['seconds_per_iteration'] > 0")" = True ] && ok ||
    fail "bench: $k has no per-iteration figures: $(head -c 300 out.txt)"
done
[ "$(json_get out.txt "j['ials_synthetic']['hyper']['factors'] == 16 and j['ials_synthetic']['users'] <= 150")" = True ] && ok ||
  fail "bench: synthetic problem not as asked"
[ "$(json_get out.txt "len(j['sasrec_beauty']['epoch_seconds']) == 2 and j['sasrec_beauty']['seconds_per_epoch'] > 0")" = True ] && ok ||
  fail "bench: no SASRec epoch figures"
expect_err "bench with a missing file" "edgerec: error: .*nope.csv" "$BIN" bench --backend cpu --no-synthetic --ml1m nope.csv
expect_err "unknown backend" "backend" "$BIN" train --data syn/ratings.csv --backend tpu --out x.edgerec
code=0; "$BIN" train --data syn/ratings.csv --backend tpu --out x.edgerec >/dev/null 2>&1 || code=$?
[ "$code" -eq 2 ] && ok || fail "unknown backend exits $code, not 2 (usage error)"
finish
