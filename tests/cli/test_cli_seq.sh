#!/usr/bin/env bash
# The papers' sequence files and the sequential protocol from the command line: --format auto on
# seq-lines (S3-Rec) and seq-pairs (SASRec) files, eval/tune --protocol seq, bad lines.
source "$(dirname "$0")/lib.sh"

# 300 users, 120 items; user u has 2 + (u mod 9) items (so users 0.. with 2 train only), each
# item one step after the previous on a ring with a seeded jump now and then: a next-item
# pattern, in file order, no timestamps.
awk 'BEGIN {
  s = 12345
  for (u = 1; u <= 300; u++) {
    n = 2 + (u % 9); line = u; i = (u * 37) % 120
    for (k = 0; k < n; k++) {
      s = (s * 1103515245 + 12345) % 2147483648
      if (s % 5 == 0) i = (i + 17) % 120; else i = (i + 1) % 120
      line = line " " (i + 1)
    }
    print line
  }
}' > seq.txt
# The same histories as one interaction per line (SASRec's layout).
awk '{ for (k = 2; k <= NF; k++) print $1, $k }' seq.txt > pairs.txt
total=$(awk '{ n += NF - 1 } END { print n }' seq.txt)
long=$(awk 'NF - 1 >= 3 { n++ } END { print n }' seq.txt)
two=$(awk 'NF - 1 == 2 { n++ } END { print n }' seq.txt)

E=(eval --protocol seq --json --seed 3)
expect_ok "eval seq-lines" "$BIN" "${E[@]}" --data seq.txt --model popularity
cp out.txt lines.json
[ "$(json_get lines.json 'j["load"]["format"] == "seq-lines" and j["protocol"] == "seq" and j["order"] == "file"')" = True ] || fail "seq-lines: format/protocol/order $(head -c 300 lines.json)"
[ "$(json_get lines.json 'j["load"]["records"]')" = "$total" ] || fail "records != $total"
[ "$(json_get lines.json 'j["negatives"]')" = 100 ] || fail "seq: 100 negatives by default"
[ "$(json_get lines.json 'j["load"]["lines"]')" = 300 ] || fail "lines"
[ "$(json_get lines.json 'j["test_rows"]')" = "$long" ] || fail "test rows: one per user with >= 3 items ($long)"
[ "$(json_get lines.json 'j["train_rows"] + j["test_rows"]')" = "$total" ] || fail "train + test rows"
[ "$(json_get lines.json 'all(k in j["metrics"] for k in ["full_hr@10", "full_ndcg@10", "hr@10", "ndcg@10"])')" = True ] || fail "seq metric keys"
[ "$(json_get lines.json 'j["metrics"]["hr@10"] >= j["metrics"]["full_hr@10"] > 0')" = True ] || fail "sampled vs full"

# The same interactions as seq-pairs: sniffed as such, the same split, the same figures.
expect_ok "eval seq-pairs" "$BIN" "${E[@]}" --data pairs.txt --model popularity
[ "$(json_get out.txt 'j["load"]["format"]')" = seq-pairs ] || fail "pairs not sniffed as seq-pairs"
[ "$(json_get out.txt 'j["metrics"]')" = "$(json_get lines.json 'j["metrics"]')" ] || fail "seq-pairs and seq-lines differ"
expect_ok "eval --format seq-pairs" "$BIN" "${E[@]}" --data pairs.txt --format seq-pairs --model popularity
[ "$(json_get out.txt 'j["metrics"]')" = "$(json_get lines.json 'j["metrics"]')" ] || fail "--format seq-pairs"

# Deterministic; the negatives' seed and count move the sampled figures only.
for m in itemknn ials bpr svd; do
  expect_ok "eval seq $m" "$BIN" "${E[@]}" --data seq.txt --model $m --factors 8 --epochs 4
  cp out.txt a.json
  expect_ok "eval seq $m again" "$BIN" "${E[@]}" --data seq.txt --model $m --factors 8 --epochs 4
  [ "$(json_get a.json 'j["metrics"]')" = "$(json_get out.txt 'j["metrics"]')" ] || fail "$m not deterministic"
  [ "$(json_get a.json 'j["metrics"]["full_ndcg@10"] >= 0 and j["order"] == "file"')" = True ] || fail "$m figures"
