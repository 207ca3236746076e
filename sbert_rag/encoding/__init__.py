"""Text encoding: loading sentence-transformers folders, pooling, normalisation, prompts, overflow."""
