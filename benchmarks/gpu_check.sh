#!/usr/bin/env bash
# The GPU check: on one CUDA GPU, in at most 8 minutes (the steps' time limits sum to 450 s), answer
#   1. do the CUDA tests pass (pytest -m cuda: bf16/fp16 steps, channels_last, compile, NCCL DDP, resume),
#   2. how fast does each model train and predict at 512x512 (the project's bf16/fp16 path vs the plain fp32 loop),
#   3. what training batch fits per model at 512x512,
#   4. does the Table 5 section run on CUDA at full tiles (one model, one group, one epoch),
#   5. how fast, and in how much host memory, does an untrained U-Net predict whole scenes of 2048 and 8192 px.
# Each step runs under its own time limit; a failed step does not stop the others. Results go to
# benchmarks/results/ (or --out), named by device: pytest-<device>.xml, throughput-, pipeline-, targets-,
# batch-fit-, scene-scale-<device>.{csv,json}, a log per step, and the summary gpu-check-<device>.md.
#
#   bash benchmarks/gpu_check.sh [--data-root DIR] [--python PATH] [--out DIR] [--dry-run]
set -u

usage() {
    cat <<'EOF'
usage: bash benchmarks/gpu_check.sh [--data-root DIR] [--python PATH] [--out DIR] [--dry-run]

  --data-root DIR  tiles in the CAS layout for the data pipeline and the Table 5 step
                   (default: the synthetic demo data in data/demo, written on first use)
  --python PATH    the Python of the project's environment (default: .venv/bin/python)
  --out DIR        folder for the results (default: benchmarks/results)
  --dry-run        print each step's command and time limit, and exit (needs no GPU)
EOF
}