done
# A next-item pattern: the item-item model beats popularity by far on it.
expect_ok "itemknn" "$BIN" "${E[@]}" --data seq.txt --model itemknn
[ "$(/usr/bin/python3 -c "print($(json_get out.txt 'j["metrics"]["full_hr@10"]') > 2 * $(json_get lines.json 'j["metrics"]["full_hr@10"]'))")" = True ] || fail "itemknn does not beat popularity on a next-item pattern"
expect_ok "eval --negatives 20" "$BIN" "${E[@]}" --data seq.txt --model popularity --negatives 20
[ "$(json_get out.txt 'j["negatives"]')" = 20 ] || fail "--negatives 20 in the output"
[ "$(json_get out.txt 'j["metrics"]["full_ndcg@10"] == '"$(json_get lines.json 'j["metrics"]["full_ndcg@10"]')"' and j["metrics"]["mrr"] > '"$(json_get lines.json 'j["metrics"]["mrr"]')")" = True ] || fail "--negatives 20"

expect_ok "eval seq text" "$BIN" eval --protocol seq --data seq.txt --model popularity
grep -q "seq (test: each user's last item, validation: the one before): no timestamps" out.txt || fail "text output: order line"
grep -q "full_hr@10" out.txt || fail "text output: metrics"
grep -q "each test item among 100 sampled negatives" out.txt || fail "text output: negatives"

# tune: scored on each user's validation item (the one before the last); --final tests the best.
expect_ok "tune seq" "$BIN" tune --protocol seq --data seq.txt --model itemknn --trials 2 --seed 1 --final --json
[ "$(json_get out.txt 'j["protocol"] == "seq" and j["order"] == "file" and j["objective"] == "ndcg@10"')" = True ] || fail "tune seq shape"
[ "$(json_get out.txt 'j["validation_rows"]')" = "$((long + two))" ] || fail "tune validation rows: users with >= 2 training items"
[ "$(json_get out.txt 'j["fit_rows"] + j["validation_rows"] + j["final"]["test_rows"]')" = "$total" ] || fail "tune rows"
[ "$(json_get out.txt '"full_hr@10" in j["final"]["metrics"] and "hr@10" in j["final"]["metrics"]')" = True ] || fail "tune --final metrics"

