#!/usr/bin/env bash
# eval --new-users: the new-user cold-start protocol on a generated catalogue: the JSON shape
# (every method's hr/ndcg/recall, the protocol's counts), determinism for a seed, other users for
# another seed, a model without factors (popularity and fold-in only) and the usage errors.
source "$(dirname "$0")/lib.sh"

"$BIN" generate --out syn --users 300 --items 150 --interactions 9000 --seed 5 --implicit --json >/dev/null
common=(--data syn/ratings.csv --model ials --factors 8 --epochs 4 --seed 3 --new-users 0.2 --new-user-steps 5 --json --quiet)

expect_ok "new users ials" "$BIN" eval "${common[@]}"
/usr/bin/python3 - <<'PY' || fail "new users shape: $(head -c 600 out.txt)"
import json
j = json.load(open("out.txt")); m = j["metrics"]; n = j["new_users"]
for method in ["popularity", "foldin", "explore", "exploit", "greedy"]:
    for metric in ["hr@10", "ndcg@10", "recall@10"]:
        v = m[method + "_" + metric]
        assert 0 <= v <= 1, (method, metric, v)
for method in ["explore", "exploit", "greedy"]:
    assert 0 <= m[method + "_accepted"] <= 5
assert j["protocol"] == "new-users" and n["explored"] and n["policy"] == "linucb-hybrid"
assert n["held_out_users"] == round(0.2 * n["eligible_users"]) and 0 < n["counted_users"] <= n["held_out_users"]
assert n["reveal"] == 5 and n["steps"] == 5 and n["seed"] == 3
PY
cp out.txt first.json
expect_ok "new users again" "$BIN" eval "${common[@]}"
[ "$(json_get out.txt 'j["metrics"] == json.load(open("first.json"))["metrics"]')" = True ] || fail "not deterministic"
expect_ok "new users split seed" "$BIN" eval "${common[@]}" --split-seed 9
[ "$(json_get out.txt 'j["metrics"] != json.load(open("first.json"))["metrics"] and j["new_users"]["seed"] == 9')" = True ] \
  || fail "--split-seed draws the same users"
expect_ok "new users thompson" "$BIN" eval "${common[@]}" --new-user-policy thompson
[ "$(json_get out.txt 'j["new_users"]["policy"] == "thompson" and j["metrics"]["foldin_hr@10"] == json.load(open("first.json"))["metrics"]["foldin_hr@10"]')" = True ] \
  || fail "the policy changed fold-in: $(head -c 300 out.txt)"

# --new-user-folds: consecutive draws of the same shuffle; fold 0 is the one-draw run, and the
# pooled metrics are the folds' counted-user-weighted means.
expect_ok "new users folds" "$BIN" eval "${common[@]}" --new-user-folds 5
/usr/bin/python3 - <<'PY' || fail "folds: $(head -c 600 out.txt)"
import json
j = json.load(open("out.txt")); n = j["new_users"]; f = n["fold_results"]
first = json.load(open("first.json"))
assert n["folds"] == 5 and len(f) == 5
assert f[0]["metrics"] == first["metrics"], "fold 0 differs from the one-draw run"
assert n["held_out_users"] == n["eligible_users"], n  # 0.2 x 5: everyone once
assert sum(x["counted_users"] for x in f) == n["counted_users"]
for k, v in j["metrics"].items():
    pooled = sum(x["counted_users"] * x["metrics"][k] for x in f) / n["counted_users"]
    assert abs(pooled - v) < 1e-9, (k, v, pooled)
PY
expect_err "too many folds" "would be empty" "$BIN" eval "${common[@]}" --new-user-folds 6
expect_err "folds without new users" "belongs to --new-users" "$BIN" eval --data syn/ratings.csv --model ials --new-user-folds 3

expect_ok "new users popularity model" "$BIN" eval --data syn/ratings.csv --model popularity --new-users 0.2 --json --quiet
[ "$(json_get out.txt '"popularity_hr@10" in j["metrics"] and "explore_hr@10" not in j["metrics"] and not j["new_users"]["explored"]')" = True ] \
  || fail "popularity model: $(head -c 300 out.txt)"
expect_ok "new users text" "$BIN" eval --data syn/ratings.csv --model ials --factors 8 --epochs 4 --seed 3 --new-users 0.2 --new-user-steps 5 --quiet
grep -q "explore_hr@10" out.txt || fail "text output: $(head -c 300 out.txt)"

expect_err "fraction 0" "strictly between 0 and 1" "$BIN" eval --data syn/ratings.csv --model ials --new-users 0
expect_err "with a protocol" "its own protocol" "$BIN" eval --data syn/ratings.csv --model ials --new-users 0.2 --protocol loo
expect_err "with rerank" "does not apply" "$BIN" eval --data syn/ratings.csv --model ials --new-users 0.2 --rerank mmr
expect_err "with item metadata" "item-meta does not apply" "$BIN" eval --data syn/ratings.csv --model ials --new-users 0.2 --item-meta syn/items.csv
expect_err "with cold items" "two protocols" "$BIN" eval --data syn/ratings.csv --model ials --new-users 0.2 --cold-items 0.2
expect_err "steps without new users" "belongs to --new-users" "$BIN" eval --data syn/ratings.csv --model ials --new-user-steps 3
expect_err "unknown policy" "policy" "$BIN" eval --data syn/ratings.csv --model ials --new-users 0.2 --new-user-policy best
expect_err "reveal too large" "no user" "$BIN" eval --data syn/ratings.csv --model ials --new-users 0.2 --new-user-reveal 5000
finish
