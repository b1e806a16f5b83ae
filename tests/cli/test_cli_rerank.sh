#!/usr/bin/env bash
# eval's beyond-accuracy metrics (ild@K, novelty@K, calibration_kl@K beside coverage@K and
# gini@K) and --rerank mmr|calibrated on a generated catalogue with genres: the re-ranked
# metrics appear under rerank_*, MMR raises intra-list diversity, calibrated re-ranking lowers
# calibration KL, and a re-ranker without what it needs is a one-line error.
source "$(dirname "$0")/lib.sh"

"$BIN" generate --out syn --users 300 --items 150 --interactions 9000 --seed 5 --implicit --json >/dev/null

common=(--data syn/ratings.csv --model bpr --factors 16 --epochs 10 --seed 2 --protocol holdout --json --quiet)
expect_ok "eval plain" "$BIN" eval "${common[@]}" --item-meta syn/items.csv
[ "$(json_get out.txt 'all(k in j["metrics"] for k in ["ild@10","novelty@10","calibration_kl@10","coverage@10","gini@10"]) and not any(k.startswith("rerank_") for k in j["metrics"])')" = True ] \
  || fail "plain keys: $(cat out.txt)"
cp out.txt plain.json

expect_ok "eval mmr" "$BIN" eval "${common[@]}" --item-meta syn/items.csv --rerank mmr --rerank-lambda 0.3
/usr/bin/python3 - <<'PY' || fail "mmr: $(cat out.txt)"
import json
j = json.load(open("out.txt")); p = json.load(open("plain.json"))
m = j["metrics"]
for k in ["hr@10", "ndcg@10", "recall@10", "precision@10", "map@10", "coverage@10", "gini@10",
          "ild@10", "novelty@10", "calibration_kl@10"]:
    assert "rerank_" + k in m, k
# The model's own metrics are unchanged by re-ranking; MMR raises diversity.
assert abs(m["ndcg@10"] - p["metrics"]["ndcg@10"]) < 1e-12
assert m["rerank_ild@10"] > m["ild@10"] + 0.01, (m["rerank_ild@10"], m["ild@10"])
assert j["rerank"] == {"kind": "mmr", "lambda": 0.3, "pool_factor": 10}, j["rerank"]
PY

expect_ok "eval calibrated" "$BIN" eval "${common[@]}" --item-meta syn/items.csv --rerank calibrated --rerank-lambda 0.9
[ "$(json_get out.txt 'j["metrics"]["rerank_calibration_kl@10"] < j["metrics"]["calibration_kl@10"]')" = True ] \
  || fail "calibrated does not lower KL: $(cat out.txt)"

# MMR with lambda 1 keeps the model's lists: same ndcg and diversity.
expect_ok "eval mmr lambda 1" "$BIN" eval "${common[@]}" --item-meta syn/items.csv --rerank mmr --rerank-lambda 1
[ "$(json_get out.txt 'abs(j["metrics"]["rerank_ild@10"] - j["metrics"]["ild@10"]) < 1e-9 and abs(j["metrics"]["rerank_hr@10"] - j["metrics"]["hr@10"]) < 1e-9')" = True ] \
  || fail "mmr lambda 1 changed the lists: $(cat out.txt)"

# Popularity re-ranking (long-tail boost) needs nothing but the training counts: it lowers the
# lists' popularity Gini and raises novelty; lambda 0 keeps the model's lists.
expect_ok "eval popularity" "$BIN" eval "${common[@]}" --rerank popularity --rerank-lambda 0.7
[ "$(json_get out.txt 'j["metrics"]["rerank_gini@10"] < j["metrics"]["gini@10"] and j["metrics"]["rerank_novelty@10"] > j["metrics"]["novelty@10"] and j["rerank"]["kind"] == "popularity"')" = True ] \
  || fail "popularity re-ranking does not reach the tail: $(cat out.txt)"
expect_ok "eval popularity lambda 0" "$BIN" eval "${common[@]}" --rerank popularity --rerank-lambda 0
[ "$(json_get out.txt 'abs(j["metrics"]["rerank_hr@10"] - j["metrics"]["hr@10"]) < 1e-9 and abs(j["metrics"]["rerank_gini@10"] - j["metrics"]["gini@10"]) < 1e-9')" = True ] \
  || fail "popularity lambda 0 changed the lists: $(cat out.txt)"

