"""The packaged model ranks the right passage first for a dozen hand-written query/passage pairs."""

from __future__ import annotations

import numpy as np
import pytest

from sbert_rag import TextEncoder

pytestmark = pytest.mark.quality

PAIRS = [
    ("How do plants make food?", "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar."),
    ("What is the capital of France?", "Paris is the capital and largest city of France."),
    ("How fast does light travel?", "Light moves through a vacuum at about 300,000 kilometres per second."),
    ("Why is the sky blue?", "Rayleigh scattering of sunlight by air molecules makes the sky look blue."),
    ("How do vaccines work?", "Vaccines train the immune system to recognise a pathogen without causing disease."),
    ("What causes earthquakes?", "Earthquakes happen when tectonic plates slip suddenly along a fault."),
    ("How do I bake bread?", "Mix flour, water, yeast and salt, let the dough rise, then bake it in a hot oven."),
    ("Who wrote Hamlet?", "Hamlet is a tragedy written by William Shakespeare around 1600."),
    ("What is the boiling point of water?", "At sea level water boils at 100 degrees Celsius."),
    ("How do bees communicate?", "Honey bees perform a waggle dance to tell others where flowers are."),
    ("What is machine learning?", "Machine learning builds models that learn patterns from data instead of fixed rules."),
    ("How do I fix a flat bicycle tyre?", "Remove the wheel, patch or replace the inner tube, and pump it back up."),
]


def test_right_passage_ranks_first(default_encoder: TextEncoder) -> None:
    q = default_encoder.encode_queries([p[0] for p in PAIRS])
    d = default_encoder.encode_passages([p[1] for p in PAIRS])
    ranks = np.argmax(q @ d.T, axis=1)
    assert ranks.tolist() == list(range(len(PAIRS)))


def test_windows_keep_a_fact_buried_past_the_limit(default_encoder: TextEncoder) -> None:
    filler = " ".join(["The committee discussed the annual budget and the schedule of meetings."] * 30)
    doc = filler + " The secret ingredient of the recipe is smoked paprika."
    query = default_encoder.encode_queries(["what is the secret ingredient of the recipe?"])
    truncated = default_encoder.encode_passages([doc])  # warns: the fact is cut off
    windows = default_encoder.encode_passages([doc], overflow="windows")
    assert default_encoder.last_report.windowed[0] >= 2
    assert (query @ windows.T).item() > (query @ truncated.T).item()