# Bad lines: one line naming file, line and field; without --strict the line is skipped whole.
printf '1 5 6 7\n2 8 x 9\n3\n4 5 6 7 8\n' > bad.txt
expect_err "strict bad item" "^edgerec: error: bad\.txt:2: field 'item': 'x' is not a non-negative integer \(item 2 of the line\)$" "$BIN" train --data bad.txt --format seq-lines --strict --out m.edgerec
[ "$(wc -l < err.txt)" -eq 1 ] || fail "error is not one line"
expect_ok "skip bad lines" "$BIN" train --data bad.txt --format seq-lines --model popularity --out m.edgerec --json
[ "$(json_get out.txt 'j["load"]["rejected"] == 4 and j["load"]["accepted"] == 7 and j["load"]["records"] == 11')" = True ] || fail "rejected records $(head -c 300 out.txt)"
expect_ok "skip bad lines (text)" "$BIN" train --data bad.txt --format seq-lines --model popularity --out m.edgerec
grep -q "bad.txt:3: field 'line': a user without items" err.txt || fail "rejections listed on stderr"
printf '1 5\n1 6 7\n' > pairs3.txt
expect_err "seq-pairs with 3 fields" "pairs3\.txt:2: field 'line': 3 fields, expected 2" "$BIN" train --data pairs3.txt --format seq-pairs --strict --out m.edgerec
expect_err "unknown format" "valid: auto, ml100k, ml1m, ml-latest, csv, ncf, seq-pairs, seq-lines" "$BIN" train --data seq.txt --format parquet --out m.edgerec
expect_err "negative --negatives" "error: .*negatives.*not in range" "$BIN" eval --protocol seq --data seq.txt --negatives -3
expect_ok "eval --help" "$BIN" eval --help
grep -q "seq-lines" out.txt && grep -q "seq (sequential" out.txt || fail "--help: seq format and protocol"
# Sequence kinds: train (epoch lines on stderr, --curve one JSON line per epoch), recommend for a
# known and a new user, similar, explain, and eval with the validation part.
S=(--factors 16 --epochs 6 --max-len 8 --batch 32 --train-negatives 16 --patience 0)
for m in sasrec gru4rec lstm; do
  expect_ok "train $m" "$BIN" train --data seq.txt --model $m "${S[@]}" --out $m.edgerec --curve $m.curve --json
  [ "$(json_get out.txt 'j["epochs_run"] == 6 and j["best_epoch"] >= 1')" = True ] || fail "$m epochs_run/best_epoch $(head -c 300 out.txt)"
  [ "$(wc -l < $m.curve)" -eq 6 ] || fail "$m --curve: expected 6 lines"
  [ "$(/usr/bin/python3 -c "import json; r=[json.loads(l) for l in open('$m.curve')]; print([x['epoch'] for x in r] == list(range(1, 7)) and all(x['metric'] == 'val_full_ndcg@10' and x['value'] >= 0 and x['loss'] > 0 and x['seconds'] >= 0 for x in r))")" = True ] || fail "$m --curve content"
  expect_ok "train $m (text)" "$BIN" train --data seq.txt --model $m --factors 16 --epochs 2 --max-len 8 --train-negatives 16 --out text.edgerec
  [ "$(grep -c "val_full_ndcg@10" err.txt)" -eq 2 ] || fail "$m: expected 2 epoch lines on stderr: $(head -c 300 err.txt)"
  expect_ok "recommend $m known" "$BIN" recommend --model $m.edgerec --user 5 --k 5 --json
  [ "$(json_get out.txt 'len(j["items"]) == 5')" = True ] || fail "$m recommend"
  expect_ok "recommend $m new" "$BIN" recommend --model $m.edgerec --items 10,11,12,13 --k 3 --json
  cp out.txt new.json
  expect_ok "recommend $m new again" "$BIN" recommend --model $m.edgerec --items 10,11,12,13 --k 3 --json
  cmp -s out.txt new.json || fail "$m: fold-in not deterministic"
  expect_ok "similar $m" "$BIN" similar --model $m.edgerec --item 10 --json
  expect_ok "explain $m" "$BIN" explain --model $m.edgerec --items 10,11,12,13 --item 14 --json
  [ "$(json_get out.txt 'len(j["weights"]) == 4 and j["exact"] == False')" = True ] || fail "$m explain: $(head -c 300 out.txt)"
  expect_ok "explain $m known" "$BIN" explain --model $m.edgerec --user 5 --item 14 --json
  expect_ok "info $m" "$BIN" info --model $m.edgerec
  expect_ok "eval $m" "$BIN" "${E[@]}" --data seq.txt --model $m "${S[@]}"
  [ "$(json_get out.txt 'j["epochs_run"] == 6 and j["metrics"]["full_hr@10"] >= 0')" = True ] || fail "$m eval"
done
# --lr-schedule / --warmup: the curve's per-epoch rate follows the schedule; the JSON names it.
expect_ok "train cosine" "$BIN" train --data seq.txt --model sasrec "${S[@]}" --lr-schedule cosine --warmup 3 --out cos.edgerec --curve cos.curve --json
[ "$(json_get out.txt 'j["hyper"]["lr_schedule"] == "cosine" and j["hyper"]["warmup"] == 3')" = True ] || fail "lr schedule json: $(head -c 400 out.txt)"
[ "$(/usr/bin/python3 -c "import json; r=[json.loads(l)['lr'] for l in open('cos.curve')]; print(all(b < a for a, b in zip(r[1:], r[2:])) and r[-1] < 1e-6)")" = True ] || fail "cosine curve: $(cat cos.curve | head -c 600)"
expect_err "bad schedule" "lr-schedule" "$BIN" train --data seq.txt --model sasrec --lr-schedule step --out bad.edgerec
# Same seed, same model file.
expect_ok "train sasrec again" "$BIN" train --data seq.txt --model sasrec "${S[@]}" --out again.edgerec
expect_ok "info a" "$BIN" info --model sasrec.edgerec --json
cp out.txt a.json
expect_ok "recommend again" "$BIN" recommend --model again.edgerec --items 10,11,12,13 --k 5 --json
cp out.txt b.json
expect_ok "recommend first" "$BIN" recommend --model sasrec.edgerec --items 10,11,12,13 --k 5 --json
cmp -s out.txt b.json || fail "sasrec: same seed, different recommendations"
expect_err "heads must divide factors" "divisible by --heads" "$BIN" train --data seq.txt --model sasrec --factors 10 --heads 3 --out x.edgerec
finish
