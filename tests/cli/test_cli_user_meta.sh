#!/usr/bin/env bash
# User features for two-tower from the command line (train / eval --user-meta), on a small
# synthetic catalogue and a synthetic user file (each user's most frequent genre and interaction
# count; a few users missing, one unknown user): the same seed gives the same bytes; the file
# changes the model and its held-out scores; eval --new-users ranks held-out users by their
# features; a u.user-format file is recognised; kinds that do not read user features and
# malformed files give one clear error line.
source "$(dirname "$0")/lib.sh"

"$BIN" generate --out syn --users 300 --items 200 --interactions 9000 --seed 13 --implicit --json >/dev/null
/usr/bin/python3 - <<'PY'
import csv, collections
genres = {r["item"]: r["genres"].split("|") for r in csv.DictReader(open("syn/items.csv"))}
counts = collections.defaultdict(collections.Counter)
for r in csv.DictReader(open("syn/ratings.csv")):
    counts[r["user"]].update(genres[r["item"]])
users = sorted(counts)
with open("users.csv", "w") as f:
    f.write("user_id,taste,activity\nghost,x,3\n")
    for k, u in enumerate(users):
        if k % 10:
            f.write("%s,%s,%d\n" % (u, counts[u].most_common(1)[0][0], sum(counts[u].values())))
# The same users in MovieLens u.user form (no header, '|'), with made-up demographics.
with open("u.user", "w") as f:
    for k, u in enumerate(users):
        f.write("%s|%d|%s|%s|%05d\n" % (u, 18 + k % 50, "MF"[k % 2], ["student", "writer", "other"][k % 3], k))
PY
TT=(--model two-tower --factors 16 --epochs 4 --batch 256 --train-negatives 128 --lr 0.005 --seed 3 --quiet)

expect_ok "train with user features" "$BIN" train --data syn/ratings.csv "${TT[@]}" --user-meta users.csv --out a.edgerec --reproducible --json
[ "$(json_get out.txt 'j["user_meta"] == {"rows": 271, "matched": 270, "without_interactions": 1, "undescribed": 30}')" = True ] \
  || fail "train report: $(head -c 600 out.txt)"
expect_ok "train again" "$BIN" train --data syn/ratings.csv "${TT[@]}" --user-meta users.csv --out b.edgerec --reproducible
cmp -s a.edgerec b.edgerec || fail "same seed, different bytes"
grep -q "user features: 271 users, 270 of the model's, 1 without interactions" out.txt || fail "train text report: $(cat out.txt)"
expect_ok "train without" "$BIN" train --data syn/ratings.csv "${TT[@]}" --out c.edgerec --reproducible
cmp -s a.edgerec c.edgerec && fail "--user-meta did not change the model"
expect_ok "info" "$BIN" info --model a.edgerec --json
[ "$(json_get out.txt 'j["user_features"] == {"taste": {"type": "categorical", "values": len(set(l.split(",")[1] for l in open("users.csv").read().split()[1:]))}, "activity": {"type": "numeric"}} and j["item_tower"] is False')" = True ] \
  || fail "info user features: $(head -c 600 out.txt)"
expect_ok "recommend known user" "$BIN" recommend --model a.edgerec --user "$(sed -n 3p users.csv | cut -d, -f1)" -k 5 --json
[ "$(json_get out.txt 'len(j["items"]) == 5')" = True ] || fail "recommend: $(head -c 300 out.txt)"
expect_ok "recommend new user (items only)" "$BIN" recommend --model a.edgerec --items 1,2,3 -k 5 --json
[ "$(json_get out.txt 'len(j["items"]) == 5')" = True ] || fail "new user: $(head -c 300 out.txt)"
expect_ok "train with u.user" "$BIN" train --data syn/ratings.csv "${TT[@]}" --user-meta u.user --out d.edgerec --json
[ "$(json_get out.txt 'j["user_meta"]["matched"] == 300 and j["user_meta"]["undescribed"] == 0')" = True ] \
  || fail "u.user report: $(head -c 600 out.txt)"

# eval gives the features to the model it fits: the held-out scores change.
expect_ok "eval holdout with user features" "$BIN" eval --data syn/ratings.csv "${TT[@]}" --user-meta users.csv --protocol holdout --json
with=$(json_get out.txt 'repr(j["metrics"]["ndcg@10"])')
expect_ok "eval holdout without" "$BIN" eval --data syn/ratings.csv "${TT[@]}" --protocol holdout --json
without=$(json_get out.txt 'repr(j["metrics"]["ndcg@10"])')
[ "$with" != "$without" ] || fail "eval --user-meta did not reach two-tower's training (ndcg@10 $with both ways)"

