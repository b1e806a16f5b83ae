#!/usr/bin/env bash
# tune (validation-only random search, --final) and eval as Surprise/RecBole users expect it:
# per-fold spread, a user-given --test file, loo's order, ranking only when asked, clipped
# ratings from recommend.
source "$(dirname "$0")/lib.sh"

expect_ok "generate" "$BIN" generate --out syn --users 200 --items 150 --interactions 6000 --seed 5 --json
# A predefined split of the same catalogue: every 5th row is test. One extra test row with an
# unknown user and one with an unknown item.
awk 'NR == 1 || (NR - 2) % 5 != 0' syn/ratings.csv > train.csv
{ head -1 syn/ratings.csv; awk 'NR > 1 && (NR - 2) % 5 == 0' syn/ratings.csv; } > test.csv
item=$(sed -n 2p train.csv | cut -d, -f2)
user=$(sed -n 2p train.csv | cut -d, -f1)
{ cat test.csv; echo "nobody,$item,4,1"; echo "$user,no-such-item,3,1"; } > test_unknown.csv

# ---- tune --------------------------------------------------------------------------------------
expect_ok "tune --help" "$BIN" tune --help
for k in baseline svd svdpp ials bpr itemknn; do grep -q "^  $k:" out.txt || fail "tune --help: no search space for $k"; done
grep -q -- "--lr  log-uniform real in" out.txt || fail "tune --help: search space lines"

T=(--data syn/ratings.csv --model svd --epochs 3 --trials 3 --protocol holdout)
expect_ok "tune svd" "$BIN" tune "${T[@]}" --seed 4 --json
cp out.txt tune_a.json
[ "$(json_get tune_a.json 'j["objective"] == "rmse" and j["minimise"] and len(j["trials"]) == 3')" = True ] || fail "tune objective/trials"
[ "$(json_get tune_a.json '"final" not in j and j["validation_rows"] > 0 and j["fit_rows"] > 4 * j["validation_rows"]')" = True ] || fail "tune rows / no final"
[ "$(json_get tune_a.json 'j["best"]["score"] == min(t["score"] for t in j["trials"])')" = True ] || fail "tune best is not the minimum"
[ "$(json_get tune_a.json 'all(t["hyper"]["epochs"] == 3 for t in j["trials"])')" = True ] || fail "fixed --epochs not kept"
[ "$(json_get tune_a.json '"--epochs 3" in j["best"]["flags"] and "--lr " in j["best"]["flags"] and "--seed 4" in j["best"]["flags"]')" = True ] || fail "best flags"
# Same seed, same search; another seed, other configurations.
expect_ok "tune svd again" "$BIN" tune "${T[@]}" --seed 4 --json
cp out.txt tune_b.json
same='[(t["flags"], t["score"]) for t in j["trials"]]'
[ "$(json_get tune_a.json "$same")" = "$(json_get tune_b.json "$same")" ] || fail "tune not deterministic per seed"
expect_ok "tune svd seed 5" "$BIN" tune "${T[@]}" --seed 5 --json
[ "$(json_get tune_a.json '[t["flags"] for t in j["trials"]]')" != "$(json_get out.txt '[t["flags"] for t in j["trials"]]')" ] || fail "another seed drew the same trials"
# The best flags pasted into eval reproduce the trial's configuration.
flags=$(json_get tune_a.json 'j["best"]["flags"]')
expect_ok "eval with the best flags" "$BIN" eval --data syn/ratings.csv --model svd --protocol holdout $flags --json
[ "$(json_get out.txt 'j["hyper"]')" = "$(json_get tune_a.json 'j["best"]["hyper"]')" ] || fail "pasted flags give another configuration"
expect_ok "tune --validation-fraction" "$BIN" tune "${T[@]}" --seed 4 --validation-fraction 0.25 --json
[ "$(json_get out.txt 'j["validation_rows"] == round(0.25 * (j["fit_rows"] + j["validation_rows"]))')" = True ] || fail "--validation-fraction"
[ "$(json_get out.txt 'j["fit_rows"] + j["validation_rows"]')" = "$(json_get tune_a.json 'j["fit_rows"] + j["validation_rows"]')" ] || fail "--validation-fraction moved the training part"
expect_ok "tune text" "$BIN" tune "${T[@]}" --seed 4
grep -q "the test part is not used" out.txt || fail "tune text: test part statement"
grep -q "^best: trial" out.txt || fail "tune text: best line"

