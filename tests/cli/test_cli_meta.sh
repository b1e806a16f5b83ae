#!/usr/bin/env bash
# Item metadata from the command line: train --item-meta / --item-vectors keep it in the model
# file; recommend, similar and explain print titles beside ids (text) and carry title / genres
# (JSON); cold items (metadata, no interactions) are reached by similar (by content),
# similar --features and recommend --cold; recommend --filter serves popularity within a genre
# to a brand-new user; malformed metadata files give one error line naming file, line and field.
source "$(dirname "$0")/lib.sh"

"$BIN" generate --out syn --users 200 --items 120 --interactions 5000 --seed 3 --implicit --json >/dev/null
# Two cold items (no interactions) appended to the catalogue's items.csv, and content vectors.
cp syn/items.csv items.csv
printf 'cold-a,Brand New Action,Action|Comedy\ncold-b,Brand New Drama,Drama\n' >> items.csv
awk -F, 'NR>1 {print $1 "," (NR%5)/5 "," (NR%3)/3}' items.csv > vectors.csv

expect_ok "train with metadata" "$BIN" train --data syn/ratings.csv --model ials --factors 8 --epochs 4 --seed 1 \
  --item-meta items.csv --item-vectors vectors.csv --out m.edgerec --json --quiet
[ "$(json_get out.txt 'j["item_meta"] == {"rows": 122, "matched": 120, "cold": 2, "undescribed": 0}')" = True ] \
  || fail "train report: $(cat out.txt)"
expect_ok "info" "$BIN" info --model m.edgerec --json
[ "$(json_get out.txt 'j["format_version"] == 4 and j["item_meta"]["cold"] == 2 and j["item_meta"]["vector_dims"] == 2 and j["item_meta"]["fields"]["genres"]["type"] == "categorical"')" = True ] \
  || fail "info item_meta: $(cat out.txt)"

# Titles beside ids: text and JSON, for every item listed.
title_of() { awk -F, -v id="$1" '$1==id {print $2}' items.csv | tr -d '"'; }
expect_ok "recommend json" "$BIN" recommend --model m.edgerec --user 1 -k 5 --json
/usr/bin/python3 - <<'PY' || fail "recommend titles"
import csv, json
titles = {r["item"]: r["title"] for r in csv.DictReader(open("items.csv"))}
genres = {r["item"]: r["genres"].split("|") for r in csv.DictReader(open("items.csv"))}
j = json.load(open("out.txt"))
assert len(j["items"]) == 5
for x in j["items"]:
    assert x["title"] == titles[x["item"]], x
    assert sorted(x["genres"]) == sorted(genres[x["item"]]), x
PY
expect_ok "recommend text" "$BIN" recommend --model m.edgerec --user 1 -k 3
first=$(awk 'NR==2 {print $2}' out.txt)
grep -qF "$(title_of "$first")" out.txt || fail "recommend text lacks the title of $first: $(cat out.txt)"
expect_ok "explain json" "$BIN" explain --model m.edgerec --user 1 --item "$first" --json
[ "$(json_get out.txt '"title" in j and all("title" in w for w in j["weights"])')" = True ] || fail "explain titles"
expect_ok "similar text" "$BIN" similar --model m.edgerec --item "$first" -k 3
grep -qF "$(title_of "$first")" out.txt || fail "similar text lacks the item's title"

# A cold item: similar by content (it has no collaborative vector).
expect_ok "similar of a cold item" "$BIN" similar --model m.edgerec --item cold-b -k 3 --json
[ "$(json_get out.txt 'j["by"] == "content" and j["title"] == "Brand New Drama" and len(j["items"]) == 3')" = True ] \
  || fail "similar cold: $(cat out.txt)"
expect_ok "similar --features" "$BIN" similar --model m.edgerec --features "genres=Action|Comedy" -k 5 --json
[ "$(json_get out.txt 'any(x["item"] == "cold-a" for x in j["items"])')" = True ] || fail "similar --features misses cold-a: $(cat out.txt)"
expect_err "similar --features unknown field" "^edgerec: error: --features: unknown field 'colour'" \
  "$BIN" similar --model m.edgerec --features "colour=red"
expect_err "similar needs one of --item, --features" "give either --item ID or --features" "$BIN" similar --model m.edgerec

# recommend --cold: a new user who liked cold-a gets items by content and blend; cold items are
# reachable; without --cold they never appear.
expect_ok "recommend --cold" "$BIN" recommend --model m.edgerec --items cold-a -k 10 --cold --json
[ "$(json_get out.txt 'j["mode"] == "cold" and len(j["items"]) == 10 and all(x["item"] != "cold-a" for x in j["items"]) and j["unknown"] == 0')" = True ] \
  || fail "recommend --cold: $(cat out.txt)"
