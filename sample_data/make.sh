#!/usr/bin/env sh
# Regenerate every data file in sample_data/ with mfcli's own generator.
# tests/test_sample_data.py runs these same lines and compares the results with
# the committed files, so the files and the generator cannot drift apart.
# Usage: sh sample_data/make.sh   (MFCLI=".venv/bin/mfcli" to pick the binary)
set -eu
cd "$(dirname "$0")"
MFCLI="${MFCLI:-mfcli}"

$MFCLI generate ratings --users 943 --items 1682 --ratings 35000 --seed 42 -o ratings.csv --force -q
$MFCLI generate ratings --users 943 --items 1682 --ratings 35000 --seed 42 -o ratings.mtx --force -q
$MFCLI generate implicit --users 500 --items 800 --nnz 6000 --seed 42 -o implicit.tsv --force -q
$MFCLI generate lowrank --rows 200 --cols 50 --rank 5 --decimals 4 --seed 42 -o lowrank_dense.csv --force -q
$MFCLI generate lowrank --rows 200 --cols 50 --rank 5 --decimals 4 --seed 42 -o lowrank_dense.h5 --force -q
$MFCLI generate lowrank-sparse --rows 600 --cols 300 --nnz 6000 --rank 5 --decimals 4 --seed 42 -o lowrank_csr.h5 --force -q
$MFCLI generate docterm --rows 300 --rank 6 --doc-length 50 --seed 42 -o docterm.mtx --force -q
