#!/usr/bin/env bash
# explain --json adds up to the served score for every model kind, known and new users:
# `score` is exactly what recommend prints for that user and item, there is one weight per
# history item, and weights + others + rest = score within 1e-5 relative. Then what a new
# user's --items report: unknown ids, repeated items, the popularity fallback, clamped ratings.
source "$(dirname "$0")/lib.sh"

"$BIN" generate --out syn --users 200 --items 150 --interactions 6000 --seed 4 --json >/dev/null
"$BIN" generate --out imp --users 200 --items 150 --interactions 6000 --seed 4 --implicit --json >/dev/null

# check_explain RECOMMEND_JSON EXPLAIN_JSON HISTORY_SIZE ITEM
check_explain() {
  /usr/bin/python3 - "$@" <<'PY' || fail "explain $kind $who: $(cat check.err)"
import json, sys
rec, exp, n, item = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3]), sys.argv[4]
served = [x["score"] for x in rec["items"] if x["item"] == item]
err = []
if exp["item"] != item: err.append("item echo")
if not served or exp["score"] != served[0]: err.append(f"score {exp['score']} is not the served {served}")
if len(exp["weights"]) != n: err.append(f"{len(exp['weights'])} weights for {n} history items")
total = sum(w["weight"] for w in exp["weights"]) + exp["others"] + exp["rest"]
if abs(total - exp["score"]) > 1e-5 * max(abs(exp["score"]), 1e-3): err.append(f"sum {total} != score {exp['score']}")
if not isinstance(exp["exact"], bool) or not exp["note"]: err.append("exact/note")
if err:
    open("check.err", "w").write("; ".join(err))
    sys.exit(1)
PY
}

for kind in ials svd bpr svdpp itemknn baseline mean-baseline popularity; do
  data=imp; case $kind in svd|svdpp|baseline|mean-baseline) data=syn ;; esac
  "$BIN" train --data $data/ratings.csv --model $kind --epochs 6 --factors 8 --seed 2 --out $kind.edgerec --quiet >/dev/null
  for user in $(awk -F, 'NR>1 {print $1}' $data/ratings.csv | sort -u | head -3); do
    who="user $user"
    n=$(awk -F, -v u="$user" 'NR>1 && $1==u' $data/ratings.csv | wc -l)
    "$BIN" recommend --model $kind.edgerec --user "$user" -k 3 --json > rec.json
    for item in $(json_get rec.json '" ".join(x["item"] for x in j["items"])'); do
      expect_ok "explain $kind $who $item" "$BIN" explain --model $kind.edgerec --user "$user" --item "$item" --json
      check_explain rec.json out.txt "$n" "$item"
    done
    # A new user with this user's items (plus an unknown id) folds in; its explanation adds up too.
    items=$(awk -F, -v u="$user" 'NR>1 && $1==u {printf "%s%s:%s", sep, $2, $3; sep=","}' $data/ratings.csv),nobody-knows-me:3
    who="new user like $user"
    "$BIN" recommend --model $kind.edgerec --items "$items" -k 2 --json > rec.json 2>/dev/null
    [ "$(json_get rec.json 'j["history"]["unknown"]')" = 1 ] || fail "recommend --items $kind: unknown not counted"
    for item in $(json_get rec.json '" ".join(x["item"] for x in j["items"])'); do
      expect_ok "explain --items $kind $item" "$BIN" explain --model $kind.edgerec --items "$items" --item "$item" --json
      check_explain rec.json out.txt "$n" "$item"
      [ "$(json_get out.txt 'j["history"]["used"]')" = "$n" ] || fail "explain --items $kind: history used"
    done
  done
  # Which kinds claim an exact split for known users (documented in recommender.hpp and README).
  exact=$(json_get out.txt 'j["exact"]')
  case $kind in
    itemknn|baseline|mean-baseline|popularity|ials) [ "$exact" = True ] || fail "$kind new-user explanation not exact" ;;
    *) [ "$exact" = False ] || fail "$kind claims an exact split" ;;
  esac
done

# Known iALS user: the split is of the exact solve, not of the stored CG vector.
user=$(awk -F, 'NR>1 {print $1; exit}' imp/ratings.csv)
"$BIN" recommend --model ials.edgerec --user "$user" -k 1 --json > r1.json
item=$(json_get r1.json 'j["items"][0]["item"]')
expect_ok "explain ials known" "$BIN" explain --model ials.edgerec --user "$user" --item "$item" --json
[ "$(json_get out.txt 'j["exact"]')" = False ] || fail "ials known user claims an exact split"
[ "$(json_get out.txt 'abs(j["residual"]) < 0.1 * abs(j["score"])')" = True ] || fail "ials residual is not small"
# -k keeps the largest weights and sums the others.
expect_ok "explain -k 2" "$BIN" explain --model ials.edgerec --user "$user" --item "$item" -k 2 --json
[ "$(json_get out.txt 'len(j["weights"])')" = 2 ] || fail "explain -k 2: not 2 weights"
[ "$(json_get out.txt 'abs(sum(w["weight"] for w in j["weights"]) + j["others"] + j["rest"] - j["score"]) < 1e-5')" = True ] || fail "explain -k 2 does not add up"
expect_ok "explain text" "$BIN" explain --model ials.edgerec --user "$user" --item "$item"
grep -q "(rest)" out.txt || fail "explain text: no rest line"

# recommend --explain: each item's because + others + rest add up to its score.
expect_ok "recommend --explain" "$BIN" recommend --model svd.edgerec --user "$user" -k 3 --explain --json
[ "$(json_get out.txt 'all(abs(sum(w["weight"] for w in x["because"]) + x["others"] + x["rest"] - x["score"]) <= 1e-5 * max(1, abs(x["score"])) for x in j["items"])')" = True ] || fail "recommend --explain does not add up"

# New users: only unknown items -> the popularity list, said so; repeated items: the last value.
expect_ok "unknown-only" "$BIN" recommend --model ials.edgerec --items nope,nada:4 -k 3 --json
[ "$(json_get out.txt 'j["history"]["fallback"]')" = popularity ] || fail "unknown-only: no popularity fallback flag"
[ "$(json_get out.txt 'j["history"]["unknown"]')" = 2 ] || fail "unknown-only: unknown count"
expect_ok "unknown-only text" "$BIN" recommend --model ials.edgerec --items nope -k 3
grep -q "popular items instead" err.txt || fail "unknown-only text: no notice on stderr"
i1=$(awk -F, 'NR==2 {print $2}' syn/ratings.csv); i2=$(awk -F, 'NR==3 {print $2}' syn/ratings.csv)
expect_ok "repeated + clamped" "$BIN" recommend --model svd.edgerec --items "$i1:1,$i2:3,$i1:99" -k 3 --json
[ "$(json_get out.txt 'j["history"]["duplicates"]')" = 1 ] || fail "repeated item not merged"
[ "$(json_get out.txt 'j["history"]["clamped"]')" = 1 ] || fail "out-of-range rating not clamped"
"$BIN" recommend --model svd.edgerec --items "$i2:3,$i1:5" -k 3 --json > same.json
[ "$(json_get out.txt 'j["items"]')" = "$(json_get same.json 'j["items"]')" ] || fail "99 stars is not served as 5 after the repeat"

finish
