#!/usr/bin/env bash
# The README's first command: install what is missing, build, generate the synthetic
# catalogue, train the default model (iALS) and print recommendations for a sample user.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh build
bin=build/bin/edgerec
$bin generate --out build/data/synthetic
$bin train --data build/data/synthetic/ratings.csv --model ials --out build/model.edgerec
user=$(sed -n 2p build/data/synthetic/ratings.csv | cut -d, -f1)
$bin recommend --model build/model.edgerec --user "$user" -k 10 --explain
