#!/usr/bin/env bash
# The neural kinds from the command line on a small implicit catalogue: train with per-epoch
# lines and --curve, eval (epochs_run / best_epoch in --json), recommend for known and new users,
# similar, explain (adds up to the served score), determinism with --reproducible.
source "$(dirname "$0")/lib.sh"

"$BIN" generate --out imp --users 200 --items 120 --interactions 6000 --seed 4 --implicit --json >/dev/null
B=(--data imp/ratings.csv --model neumf --factors 8 --layers 2 --batch 256 --lr 0.01 --patience 0 --seed 2 --pretrain 0)
T=("${B[@]}" --epochs 6 --refit 0)

expect_ok "train neumf" "$BIN" train "${T[@]}" --out neumf.edgerec --curve curve.jsonl --json
cp out.txt train.json
[ "$(json_get train.json 'j["model"]')" = neumf ] || fail "train json model"
[ "$(json_get train.json 'j["epochs_run"] == 6 and 1 <= j["best_epoch"] <= 6')" = True ] || fail "epochs_run/best_epoch: $(head -c 300 train.json)"
# One JSON line per epoch in the curve.
[ "$(wc -l < curve.jsonl)" = 6 ] || fail "curve lines"
/usr/bin/python3 - <<'PY' || fail "curve content"
import json
rows = [json.loads(l) for l in open("curve.jsonl")]
assert [r["epoch"] for r in rows] == list(range(1, 7))
assert all(r["metric"] == "val_full_ndcg@10" and r["value"] >= 0 and r["loss"] > 0 for r in rows)
assert rows[-1]["loss"] < rows[0]["loss"]
assert sum(r["best"] for r in rows) >= 1
PY

user=$(sed -n 2p imp/ratings.csv | cut -d, -f1)
expect_ok "recommend neumf" "$BIN" recommend --model neumf.edgerec --user "$user" -k 5 --json
cp out.txt rec.json
[ "$(json_get rec.json 'len(j["items"])')" = 5 ] || fail "recommend: not 5 items"
seen=$(awk -F, -v u="$user" 'NR>1 && $1==u {print $2}' imp/ratings.csv | sort -u)
for it in $(json_get rec.json '" ".join(x["item"] for x in j["items"])'); do
  echo "$seen" | grep -qx "$it" && fail "recommend returned seen item $it"
done
items=$(awk -F, -v u="$user" 'NR>1 && $1==u {printf "%s%s:%s", sep, $2, $3; sep=","}' imp/ratings.csv)
expect_ok "recommend --items" "$BIN" recommend --model neumf.edgerec --items "$items" -k 5 --json
[ "$(json_get out.txt 'len(j["items"])')" = 5 ] || fail "fold-in: not 5 items"
first=$(json_get rec.json 'j["items"][0]["item"]')
expect_ok "similar" "$BIN" similar --model neumf.edgerec --item "$first" -k 4 --json
[ "$(json_get out.txt 'len(j["items"]) == 4 and all(x["item"] != "'"$first"'" for x in j["items"])')" = True ] || fail "similar"
expect_ok "explain" "$BIN" explain --model neumf.edgerec --user "$user" --item "$first" --json
n=$(awk -F, -v u="$user" 'NR>1 && $1==u' imp/ratings.csv | wc -l)
/usr/bin/python3 - rec.json out.txt "$n" "$first" <<'PY' || fail "explain neumf"
import json, sys
rec, exp, n, item = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3]), sys.argv[4]
assert exp["score"] == [x["score"] for x in rec["items"] if x["item"] == item][0]
assert len(exp["weights"]) == n
total = sum(w["weight"] for w in exp["weights"]) + exp["others"] + exp["rest"]
assert abs(total - exp["score"]) <= 1e-5 * max(abs(exp["score"]), 1e-3)
assert exp["exact"] is False and exp["note"]
PY
expect_ok "info" "$BIN" info --model neumf.edgerec --json
[ "$(json_get out.txt 'j["model"]')" = neumf ] || fail "info"

