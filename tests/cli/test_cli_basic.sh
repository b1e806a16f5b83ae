#!/usr/bin/env bash
# The CLI end to end on the synthetic catalogue: generate, train every model kind, recommend,
# similar, explain, info, eval; --help on every subcommand; --json shapes.
source "$(dirname "$0")/lib.sh"

expect_ok "--help" "$BIN" --help
for c in generate train eval recommend similar explain info; do
  expect_ok "$c --help" "$BIN" $c --help
  grep -q -- "--" out.txt || fail "$c --help prints no options"
done

expect_ok "generate" "$BIN" generate --out syn --users 300 --items 200 --interactions 9000 --seed 3 --json
[ "$(json_get out.txt 'j["interactions"] > 8000')" = True ] || fail "generate count"
head -1 syn/ratings.csv | grep -q "user,item,rating,timestamp" || fail "ratings.csv header"

user=$(sed -n 2p syn/ratings.csv | cut -d, -f1)
for m in popularity mean-baseline baseline svd svdpp ials bpr itemknn; do
  expect_ok "train $m" "$BIN" train --data syn/ratings.csv --model $m --epochs 5 --factors 8 --out $m.edgerec --json --seed 1
  [ "$(json_get out.txt 'j["model"]')" = "$m" ] || fail "train $m json model"
  expect_ok "recommend $m" "$BIN" recommend --model $m.edgerec --user "$user" -k 5 --json
  [ "$(json_get out.txt 'len(j["items"])')" = 5 ] || fail "recommend $m: not 5 items"
  [ "$(json_get out.txt 'j["user"]')" = "$user" ] || fail "recommend $m: user echo"
  expect_ok "info $m" "$BIN" info --model $m.edgerec --json
  [ "$(json_get out.txt 'j["model"]')" = "$m" ] || fail "info $m"
  # How top-K serves it: the visit or a plain scan, chosen from a sample of its users (itemknn
  # always scans and has no index).
  if [ $m = itemknn ]; then want=False; else want=True; fi
  [ "$(json_get out.txt 'j.get("search") in ("visit", "scan") and j["search_sample"]["source"] == "known users" and j["search_sample"]["queries"] > 0')" = $want ] || fail "info $m: search"
  # Seen items are excluded by default: none of the user's training items comes back.
  seen=$(awk -F, -v u="$user" 'NR>1 && $1==u {print $2}' syn/ratings.csv | sort -u)
  "$BIN" recommend --model $m.edgerec --user "$user" -k 20 --json > r.json
  for it in $(json_get r.json '" ".join(x["item"] for x in j["items"])'); do
    echo "$seen" | grep -qx "$it" && fail "recommend $m returned seen item $it"
  done
done

# Same seed, same model (without --reproducible the files differ in the measured fit time; the
# unit tests compare parameters bit for bit): identical recommendations.
"$BIN" train --data syn/ratings.csv --model svd --epochs 3 --factors 8 --seed 9 --out a.edgerec --quiet >/dev/null
"$BIN" train --data syn/ratings.csv --model svd --epochs 3 --factors 8 --seed 9 --out b.edgerec --quiet >/dev/null
"$BIN" recommend --model a.edgerec --user "$user" --json > ra.json
"$BIN" recommend --model b.edgerec --user "$user" --json > rb.json
cmp -s ra.json rb.json || fail "same seed gives different recommendations"
cmp -s a.edgerec b.edgerec && fail "files without --reproducible are identical: the fit time is not stored?"
# --reproducible (or SOURCE_DATE_EPOCH) stores 0 as the fit time: byte-identical files.
for m in svd ials bpr; do
  "$BIN" train --data syn/ratings.csv --model $m --epochs 3 --factors 8 --seed 9 --threads 2 --reproducible --out a.edgerec --quiet >/dev/null
  "$BIN" train --data syn/ratings.csv --model $m --epochs 3 --factors 8 --seed 9 --threads 2 --reproducible --out b.edgerec --quiet >/dev/null
  SOURCE_DATE_EPOCH=1700000000 "$BIN" train --data syn/ratings.csv --model $m --epochs 3 --factors 8 --seed 9 --threads 2 --out c.edgerec --quiet >/dev/null
  cmp -s a.edgerec b.edgerec || fail "--reproducible: two $m trainings differ"
  cmp -s a.edgerec c.edgerec || fail "SOURCE_DATE_EPOCH: the $m file differs from --reproducible's"
done
"$BIN" info --model a.edgerec --json > ia.json
[ "$(json_get ia.json 'j["fit_seconds"]')" = 0.0 ] || fail "--reproducible stored a fit time"
"$BIN" train --help > help.txt
grep -q -- "--reproducible" help.txt || fail "train --help does not mention --reproducible"
# --model's help names every kind the file format knows (it once missed neumf and two-tower).
for k in popularity ials bpr neumf gru4rec lstm sasrec two-tower; do
  grep -q "Model kind:.*\b$k\b" help.txt || fail "train --help does not list the kind $k"
done