# The test part is never seen by the search: altering every test rating changes nothing
# until --final, whose test metrics do move.
awk -F, 'BEGIN{OFS=","} NR == 1 {print; next} {$3 = 6 - $3; print}' test.csv > test_flipped.csv
U=(--data train.csv --model svd --epochs 3 --trials 3 --seed 2 --json)
expect_ok "tune --test" "$BIN" tune "${U[@]}" --test test.csv
cp out.txt t1.json
expect_ok "tune --test flipped" "$BIN" tune "${U[@]}" --test test_flipped.csv
[ "$(json_get t1.json "$same")" = "$(json_get out.txt "$same")" ] || fail "search changed with the test file"
expect_ok "tune --test --final" "$BIN" tune "${U[@]}" --test test.csv --final
cp out.txt f1.json
expect_ok "tune --test flipped --final" "$BIN" tune "${U[@]}" --test test_flipped.csv --final
[ "$(json_get f1.json 'j["best"]')" = "$(json_get out.txt 'j["best"]')" ] || fail "--final changed the choice"
[ "$(json_get f1.json 'j["final"]["metrics"]["rmse"]')" != "$(json_get out.txt 'j["final"]["metrics"]["rmse"]')" ] || fail "--final did not test on the file"
[ "$(json_get f1.json 'j["final"]["train_rows"] == j["fit_rows"] + j["validation_rows"]')" = True ] || fail "--final trains on train + validation"
# A protocol's own split: --final reports the test part of that split only.
expect_ok "tune holdout --final" "$BIN" tune "${T[@]}" --seed 4 --final --json
[ "$(json_get out.txt 'j["best"] == '"$(json_get tune_a.json 'j["best"]')"' and "rmse" in j["final"]["metrics"]')" = True ] || fail "holdout --final"
[ "$(json_get out.txt 'j["final"]["test_rows"] + j["fit_rows"] + j["validation_rows"]')" -gt 5000 ] || fail "holdout --final rows"
expect_ok "tune kfold --final" "$BIN" tune --data syn/ratings.csv --model baseline --trials 2 --protocol kfold --folds 4 --final --json
[ "$(json_get out.txt 'j["fold"] == 0 and j["final"]["folds"] == 1')" = True ] || fail "kfold tune uses fold 0"
# Ranking kinds: ndcg@10 on each user's last training interaction; ncf needs no test file to search.
awk -F, 'NR > 1 {print $1 "\t" $2}' syn/ratings.csv > pairs.tsv
expect_ok "tune itemknn ncf" "$BIN" tune --data pairs.tsv --format ncf --model itemknn --trials 3 --protocol ncf --json
[ "$(json_get out.txt 'j["objective"] == "ndcg@10" and not j["minimise"] and j["order"] == "file"')" = True ] || fail "ncf tune objective/order"
expect_ok "tune ials loo text" "$BIN" tune --data syn/ratings.csv --model ials --epochs 2 --factors 8 --trials 2 --protocol loo
grep -q "last interaction by timestamp" out.txt || fail "loo tune order text"

