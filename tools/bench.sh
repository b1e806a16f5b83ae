#!/usr/bin/env bash
# Prints the project's speed and accuracy figures as one JSON object, measured on the real
# MovieLens and Amazon Beauty copies in ../shared/data (or $EDGEREC_DATA; "beauty_seq" is null
# without amazon-beauty-s3rec/Beauty.txt). Needs a built build/ (tools/build.sh;
# the README's training speeds are from `tools/build.sh build -DEDGEREC_NATIVE_ARCH=ON`).
# Usage: tools/bench.sh [--threads N]      (default 2 threads, the CI machine's cores)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
[ "${1:-}" = "--threads" ] && threads=$2
bin=${EDGEREC:-build/bin/edgerec}
data=${EDGEREC_DATA:-../shared/data}
ml100k=$data/ml-100k/u.data
ncf=$data/ml-1m/ncf
beauty=$data/amazon-beauty-s3rec/Beauty.txt
for f in "$ml100k" "$ncf/ml-1m.train.pairs.tsv"; do
  [ -f "$f" ] || { echo "bench: $f not found (set EDGEREC_DATA to the folder holding ml-100k/ and ml-1m/)" >&2; exit 1; }
done
py=/usr/bin/python3
get() { $py -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# iALS seconds per iteration: the difference of 21 and 1 iterations, so setup is not counted.
t1=$($bin train --data "$ncf/ml-1m.train.pairs.tsv" --model ials --factors 64 --epochs 1 --threads $threads --out /tmp/edgerec-bench.edgerec --json | get 'j["fit_seconds"]')
t21=$($bin train --data "$ncf/ml-1m.train.pairs.tsv" --model ials --factors 64 --epochs 21 --threads $threads --out /tmp/edgerec-bench.edgerec --json | get 'j["fit_seconds"]')
ials_iter=$($py -c "print(round(($t21 - $t1) / 20, 4))")

svd_fit=$($bin eval --data "$ml100k" --model svd --factors 100 --epochs 20 --protocol kfold --folds 5 --seed 0 --no-ranking --threads $threads --json | get 'round(j["fit_seconds"], 3)')

rmse() { $bin eval --data "$ml100k" --model "$1" --protocol kfold --folds 5 --seed 0 --no-ranking --threads $threads --json | get 'round(j["metrics"]["rmse"], 4)'; }
ncf_eval() {
  $bin eval --protocol ncf --data "$ncf/ml-1m.train.pairs.tsv" --test-rating "$ncf/ml-1m.test.rating" \
    --test-negative "$ncf/ml-1m.test.negative" --model "$1" --threads $threads --json |
    get '{k: round(j["metrics"][k], 4) for k in ["hr@10", "ndcg@10", "full_hr@10", "full_ndcg@10"]} | {"fit_seconds": round(j["fit_seconds"], 2)}'
}
# The sequential protocol (SASRec / S3-Rec) on Amazon Beauty, with edgerec's defaults (chosen on
# MovieLens, not on this data).
seq_eval() {
  $bin eval --protocol seq --data "$beauty" --model "$1" --threads $threads --json |
    get '{k: round(j["metrics"][k], 4) for k in ["full_hr@10", "full_ndcg@10", "hr@10", "ndcg@10"]} | {"fit_seconds": round(j["fit_seconds"], 2)}'
}
beauty_seq=null
if [ -f "$beauty" ]; then
  beauty_seq="{\"popularity\": $(seq_eval popularity | tr "'" '"'), \"itemknn\": $(seq_eval itemknn | tr "'" '"'), \"ials\": $(seq_eval ials | tr "'" '"'), \"bpr\": $(seq_eval bpr | tr "'" '"')}"
fi
cat <<JSON
{"threads": $threads,
 "ials_ml1m_64f_seconds_per_iteration": $ials_iter,
 "svd_ml100k_100f_20ep_kfold5_fit_seconds": $svd_fit,
 "ml100k_kfold5_rmse": {"mean-baseline": $(rmse mean-baseline), "baseline": $(rmse baseline), "svd": $(rmse svd), "svdpp": $(rmse svdpp)},
 "ml1m_ncf": {"ials": $(ncf_eval ials | tr "'" '"'), "bpr": $(ncf_eval bpr | tr "'" '"'), "itemknn": $(ncf_eval itemknn | tr "'" '"'), "popularity": $(ncf_eval popularity | tr "'" '"')},
 "beauty_seq": $beauty_seq}
JSON
