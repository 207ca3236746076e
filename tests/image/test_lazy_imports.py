"""The image and multimodal packages load neither torch, open_clip nor PIL until an image is used."""

from __future__ import annotations

import subprocess
import sys


def test_image_and_multimodal_imports_are_light() -> None:
    code = (
        "import sys\n"
        "import sbert_rag.image, sbert_rag.multimodal\n"
        "from sbert_rag.multimodal import MultimodalChunk, MultimodalIndex\n"
        "from sbert_rag.image import CLIPConfig, OnBadImage\n"
        "MultimodalChunk('a', text='b'); CLIPConfig.small()\n"
        "print(sorted(m for m in ('torch', 'open_clip', 'PIL') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
