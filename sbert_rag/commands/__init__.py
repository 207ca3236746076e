"""Command-line subcommands, one module each; wired together by sbert_rag.cli."""
