"""Peak RSS of streaming encode for 10k and 100k passages: it must stay flat.

Run from the repository root:
    python benchmarks/stream_memory.py --json
Each size runs in a fresh subprocess that streams passages (SciFact abstracts, cycled, made
distinct by a counter, generated lazily) through TextEncoder.encode_to_npy and reports its peak
RSS. Memory behaviour is what is measured, so by default the model is a small random BERT
(hidden 64, 2 layers, the all-MiniLM tokenizer) built here, which keeps 100k passages to minutes
on 2 cores; --model uses a real folder instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import itertools, json, resource, sys, time, warnings
from pathlib import Path
from sbert_rag import TextEncoder
from sbert_rag.bench.workloads import read_corpus
model, n, corpus, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
enc = TextEncoder.from_pretrained(model, device="cpu")
abstracts = [r["title"] + " " + r["text"][:1000] for r in read_corpus(corpus)[:500]]
del corpus
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def stream():
    for i in range(n):
        yield f"{i} " + abstracts[i % len(abstracts)]
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    rows = enc.encode_to_npy(stream(), out, chunk_size=2048)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"passages": rows, "peak_rss_mb": round(peak / 1024, 1), "rss_before_encode_mb": round(base / 1024, 1), "seconds": round(time.perf_counter() - start, 1)}))
"""


def small_model(folder: Path) -> Path:
    """A random BERT (hidden 64, 2 layers) with the packaged model's tokenizer, as a plain HF folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from sbert_rag import default_model_path

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(default_model_path()))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, max_position_embeddings=512)
    BertModel(cfg).save_pretrained(folder)
    tok.model_max_length = 256
    tok.save_pretrained(folder)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 64, "pooling_mode_mean_tokens": True}))
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder (default: small random BERT built here)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--corpus", type=Path, default=Path("..") / "shared" / "data" / "scifact" / "corpus.jsonl.gz")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(small_model(Path(tmp) / "small"))
        results = []
        for n in args.sizes:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, model, str(n), str(args.corpus), str(Path(tmp) / f"v{n}.npy")],
                capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            if not args.json:
                print(results[-1], file=sys.stderr, flush=True)
    growth = results[-1]["peak_rss_mb"] - results[0]["peak_rss_mb"]
    report = {"runs": results, "peak_rss_growth_mb": round(growth, 1), "flat": abs(growth) < 0.1 * results[0]["peak_rss_mb"]}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