expect_err "tune: every trial diverges" "^edgerec: error: tune: no trial gave a validation score \(trial 1: bpr diverged" "$BIN" tune --data pairs.tsv --format ncf --model bpr --protocol ncf --lr 1e6 --epochs 3 --trials 2
expect_err "tune --trials 0" "^edgerec: error: --trials must be at least 1" "$BIN" tune --data syn/ratings.csv --model svd --trials 0
expect_err "tune popularity" "^edgerec: error: model kind popularity has no hyper-parameters to tune" "$BIN" tune --data syn/ratings.csv --model popularity
expect_err "tune bad objective" "^edgerec: error: objective 'auc@3'" "$BIN" tune --data syn/ratings.csv --model baseline --trials 1 --objective auc@3
expect_err "tune rmse on bpr" "^edgerec: error: objective rmse needs" "$BIN" tune --data syn/ratings.csv --model bpr --trials 1 --objective rmse
expect_err "tune --validation-fraction" "^edgerec: error: --validation-fraction must be strictly between 0 and 1" "$BIN" tune --data syn/ratings.csv --model baseline --protocol holdout --validation-fraction 1.5
expect_err "tune ncf --final without files" "^edgerec: error: --final with --protocol ncf needs" "$BIN" tune --data pairs.tsv --format ncf --model itemknn --trials 1 --protocol ncf --final
expect_err "--test with ncf" "^edgerec: error: --test cannot be used with --protocol ncf" "$BIN" eval --data pairs.tsv --format ncf --model itemknn --protocol ncf --test test.csv
expect_err "--no-ranking and --ranking" "^edgerec: error: --no-ranking contradicts" "$BIN" eval --data syn/ratings.csv --model baseline --no-ranking --ranking

# ---- eval ----------------------------------------------------------------------------------------
expect_ok "eval kfold" "$BIN" eval --data syn/ratings.csv --model baseline --folds 3 --json
[ "$(json_get out.txt 'len(j["fold_metrics"]) == 3 and set(j["metrics_std"]) == set(j["metrics"])')" = True ] || fail "kfold per-fold json"
[ "$(json_get out.txt 'abs(sum(f["rmse"] for f in j["fold_metrics"]) / 3 - j["metrics"]["rmse"]) < 1e-12')" = True ] || fail "kfold mean of folds"
[ "$(json_get out.txt 'abs((sum((f["rmse"] - j["metrics"]["rmse"]) ** 2 for f in j["fold_metrics"]) / 3) ** 0.5 - j["metrics_std"]["rmse"]) < 1e-12 and j["metrics_std"]["rmse"] > 0')" = True ] || fail "kfold std"
# Explicit ratings: no ranking metrics unless asked, and the output says so.
[ "$(json_get out.txt '"ndcg@10" not in j["metrics"] and j["ranking"] is False and j["relevance_threshold"] is None')" = True ] || fail "ranking off by default on ratings"
expect_ok "eval kfold text" "$BIN" eval --data syn/ratings.csv --model baseline --folds 3
grep -qE "^  rmse +[0-9.]+ +[0-9.]+ +[0-9.]+ [0-9.]+ [0-9.]+$" out.txt || fail "kfold text: mean, std and 3 folds: $(cat out.txt)"
grep -q "ranking metrics skipped on explicit ratings" out.txt || fail "kfold text: ranking note"
expect_ok "eval --relevance-threshold" "$BIN" eval --data syn/ratings.csv --model baseline --protocol holdout --relevance-threshold 4 --json
[ "$(json_get out.txt '"ndcg@10" in j["metrics"] and j["relevance_threshold"] == 4 and j["ranking"]')" = True ] || fail "threshold json"
expect_ok "eval --relevance-threshold text" "$BIN" eval --data syn/ratings.csv --model baseline --protocol holdout --relevance-threshold 4
grep -q "relevant: test ratings >= 4" out.txt || fail "threshold text"
expect_ok "eval --ranking" "$BIN" eval --data syn/ratings.csv --model baseline --protocol holdout --ranking
grep -q "relevant: every test rating" out.txt || fail "--ranking text"
grep -q "ndcg@10" out.txt || fail "--ranking metrics"
# A thresholded ranking differs from counting every rating.
"$BIN" eval --data syn/ratings.csv --model baseline --protocol holdout --ranking --json > all.json
"$BIN" eval --data syn/ratings.csv --model baseline --protocol holdout --relevance-threshold 5 --json > five.json
[ "$(json_get all.json 'j["metrics"]["recall@10"]')" != "$(json_get five.json 'j["metrics"]["recall@10"]')" ] || fail "threshold 5 gives the same recall as every rating"
# Implicit data keeps ranking on.
expect_ok "eval implicit holdout" "$BIN" eval --data pairs.tsv --format ncf --model itemknn --protocol holdout --json
[ "$(json_get out.txt '"ndcg@10" in j["metrics"]')" = True ] || fail "implicit ranking"

