#!/usr/bin/env bash
# The two-tower kind and item cold-start evaluation from the command line, on a small synthetic
# catalogue whose genres carry the users' tastes: train --item-meta gives cold items (metadata,
# no interactions) item-tower vectors that recommend --cold and similar use; the same seed gives
# the same bytes; eval --cold-items ranks held-out items far above chance with two-tower and at
# exactly 0.5 AUC with an id-only kind; bad flags give one clear error line.
source "$(dirname "$0")/lib.sh"

"$BIN" generate --out syn --users 300 --items 200 --interactions 9000 --seed 13 --implicit --json >/dev/null
cp syn/items.csv items.csv
printf 'cold-a,Brand New Action,Action|Comedy\ncold-b,Brand New Drama,Drama\n' >> items.csv
TT=(--model two-tower --factors 16 --epochs 5 --batch 256 --train-negatives 128 --lr 0.005 --seed 3 --quiet)

expect_ok "train two-tower" "$BIN" train --data syn/ratings.csv "${TT[@]}" --item-meta items.csv --out a.edgerec --reproducible --json
[ "$(json_get out.txt 'j["model"] == "two-tower" and j["item_meta"]["cold"] == 2 and j["epochs_run"] >= 1')" = True ] \
  || fail "train report: $(cat out.txt)"
expect_ok "train again" "$BIN" train --data syn/ratings.csv "${TT[@]}" --item-meta items.csv --out b.edgerec --reproducible
cmp -s a.edgerec b.edgerec || fail "same seed, different bytes"
expect_ok "info" "$BIN" info --model a.edgerec --json
[ "$(json_get out.txt 'j["model"] == "two-tower" and j["item_tower"] is True and j["user_features"] == {}')" = True ] || fail "info: $(head -c 300 out.txt)"

# Cold items ranked by the tower: recommend --cold lists them with finite scores when they rank.
expect_ok "recommend --cold" "$BIN" recommend --model a.edgerec --user 1 --cold -k 202 --json
/usr/bin/python3 - <<'PY' || fail "recommend --cold: cold items missing"
import json, math
j = json.load(open("out.txt"))
items = {x["item"]: x["score"] for x in j["items"]}
assert "cold-a" in items and "cold-b" in items, sorted(items)[:5]
assert all(math.isfinite(s) for s in items.values())
PY
expect_ok "similar cold item" "$BIN" similar --model a.edgerec --item cold-a -k 5 --json
[ "$(json_get out.txt 'j["by"] == "model"')" = True ] || fail "similar cold item: $(head -c 300 out.txt)"
cp out.txt cold_a.json
# An item given only its metadata: the item tower embeds it as it embedded cold-a (the same
# features), so the list is cold-a itself, then cold-a's own neighbours; --content: the cosine.
expect_ok "similar --features" "$BIN" similar --model a.edgerec --features "genres=Action|Comedy" -k 6 --json
[ "$(json_get out.txt 'j["by"] == "model" and [x["item"] for x in j["items"]] == ["cold-a"] + [x["item"] for x in json.load(open("cold_a.json"))["items"]]')" = True ] \
  || fail "similar --features by the item tower: $(head -c 500 out.txt)"
expect_ok "similar --features --content" "$BIN" similar --model a.edgerec --features "genres=Action|Comedy" -k 6 --content --json
[ "$(json_get out.txt 'j["by"] == "content"')" = True ] || fail "similar --features --content: $(head -c 300 out.txt)"
expect_ok "new user" "$BIN" recommend --model a.edgerec --items 1,2,3 -k 5 --json
[ "$(json_get out.txt 'len(j["items"]) == 5')" = True ] || fail "new user: $(head -c 300 out.txt)"

# The usual protocols train two-tower as `train` does: with --item-meta its item tower reads the
# genres, so the model (and its held-out scores) differ from the id-only one.
expect_ok "eval holdout with metadata" "$BIN" eval --data syn/ratings.csv "${TT[@]}" --item-meta items.csv --protocol holdout --json
with=$(json_get out.txt 'repr(j["metrics"]["ndcg@10"])')
expect_ok "eval holdout without metadata" "$BIN" eval --data syn/ratings.csv "${TT[@]}" --protocol holdout --json
without=$(json_get out.txt 'repr(j["metrics"]["ndcg@10"])')
[ "$with" != "$without" ] || fail "eval --item-meta did not reach two-tower's training (ndcg@10 $with both ways)"

# Item cold start: two-tower far above chance, ials exactly at it.
expect_ok "eval --cold-items two-tower" "$BIN" eval --data syn/ratings.csv "${TT[@]}" --item-meta items.csv --cold-items 0.2 --json
[ "$(json_get out.txt 'j["protocol"] == "cold-items" and j["metrics"]["cold_auc"] > 0.65 and j["metrics"]["cold_items"] == 40')" = True ] \
  || fail "two-tower cold: $(head -c 400 out.txt)"
expect_ok "eval --cold-items ials" "$BIN" eval --data syn/ratings.csv --model ials --factors 8 --epochs 4 --item-meta items.csv --cold-items 0.2 --json --quiet
[ "$(json_get out.txt 'j["metrics"]["cold_auc"] == 0.5 and j["metrics"]["cold_items_scored"] == 0')" = True ] \
  || fail "ials cold: $(head -c 400 out.txt)"
expect_ok "eval --cold-validation" "$BIN" eval --data syn/ratings.csv --model ials --factors 8 --epochs 2 --cold-items 0.2 --cold-validation --json --quiet
[ "$(json_get out.txt '"val_cold_auc" in j["metrics"] and "cold_auc" not in j["metrics"]')" = True ] \
  || fail "cold validation keys: $(head -c 400 out.txt)"

expect_err "fraction 0" "cold-items.*strictly between 0 and 1" "$BIN" eval --data syn/ratings.csv --model ials --cold-items 0
expect_err "fraction 1.5" "cold-items.*strictly between 0 and 1" "$BIN" eval --data syn/ratings.csv --model ials --cold-items 1.5
expect_err "validation alone" "cold-validation needs --cold-items" "$BIN" eval --data syn/ratings.csv --model ials --cold-validation
expect_err "cold with --test" "cold-items makes its own test part" "$BIN" eval --data syn/ratings.csv --model ials --cold-items 0.2 --test syn/ratings.csv
expect_err "cold with --protocol" "cold-items makes its own test part" "$BIN" eval --data syn/ratings.csv --model ials --cold-items 0.2 --protocol loo
expect_err "bad dropout" "dropout must be in" "$BIN" train --data syn/ratings.csv --model two-tower --dropout 1 --out x.edgerec --quiet
expect_err "bad layers" "two-tower: --layers must be in 1..4" "$BIN" train --data syn/ratings.csv --model two-tower --layers 9 --out x.edgerec --quiet
finish
