#!/usr/bin/env bash
# Runs every baseline at full size, one after another, into WORKDIRS (default ./workdirs).
# Each run resumes if its workdir already has a checkpoint. Results: WORKDIRS/<name>/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORKDIRS:-workdirs}
PY=${PYTHON:-python}
run() {  # name config[:arg]
  echo "=== $1 ($(date -u +%H:%M:%S))"
  /usr/bin/time -v $PY scripts/train.py --config="configs/baselines/$2" --workdir="$W/$1" \
    > "$W/$1.log" 2> "$W/$1.err" || { echo "FAILED: $1 (see $W/$1.err)"; return 1; }
  grep -E "Elapsed|Maximum resident" "$W/$1.err" || true
}
mkdir -p "$W"
for name in ${ONLY:-cora_gcn cora_gat citeseer_gcn citeseer_gat mnist_cnn shakespeare_lm cifar10_resnet20 cifar10_vit}; do
  case $name in
    citeseer_gcn) run $name cora_gcn.py:data.name=citeseer ;;
    citeseer_gat) run $name cora_gat.py:data.name=citeseer ;;
    *) run $name $name.py ;;
  esac
done