# New users: the held-out users' features (known at sign-up) give two more methods.
expect_ok "eval --new-users with user features" "$BIN" eval --data syn/ratings.csv "${TT[@]}" --user-meta users.csv \
  --new-users 0.2 --new-user-steps 0 --json
[ "$(json_get out.txt '"features_hr@10" in j["metrics"] and "foldin_features_ndcg@10" in j["metrics"] and "foldin_hr@10" in j["metrics"]')" = True ] \
  || fail "new users with features: $(head -c 600 out.txt)"

# recommend for a new user from their feature row (and items): two new users of different
# tastes get different lists, a list that leans to their own taste's genre, and items change it.
/usr/bin/python3 - <<'PY'
import csv, collections
tastes = collections.Counter(r["taste"] for r in csv.DictReader(open("users.csv")) if r["user_id"] != "ghost")
a, b = [t for t, _ in tastes.most_common(2)]
open("new.csv", "w").write("user_id,taste,activity\nnewA,%s,30\nnewB,%s,30\n" % (a, b))
open("tastes.txt", "w").write("%s\n%s\n" % (a, b))
PY
expect_ok "recommend new user by features" "$BIN" recommend --model a.edgerec --user newA --user-meta new.csv -k 10 --json
cp out.txt newA.json
expect_ok "recommend other new user" "$BIN" recommend --model a.edgerec --user newB --user-meta new.csv -k 10 --json
cp out.txt newB.json
expect_ok "recommend new user by features and items" "$BIN" recommend --model a.edgerec --user newA --user-meta new.csv --items 1,2,3 -k 10 --json
cp out.txt newAi.json
/usr/bin/python3 - <<'PY' || fail "recommend --user-meta lists"
import csv, json, math
genres = {r["item"]: r["genres"].split("|") for r in csv.DictReader(open("syn/items.csv"))}
a, b = open("tastes.txt").read().split()
la, lb, li = ([x["item"] for x in json.load(open(f))["items"]] for f in ("newA.json", "newB.json", "newAi.json"))
assert len(la) == len(lb) == 10 and la != lb, (la, lb)
assert all(math.isfinite(x["score"]) for x in json.load(open("newA.json"))["items"])
share = lambda l, g: sum(g in genres[i] for i in l)
assert share(la, a) - share(lb, a) + share(lb, b) - share(la, b) > 0, (a, b, la, lb)
assert li != la and not {"1", "2", "3"} & set(li), li
PY
expect_err "recommend --user-meta known user" "is known to the model" "$BIN" recommend --model a.edgerec --user "$(sed -n 3p users.csv | cut -d, -f1)" --user-meta users.csv
expect_err "recommend --user-meta missing user" "user 'nobody' is not in new.csv" "$BIN" recommend --model a.edgerec --user nobody --user-meta new.csv
expect_err "recommend --user-meta without features" "reads no user features" "$BIN" recommend --model c.edgerec --user newA --user-meta new.csv
expect_err "recommend --user-meta --rerank" "does not combine" "$BIN" recommend --model a.edgerec --user newA --user-meta new.csv --rerank mmr

# Errors: one clear line each.
expect_err "train ials" "^edgerec: error: --user-meta: ials does not read user features" \
  "$BIN" train --data syn/ratings.csv --model ials --user-meta users.csv --out x.edgerec --quiet
expect_err "eval bpr" "error: --user-meta: bpr does not read user features" \
  "$BIN" eval --data syn/ratings.csv --model bpr --user-meta users.csv --protocol holdout --quiet
expect_err "new users, ials" "error: --user-meta: ials does not read user features" \
  "$BIN" eval --data syn/ratings.csv --model ials --user-meta users.csv --new-users 0.2 --quiet
mkdir -p bad
printf '1|24|M|technician|85711\n2|x|F|other|94043\n' > bad/u.user
expect_err "bad age" "bad/u.user:2: field 'age': 'x' is not an age" \
  "$BIN" train --data syn/ratings.csv "${TT[@]}" --user-meta bad/u.user --out x.edgerec
printf 'user,age\nu1,3\nu1,4\n' > dup.csv
expect_err "duplicate user" "dup.csv:3: field 'id': user 'u1' is listed twice" \
  "$BIN" train --data syn/ratings.csv "${TT[@]}" --user-meta dup.csv --out x.edgerec
expect_err "u.user as item metadata" "u.user: a user-feature file \(ml100k-users\), not item metadata" \
  "$BIN" train --data syn/ratings.csv "${TT[@]}" --item-meta u.user --out x.edgerec
[ "$(wc -l < err.txt)" -eq 1 ] || fail "more than one error line: $(cat err.txt)"
finish