expect_ok "recommend --cold known user" "$BIN" recommend --model m.edgerec --user 1 -k 122 --cold --json
[ "$(json_get out.txt 'any(x["item"].startswith("cold-") for x in j["items"])')" = True ] || fail "recommend --cold never ranks a cold item"
expect_ok "recommend without --cold" "$BIN" recommend --model m.edgerec --user 1 -k 122 --json
[ "$(json_get out.txt 'all(not x["item"].startswith("cold-") for x in j["items"])')" = True ] || fail "cold items served by the model"

# A brand-new user, one genre: the most popular Drama items, all Drama.
expect_ok "recommend --filter" "$BIN" recommend --model m.edgerec --filter "genres=Drama" -k 5 --json
/usr/bin/python3 - <<'PY' || fail "recommend --filter: $(cat out.txt)"
import csv, json, collections
j = json.load(open("out.txt"))
counts = collections.Counter(r["item"] for r in csv.DictReader(open("syn/ratings.csv")))
drama = [i for i, c in counts.most_common() if "Drama" in next(r["genres"] for r in csv.DictReader(open("items.csv")) if r["item"] == i).split("|")]
got = [x["item"] for x in j["items"]]
assert all("Drama" in x["genres"] for x in j["items"]), got
assert [counts[i] for i in got] == sorted([counts[i] for i in got], reverse=True), got
assert counts[got[0]] == counts[drama[0]], (got, drama[:5])
PY
# A known user, one genre: the model's own ranking and scores within it (explanations too).
expect_ok "recommend --filter --user" "$BIN" recommend --model m.edgerec --user 1 --filter "genres=Drama" -k 3 --explain --json
cp out.txt filtered.json
expect_ok "recommend --user, all" "$BIN" recommend --model m.edgerec --user 1 -k 122 --json
/usr/bin/python3 - <<'PY' || fail "recommend --filter --user: $(cat filtered.json)"
import json
f, a = json.load(open("filtered.json")), json.load(open("out.txt"))
drama = [x for x in a["items"] if "Drama" in x.get("genres", [])][:3]
assert [x["item"] for x in f["items"]] == [x["item"] for x in drama], (f["items"], drama)
assert [x["score"] for x in f["items"]] == [x["score"] for x in drama]
assert all("because" in x for x in f["items"])
PY
expect_err "recommend --filter unknown field" "filter: no categorical field 'colour'" \
  "$BIN" recommend --model m.edgerec --filter "colour=red"

# Malformed metadata: one line naming file, line and field; no model written.
printf 'item,title,year:num\n1,A,1999\n2,B,soon\n' > bad.csv
expect_err "bad numeric field" "^edgerec: error: bad.csv:3: field 'year': 'soon' is not a number$" \
  "$BIN" train --data syn/ratings.csv --model popularity --item-meta bad.csv --out bad.edgerec
[ ! -e bad.edgerec ] || fail "a model was written despite the bad metadata"
printf 'item,title\n1,A\n1,B\n' > dup.csv
expect_err "duplicate id" "dup.csv:3: field 'id': item '1' is listed twice" \
  "$BIN" train --data syn/ratings.csv --model popularity --item-meta dup.csv --out bad.edgerec
printf '1,0.5\n2,x\n' > badvec.csv
expect_err "bad vector" "badvec.csv:2: field 'value 1': 'x' is not a number" \
  "$BIN" train --data syn/ratings.csv --model popularity --item-vectors badvec.csv --out bad.edgerec
# A model without metadata: the content commands say so.
"$BIN" train --data syn/ratings.csv --model popularity --out plain.edgerec --quiet >/dev/null
expect_err "cold without metadata" "no item metadata" "$BIN" recommend --model plain.edgerec --user 1 --cold

# Real data: ML-100K u.item is recognised (latin-1, 19 genre flags).
if [ -n "$DATA" ] && [ -f "$DATA/ml-100k/u.item" ]; then
  expect_ok "ml-100k u.item" "$BIN" train --data "$DATA/ml-100k/u.data" --model popularity --item-meta "$DATA/ml-100k/u.item" --out ml.edgerec --json
  [ "$(json_get out.txt 'j["item_meta"]["matched"] == 1682')" = True ] || fail "u.item rows"
  expect_ok "ml-100k similar" "$BIN" similar --model ml.edgerec --item 1 --content -k 1 --json
  [ "$(json_get out.txt 'j["title"] == "Toy Story (1995)" and sorted(j["genres"]) == ["Animation", "Children'"'"'s", "Comedy"]')" = True ] || fail "u.item title: $(cat out.txt)"
fi
finish