# loo: time order, or file order when the file has no timestamps.
expect_ok "eval loo time" "$BIN" eval --data syn/ratings.csv --model popularity --protocol loo --json
[ "$(json_get out.txt 'j["order"]')" = time ] || fail "loo order time"
expect_ok "eval loo file" "$BIN" eval --data syn/ratings.csv --time-col -1 --model popularity --protocol loo --json
[ "$(json_get out.txt 'j["order"]')" = file ] || fail "loo order file"
expect_ok "eval loo file text" "$BIN" eval --data syn/ratings.csv --time-col -1 --model popularity --protocol loo
grep -q "no timestamps, so each user's last row in file order was used" out.txt || fail "loo file text"

# --test FILE: train on --data, test on the file; unknown ids dropped and counted.
expect_ok "eval --test" "$BIN" eval --data train.csv --test test_unknown.csv --model baseline --protocol holdout --json
[ "$(json_get out.txt 'j["test_file"]["unknown_user_rows"] == 1 and j["test_file"]["unknown_item_rows"] == 1')" = True ] || fail "--test unknown counts"
[ "$(json_get out.txt 'j["test_rows"] == j["test_file"]["kept"]')" = True ] || fail "--test rows"
[ "$(json_get out.txt 'j["train_rows"]')" = "$(($(wc -l < train.csv) - 1))" ] || fail "--test trains on all of --data"
grep -q "dropped 1 row(s) with a user and 1 row(s) with an item unknown" err.txt && fail "json mode printed to stderr"
expect_ok "eval --test text" "$BIN" eval --data train.csv --test test_unknown.csv --model baseline --protocol holdout
grep -q "dropped 1 row(s) with a user and 1 row(s) with an item unknown" err.txt || fail "--test unknown note"
grep -q "1 dropped (unknown user), 1 dropped (unknown item)" out.txt || fail "--test text counts"
expect_ok "eval --test loo" "$BIN" eval --data train.csv --test test.csv --model ials --epochs 2 --factors 8 --protocol loo --json
[ "$(json_get out.txt '"hr@10" in j["metrics"] and "full_hr@10" in j["metrics"] and "order" not in j')" = True ] || fail "--test loo"
echo "nobody,nothing,3,1" > alien.csv
expect_err "--test without known rows" "^edgerec: error: test file alien.csv: none of its 1 rows" "$BIN" eval --data train.csv --test alien.csv --format csv --model baseline

# ---- recommend clips predicted ratings to the rating range ---------------------------------------
expect_ok "train overfit svd" "$BIN" train --data syn/ratings.csv --model svd --epochs 40 --lr 0.05 --reg 0 --bias-reg 0 --out svd.edgerec --json
expect_ok "recommend svd" "$BIN" recommend --model svd.edgerec --user "$user" -k 20 --json
[ "$(json_get out.txt 'max(x["score"] for x in j["items"]) <= 5 and min(x["score"] for x in j["items"]) >= 1')" = True ] || fail "recommend scores outside [1, 5]: $(cat out.txt)"
expect_ok "recommend svd new user" "$BIN" recommend --model svd.edgerec --items "$item:5" -k 20 --json
[ "$(json_get out.txt 'max(x["score"] for x in j["items"]) <= 5')" = True ] || fail "fold-in scores above 5"

finish
