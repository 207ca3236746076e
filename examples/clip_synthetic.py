"""Train a small CLIP from scratch on synthetic shapes and retrieve held-out combinations by text.

Images are coloured shapes on coloured backgrounds with captions such as "a small red triangle on
a blue background". Some (colour, shape) pairs never appear in training, with any background or
size; after training, each caption of a held-out combination queries a gallery with one new
image per combination (held-out and seen ones alike, so seen look-alikes are distractors)
through ``MultimodalIndex``, and text-to-image recall@1 / recall@5 are reported. The same gallery
(written as PNG files) is then indexed by LlamaIndex's ``MultiModalVectorStoreIndex`` with our
``SbertRagMultiModalEmbedding`` and queried with ``text_to_image_retrieve``: its recall is reported
too (``llamaindex_recall@1`` / ``@5``; ``--no-llamaindex`` skips it).

    python examples/clip_synthetic.py            # full run (target: recall@1 >= 0.90)
    python examples/clip_synthetic.py --quick    # short CI run
    python examples/clip_synthetic.py --json     # one JSON line: recall@1, recall@5, seconds, ...

Runs on CPU, offline, with torch limited to ``--threads`` (1) threads; fits a 2-core machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from sbert_rag.image import CLIPConfig, CLIPEncoder
from sbert_rag.multimodal import MultimodalChunk, MultimodalIndex
from sbert_rag.training import CLIPTrainer, CLIPTrainingConfig, EpochStats

COLOURS = {
    "red": (220, 30, 30), "green": (30, 160, 40), "blue": (35, 70, 225), "yellow": (240, 215, 30),
    "purple": (135, 40, 175), "orange": (250, 135, 0), "white": (245, 245, 245), "black": (15, 15, 15),
}
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
SIZES = {"small": (0.20, 0.26), "large": (0.34, 0.40)}  # radius range, as a fraction of the side
SHIFT = 0.12  # the centre moves up to 12% of the side from the middle of the image
SUPERSAMPLE = 4  # draw at 4x and downsample, so edges are anti-aliased like a real photo


def held_out_pairs() -> set[tuple[str, str]]:
    """(colour, shape) pairs never seen in training: colour i with shape i mod 5 (8 of 40 pairs)."""
    return {(colour, SHAPES[i % len(SHAPES)]) for i, colour in enumerate(COLOURS)}


def combinations() -> list[tuple[str, str, str, str]]:
    """Every (size, colour, shape, background) with the background unlike the shape."""
    every = itertools.product(SIZES, COLOURS, SHAPES, COLOURS)
    return [(size, colour, shape, bg) for size, colour, shape, bg in every if bg != colour]


def caption(combo: tuple[str, str, str, str]) -> str:
    size, colour, shape, bg = combo
    article = "an" if bg[0] in "aeiou" else "a"
    return f"a {size} {colour} {shape} on {article} {bg} background"


def render(combo: tuple[str, str, str, str], side: int, rng: random.Random) -> Image.Image:
    """Draw one image of ``combo`` at a random position, radius and colour jitter."""
    size, colour, shape, bg = combo
    big = side * SUPERSAMPLE
    image = Image.new("RGB", (big, big), _jitter(COLOURS[bg], rng))
    draw = ImageDraw.Draw(image)
    r = rng.uniform(*SIZES[size]) * big
    cx, cy = (big / 2 + rng.uniform(-SHIFT, SHIFT) * big for _ in range(2))
    fill = _jitter(COLOURS[colour], rng)
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "square":
        s = r * 0.9  # about the circle's area, so size alone does not tell them apart
        draw.rectangle((cx - s, cy - s, cx + s, cy + s), fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r * 0.95, cy + r * 0.8), (cx + r * 0.95, cy + r * 0.8)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    else:  # cross
        w = r * 0.38
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)
    return image.resize((side, side), Image.Resampling.BOX)


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int = 18) -> tuple[int, ...]:
    return tuple(min(255, max(0, c + rng.randint(-amount, amount))) for c in rgb)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run for CI (well under a minute)")
    parser.add_argument("--json", action="store_true", help="print one JSON line with the figures")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 40, quick 3)")
    parser.add_argument("--per-combo", type=int, default=None,
                        help="training images per combination (default 30, quick 8)")
    # one thread: this model's matrices are too small to gain from two, and on a busy machine two
    # OpenMP threads can stall each other (steps 20x slower); pass --threads 2 to compare
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-llamaindex", action="store_true", help="skip the MultiModalVectorStoreIndex check")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    epochs = args.epochs or (3 if args.quick else 40)
    per_combo = args.per_combo or (8 if args.quick else 30)
    side = 32
    rng = random.Random(args.seed)
    held = held_out_pairs()
    combos = combinations()
    train = [c for c in combos if (c[1], c[2]) not in held]
    test = [c for c in combos if (c[1], c[2]) in held]
    train_images = [render(c, side, rng) for c in train for _ in range(per_combo)]
    train_captions = [caption(c) for c in train for _ in range(per_combo)]

    # 16-px patches: each of the 4 patch tokens sees one quadrant of the (centred) shape, which a tiny
    # ViT learns far faster on CPU than 8-px patches; captions are at most 11 tokens, so 16 is enough
    config = CLIPConfig.small(embed_dim=64, image_size=side, patch_size=16, vision_width=64, vision_layers=2,
                              head_width=32, text_width=64, text_heads=2, text_layers=1, context_length=16)
    clip = CLIPEncoder.from_config(config, seed=args.seed, device="cpu", batch_size=256)
    training = CLIPTrainingConfig(epochs=epochs, batch_size=128, learning_rate=3e-3, weight_decay=0.1,
                                  warmup_steps=100, seed=args.seed)

    def report(stats: EpochStats) -> None:
        if not args.json:
            print(f"epoch {stats.epoch}: loss {stats.loss:.3f}, scale {stats.logit_scale:.1f}, "
                  f"{stats.seconds:.0f} s", file=sys.stderr)

    CLIPTrainer(clip, training).fit(train_images, train_captions, on_epoch_end=report)
    train_seconds = time.perf_counter() - start

    # gallery: one fresh image of every combination; queries: the held-out captions
    gallery = {caption(c): render(c, side, rng) for c in combos}
    index = MultimodalIndex(image_encoder=clip)
    index.add([MultimodalChunk(text, image=image) for text, image in gallery.items()])
    queries = [caption(c) for c in test]
    hits = index.search_batch(queries, k=5)
    ranked = [[x.id for x in h] for h in hits]
    r1, r5 = _recall(queries, ranked, 1), _recall(queries, ranked, 5)
    misses = [[q, r[0]] for q, r in zip(queries, ranked) if r[0] != q]  # (query, what came first)
    llamaindex = {} if args.no_llamaindex else _llamaindex_recall(clip, gallery, queries)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "recall@1": round(r1, 4), "recall@5": round(r5, 4), "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "load_average": round(os.getloadavg()[0], 2),
        "train_seconds": round(train_seconds, 1), "queries": len(queries), "gallery": len(index),
        "train_pairs": len(train_images), "epochs": epochs, "threads": args.threads, "quick": args.quick,
        "misses_at_1": misses if len(misses) <= 20 else len(misses),
        **llamaindex,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"held-out text->image over {len(index)} images: recall@1 {r1:.3f}, recall@5 {r5:.3f}, "
              f"{result['seconds']} s in all ({len(train_images)} training pairs, {epochs} epochs)")
        if llamaindex:
            print(f"same through LlamaIndex MultiModalVectorStoreIndex: recall@1 {llamaindex['llamaindex_recall@1']:.3f}, "
                  f"recall@5 {llamaindex['llamaindex_recall@5']:.3f}")
    return result


def _recall(queries: list[str], ranked: list[list[str]], k: int) -> float:
    return sum(q in r[:k] for q, r in zip(queries, ranked)) / len(queries)


def _llamaindex_recall(clip: CLIPEncoder, gallery: dict[str, Image.Image], queries: list[str]) -> dict[str, float]:
    """Index the gallery as image files with MultiModalVectorStoreIndex and query it by text."""
    from llama_index.core.indices import MultiModalVectorStoreIndex
    from llama_index.core.schema import ImageDocument
    from llama_index.embeddings.sbert_rag import SbertRagMultiModalEmbedding

    embedding = SbertRagMultiModalEmbedding(clip, embed_batch_size=256)
    with tempfile.TemporaryDirectory() as folder:
        docs = []
        for i, (text, image) in enumerate(gallery.items()):
            path = Path(folder) / f"{i:04d}.png"
            image.save(path)
            docs.append(ImageDocument(image_path=str(path), metadata={"caption": text}))
        # no text documents: the text embed_model is never called, but must not default to a hosted API
        index = MultiModalVectorStoreIndex.from_documents(docs, embed_model=embedding, image_embed_model=embedding)
        retriever = index.as_retriever(image_similarity_top_k=5)
        ranked = [[hit.node.metadata["caption"] for hit in retriever.text_to_image_retrieve(q)] for q in queries]
    return {"llamaindex_recall@1": round(_recall(queries, ranked, 1), 4),
            "llamaindex_recall@5": round(_recall(queries, ranked, 5), 4)}


if __name__ == "__main__":
    main()