# --rerank-lambda auto: chosen on the validation part (the grid in --json), one choice per fold.
# Only lambda is chosen (the pool stays 10); with --rerank-pool auto the pool too (5 x 11 points).
expect_ok "eval mmr auto" "$BIN" eval "${common[@]}" --rerank mmr --rerank-lambda auto
[ "$(json_get out.txt 'len(j["rerank"]["auto"]["grid"]) == 11 and j["rerank"]["lambda"] in [g["lambda"] for g in j["rerank"]["auto"]["grid"] if g["eligible"]] and j["rerank"]["auto"]["max_ndcg_loss"] == 0.05 and j["rerank"]["pool_factor"] == 10')" = True ] \
  || fail "mmr auto: $(head -c 600 out.txt)"
expect_ok "eval mmr auto pool" "$BIN" eval "${common[@]}" --rerank mmr --rerank-lambda auto --rerank-pool auto
[ "$(json_get out.txt 'len(j["rerank"]["auto"]["grid"]) == 55 and [j["rerank"]["lambda"], j["rerank"]["pool_factor"]] in [[g["lambda"], g["pool_factor"]] for g in j["rerank"]["auto"]["grid"] if g["eligible"]] and sorted({g["pool_factor"] for g in j["rerank"]["auto"]["grid"]}) == [2, 3, 5, 10, 20]')" = True ] \
  || fail "mmr auto pool: $(head -c 600 out.txt)"
expect_err "pool auto without lambda auto" "needs --rerank-lambda auto" "$BIN" eval "${common[@]}" --rerank mmr --rerank-pool auto
expect_err "bad pool" "whole number in \[1, 1000\] or auto" "$BIN" eval "${common[@]}" --rerank mmr --rerank-pool 0
expect_ok "eval popularity auto kfold" "$BIN" eval --data syn/ratings.csv --model bpr --factors 16 --epochs 10 --seed 2 --protocol kfold --folds 3 --json --quiet --rerank popularity --rerank-lambda auto
[ "$(json_get out.txt 'len(j["rerank"]["lambda"]) == 3 and len(j["rerank"]["pool_factor"]) == 3')" = True ] || fail "kfold auto: $(head -c 400 out.txt)"
expect_err "auto without a re-ranker" "needs --rerank" "$BIN" eval "${common[@]}" --rerank-lambda auto
expect_err "bad lambda" "number in \[0, 1\] or auto" "$BIN" eval "${common[@]}" --rerank mmr --rerank-lambda 1.5

expect_err "calibrated without genres" "genres" "$BIN" eval "${common[@]}" --rerank calibrated
expect_err "re-ranking without ranking" "needs ranking metrics" "$BIN" eval "${common[@]}" --no-ranking --rerank mmr
expect_err "unknown re-ranker" "re-ranker" "$BIN" eval "${common[@]}" --rerank fair

# recommend --rerank: K items out of the model's top pool x K; mmr with lambda 1 is the plain list.
"$BIN" train --data syn/ratings.csv --model bpr --factors 16 --epochs 10 --seed 2 --item-meta syn/items.csv --out m.edgerec --quiet >/dev/null
"$BIN" train --data syn/ratings.csv --model itemknn --out knn.edgerec --quiet >/dev/null
items_of() { /usr/bin/python3 -c "import json; print(' '.join(x['item'] for x in json.load(open('out.txt'))['items']))"; }
expect_ok "recommend plain" "$BIN" recommend --model m.edgerec --user 1 -k 5 --json; plain=$(items_of)
expect_ok "recommend pool" "$BIN" recommend --model m.edgerec --user 1 -k 50 --json; pool=$(items_of)
expect_ok "recommend mmr 1" "$BIN" recommend --model m.edgerec --user 1 -k 5 --rerank mmr --rerank-lambda 1 --json
[ "$(items_of)" = "$plain" ] || fail "recommend mmr lambda 1: $(items_of) vs $plain"
expect_ok "recommend calibrated 0" "$BIN" recommend --model m.edgerec --user 1 -k 5 --rerank calibrated --rerank-lambda 0 --json
[ "$(items_of)" = "$plain" ] || fail "recommend calibrated lambda 0: $(items_of) vs $plain"
for rl in mmr:0.2 calibrated:0.2 popularity:0.8; do
  r=${rl%%:*} l=${rl#*:}
  expect_ok "recommend $r" "$BIN" recommend --model m.edgerec --user 1 -k 5 --rerank $r --rerank-lambda $l --rerank-pool 10 --json
  got=$(items_of)
  [ "$got" != "$plain" ] || fail "recommend $r lambda $l changed nothing"
  for i in $got; do case " $pool " in *" $i "*) ;; *) fail "recommend $r: $i is not in the top 50";; esac; done
  [ "$(echo $got | wc -w)" = 5 ] || fail "recommend $r: not 5 items: $got"
done
expect_err "recommend calibrated without metadata" "genres" "$BIN" recommend --model knn.edgerec --user 1 --rerank calibrated
finish