# Same seed and threads, --reproducible: byte-identical files. One epoch line each on stderr.
"$BIN" train "${B[@]}" --epochs 2 --reproducible --out a.edgerec >/dev/null 2>a.err
[ "$(grep -c '^epoch ' a.err)" = 2 ] || fail "epoch lines: $(head -c 300 a.err)"
grep -q '^epoch 1/2  loss [0-9.]*  val_full_ndcg@10 [0-9.]* \*' a.err || fail "epoch line format: $(head -1 a.err)"
"$BIN" train "${B[@]}" --epochs 2 --reproducible --out b.edgerec --quiet >/dev/null
cmp -s a.edgerec b.edgerec || fail "neumf: same seed, different files"

expect_ok "eval neumf" "$BIN" eval --protocol loo "${T[@]}" --json
[ "$(json_get out.txt 'j["epochs_run"] == 6 and j["best_epoch"] >= 1 and j["metrics"]["full_hr@10"] > 0')" = True ] || fail "eval json: $(head -c 300 out.txt)"
# The paper's pre-training: GMF, then MLP, then the fused model from their average (epoch 0), each
# stage in the epoch lines and the curve (one run), validated among sampled negatives here; then
# the refit (the default): each stage again on all the data for the epochs validation kept.
"$BIN" train "${B[@]:0:${#B[@]}-2}" --pretrain 2 --epochs 2 --val-negatives 30 --out pre.edgerec --curve pre.jsonl \
  >/dev/null 2>pre.err || fail "train --pretrain: $(tail -3 pre.err)"
grep -q '^gmf epoch 1/2  loss [0-9.]*  val_ndcg@10 ' pre.err || fail "gmf epoch line: $(head -1 pre.err)"
grep -q '^neumf start .* val_ndcg@10 [0-9.]* \*' pre.err || fail "neumf start line: $(cat pre.err)"
/usr/bin/python3 - <<'PY' || fail "pretrain curve"
import json
rows = [json.loads(l) for l in open("pre.jsonl")]
fuses = [r for r in rows if r["stage"].startswith("fuse")]
assert [r["stage"] for r in fuses] == ["fuse a=0.5", "fuse a=0.3", "fuse a=0.4", "fuse a=0.6", "fuse a=0.7"], rows
rows = [r for r in rows if not r["stage"].startswith("fuse")]
validated, refit = rows[:7], rows[7:]
assert [(r["stage"], r["epoch"]) for r in validated] == [("gmf", 1), ("gmf", 2), ("mlp", 1), ("mlp", 2), ("neumf", 0), ("neumf", 1), ("neumf", 2)], rows
assert all(r["run"] == 1 and r["metric"] == "val_ndcg@10" for r in validated + fuses)
assert rows[4]["loss"] is None and rows[4]["best"] and rows[4]["value"] == max(r["value"] for r in fuses)
kept = {s: max([r["epoch"] for r in validated if r["stage"] == s and r["best"]]) for s in ("gmf", "mlp", "neumf")}
want = [("refit " + s, e) for s in ("gmf", "mlp", "neumf") for e in range(1, kept[s] + 1)]
assert [(r["stage"], r["epoch"]) for r in refit] == want, (kept, refit)
assert all(r["run"] == 1 and r["metric"] == "" and r["value"] is None and r["loss"] > 0 for r in refit)
PY
grep -q '^refit gmf epoch 1/[12]  loss [0-9.]*  lr ' pre.err || fail "refit epoch line: $(cat pre.err)"
expect_ok "recommend pretrained" "$BIN" recommend --model pre.edgerec --user "$user" -k 5 --json
expect_err "layers 0" "neumf: --layers must be in 1\.\.8 \(got 0\)" "$BIN" train --data imp/ratings.csv --model neumf --layers 0 --epochs 1 --out bad.edgerec

finish