# Fold-in of a new user, similar items, explanations.
items=$(awk -F, -v u="$user" 'NR>1 && $1==u {printf "%s%s:%s", sep, $2, $3; sep=","}' syn/ratings.csv)
expect_ok "recommend --items" "$BIN" recommend --model ials.edgerec --items "$items" -k 5 --json
[ "$(json_get out.txt 'len(j["items"])')" = 5 ] || fail "fold-in: not 5 items"
first=$(json_get out.txt 'j["items"][0]["item"]')
expect_ok "similar" "$BIN" similar --model ials.edgerec --item "$first" -k 4 --json
[ "$(json_get out.txt 'len(j["items"])')" = 4 ] || fail "similar: not 4 items"
[ "$(json_get out.txt 'any(x["item"] == "'"$first"'" for x in j["items"])')" = False ] || fail "similar returns the item itself"
expect_ok "explain" "$BIN" explain --model ials.edgerec --user "$user" --item "$first" --json
[ "$(json_get out.txt 'len(j["weights"]) > 0')" = True ] || fail "explain: empty"
expect_ok "recommend --explain" "$BIN" recommend --model itemknn.edgerec --user "$user" -k 3 --explain --json
[ "$(json_get out.txt '"because" in j["items"][0]')" = True ] || fail "recommend --explain"
expect_ok "batch" "$BIN" recommend --model ials.edgerec --user "$user" --user "$(sed -n 3p syn/ratings.csv | cut -d, -f1)" --json
[ "$(json_get out.txt 'len(j["results"])')" = 2 ] || fail "batch: two results"
expect_ok "include filter" "$BIN" recommend --model ials.edgerec --user "$user" --include "$first" -k 5 --json
[ "$(json_get out.txt 'len(j["items"]) <= 1')" = True ] || fail "include filter"

# strip: the item side alone serves new users exactly as the full model does.
expect_ok "strip" "$BIN" strip --model ials.edgerec --out slim.edgerec --json
[ "$(json_get out.txt 'j["bytes"] < j["bytes_before"]')" = True ] || fail "strip did not shrink the file"
"$BIN" recommend --model ials.edgerec --items "$items" -k 5 --json > full.json
"$BIN" recommend --model slim.edgerec --items "$items" -k 5 --json > slim.json
cmp -s full.json slim.json || fail "stripped model recommends differently for a new user"
expect_err "stripped model has no users" "unknown user id" "$BIN" recommend --model slim.edgerec --user "$user"
# strip --int8: the item matrix as int8 codes (format version 2 on; saves write the current
# version, 3); new users get nearly the same top 5 (the scores move by at most half a code step
# per factor).
expect_ok "strip --int8" "$BIN" strip --model ials.edgerec --out slim8.edgerec --int8 --json
[ "$(json_get out.txt 'j["item_matrix"] == "int8"')" = True ] || fail "strip --int8 json"
slim_bytes=$(wc -c < slim.edgerec); slim8_bytes=$(wc -c < slim8.edgerec)
expect_ok "info int8" "$BIN" info --model slim8.edgerec --json
# Each of the items x dims floats became one byte, plus one f32 scale per item.
saved=$(json_get out.txt 'j["items"] * (3 * j["dims"] - 4)')
[ $((slim_bytes - slim8_bytes)) -eq "$saved" ] || fail "strip --int8 saved $((slim_bytes - slim8_bytes)) bytes, expected $saved"
[ "$(json_get out.txt 'j["item_matrix"] == "int8" and j["format_version"] == 4')" = True ] || fail "info of an int8 file"
# The kernels in use: the AVX2 + FMA flavour where this CPU has both, or the portable one (also
# when asked for).
want=generic
if [ "$(uname -m)" = x86_64 ] && grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then want=avx2-fma; fi
[ "$(json_get out.txt 'j["kernels"]')" = "$want" ] || fail "info kernels, expected $want: $(head -c 300 out.txt)"
expect_ok "info generic kernels" env EDGEREC_KERNELS=generic "$BIN" info --model slim8.edgerec --json
[ "$(json_get out.txt 'j["kernels"]')" = generic ] || fail "EDGEREC_KERNELS=generic: $(head -c 300 out.txt)"
[ "$(json_get out.txt 'j["kernels_train"] + " " + j["kernels_gemm"]')" = "generic generic" ] || fail "EDGEREC_KERNELS=generic, training and gemm: $(head -c 300 out.txt)"
"$BIN" recommend --model slim8.edgerec --items "$items" -k 5 --json > slim8.json
python3 - full.json slim8.json <<'PY' || fail "int8 file recommends too differently for a new user"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ids = lambda r: {x["item"] for x in (r[0]["items"] if isinstance(r, list) else r["items"])}
assert len(ids(a) & ids(b)) >= 4, (ids(a), ids(b))
PY

# eval on synthetic data.
expect_ok "eval holdout" "$BIN" eval --data syn/ratings.csv --model svd --protocol holdout --epochs 5 --ranking --json
[ "$(json_get out.txt '"rmse" in j["metrics"] and "ndcg@10" in j["metrics"]')" = True ] || fail "eval holdout metrics"
expect_ok "eval loo" "$BIN" eval --data syn/ratings.csv --model ials --protocol loo --json
[ "$(json_get out.txt '"hr@10" in j["metrics"] and "full_hr@10" in j["metrics"]')" = True ] || fail "eval loo metrics"
expect_ok "eval synthetic default" "$BIN" eval --data synthetic --model popularity --protocol temporal --json

finish