absolute() {  # a path given on the command line, relative to where the script was called from
    case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=.venv/bin/python
out=benchmarks/results
data_root=""
dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1; shift ;;
        --data-root|--python|--out)
            if [ $# -lt 2 ]; then echo "gpu_check: $1 needs a value" >&2; usage >&2; exit 2; fi
            case "$1" in
                --data-root) data_root=$(absolute "$2") ;;
                --python) case "$2" in */*) python=$(absolute "$2") ;; *) python=$2 ;; esac ;;
                --out) out=$(absolute "$2") ;;
            esac
            shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu_check: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
cd "$repo" || exit 2

# --------------------------------------------------------------------------- device
if [ "$dry_run" = 1 ]; then
    slug="<device>"
else
    if ! timeout 60 "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
        echo "gpu_check: CUDA is not available to $python (torch.cuda.is_available() is False, or torch does not" \
             "import): run this on a machine with an NVIDIA GPU and the CUDA build of torch (make creates" \
             ".venv with it), or pass --dry-run to list the steps" >&2
        exit 2
    fi
    slug=$(timeout 60 "$python" -c 'import torch
from landslide_core.experiments.throughput import device_slug
print(device_slug(torch.device("cuda", torch.cuda.current_device())))') || {
        echo "gpu_check: could not name the device with $python" >&2; exit 2; }
    mkdir -p "$out" || exit 2
fi

# --------------------------------------------------------------------------- steps
q() { printf '%q ' "$@"; }  # one command line, each argument quoted for bash -c

data_args=()
table5_root=data/demo
if [ -n "$data_root" ]; then
    data_args=(--data-root "$data_root")
    table5_root=$data_root
fi
# Fresh runs, so that the step trains rather than finding the runs of an earlier check finished.
if [ "$dry_run" = 1 ]; then
    table5_runs="<temporary folder>"
else
    table5_runs=$(mktemp -d -t gpu-check-table5-XXXXXX) || exit 2
    trap 'rm -rf "$table5_runs"' EXIT
fi
table5=$(q "$python" -m landslide_core book --profile paper --section benchmarks --execute-only --force \
    -p data_root "$table5_root" -p device cuda -p epochs 1 -p crop_size null -p models '[deeplabv3plus]' \
    -p groups '[SAT]' -p seeds '[0]' -p pretrained false -p train true -p runs_dir "$table5_runs")
if [ -z "$data_root" ]; then table5="$(q "$python" -m landslide_core demo-data data/demo -q)&& $table5"; fi

names=(cuda-tests throughput batch-fit table5 scene-scale)
limits=(120 80 100 90 60)
commands=(
    "$(q "$python" -m pytest -m cuda tests -q -p no:cacheprovider --continue-on-collection-errors \
        --junitxml "$out/pytest-$slug.xml")"
    "$(q "$python" benchmarks/throughput.py --device cuda --warmup 2 --steps 5 --seconds 2 --workers 4 --passes 1 \
        --out "$out" "${data_args[@]}")"
    "$(q "$python" benchmarks/batch_fit.py --device cuda --cap 256 --out "$out")"
    "$table5"
    "$(q "$python" benchmarks/scene_scale.py --device cuda --model unet --sizes 2048 8192 --out-dir "$out")"
)
total=0
for limit in "${limits[@]}"; do total=$((total + limit)); done

if [ "$dry_run" = 1 ]; then
    echo "gpu_check: ${#names[@]} steps, time limits summing to ${total} s; results in $out"
    for i in "${!names[@]}"; do
        echo "step $((i + 1)) ${names[$i]} (limit ${limits[$i]} s): ${commands[$i]}"
    done
    exit 0
fi

# --------------------------------------------------------------------------- run
rows=()
failed=0
for i in "${!names[@]}"; do
    name=${names[$i]} limit=${limits[$i]}
    log="$out/gpu-check-$slug-$name.log"
    echo "gpu_check: step $((i + 1))/${#names[@]} $name (limit ${limit} s) → $log"
    started=$EPOCHREALTIME
    timeout --kill-after=5 "$limit" bash -c "${commands[$i]}" >"$log" 2>&1
    rc=$?
    seconds=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
    case $rc in
        0) status=passed ;;
        124|137) status="timed out after ${limit} s"; failed=1 ;;
        *) status="failed (exit $rc)"; failed=1 ;;
    esac
    echo "gpu_check: $name: $status in ${seconds} s"
    rows+=("| $name | $status | $seconds | $limit | \`$(basename "$log")\` |")
done

summary="$out/gpu-check-$slug.md"
facts=$(timeout 60 "$python" - 2>&1 <<'EOF'
import platform

import torch

from landslide_core.provenance import device_description, git_state

commit, modified = git_state()
capability = ".".join(map(str, torch.cuda.get_device_capability()))
print(f"- device: {device_description('cuda')}, compute capability {capability}")
print(f"- commit: {commit}{' + local changes' if modified else ''}")
print(f"- Python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
EOF
)
{
    echo "# GPU check: $slug"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), \`bash benchmarks/gpu_check.sh${data_root:+ --data-root $data_root}\`"
    echo
    echo "$facts"
    echo "- data: ${data_root:-synthetic demo data (data/demo)}"
    echo
    echo "| step | status | seconds | limit (s) | log |"
    echo "| --- | --- | ---: | ---: | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Time limits sum to ${total} s. Results: \`pytest-$slug.xml\`, \`throughput-$slug\`, \`pipeline-$slug\`,"
    echo "\`targets-$slug\`, \`batch-fit-$slug\` and \`scene-scale-$slug\` (\`.csv\` and \`.json\` with provenance)."
    for table in targets batch-fit; do
        if [ -f "$out/$table-$slug.csv" ]; then
            echo
            echo "\`$table-$slug.csv\`:"
            echo
            echo '```'
            cat "$out/$table-$slug.csv"
            echo '```'
        fi
    done
} >"$summary.tmp" && mv "$summary.tmp" "$summary"
echo "gpu_check: summary in $summary"
exit "$failed"
