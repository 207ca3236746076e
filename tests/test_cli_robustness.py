"""The sbert-rag command when its surroundings misbehave: a pipe closed early, over-long input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sbert_rag import TextEncoder
from sbert_rag.cli import BROKEN_PIPE_STATUS, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_store(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of the example corpus, indexed in-process with the tiny BERT (64 tokens, dim 32)."""
    folder = tmp_path_factory.mktemp("robust")
    model = TextEncoder.from_pretrained(
        tiny_bert_dir, pooling="mean", normalize=True, device="cpu", dtype="float32"
    ).save(folder / "model")
    corpus = folder / "corpus"
    shutil.copytree(ROOT / "examples" / "corpus", corpus)
    store = folder / "store"
    argv = ["index", str(corpus), "--store", str(store), "--model", str(model), "--dtype", "float32", "--quiet"]
    assert main(argv) == 0
    return store


def _child(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-m", "sbert_rag.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_search_into_a_closed_pipe_exits_quietly(tiny_store: Path, mode: str) -> None:
    proc = _child("search", "sourdough starter hooch", "--store", str(tiny_store), "--json", "--mode", mode)
    proc.stdout.close()  # the reader is gone before the first byte is written, as with `| head -c 0`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == BROKEN_PIPE_STATUS, err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err


def test_search_into_an_open_pipe_still_prints_everything(tiny_store: Path) -> None:
    proc = _child("search", "sourdough starter hooch", "--store", str(tiny_store), "--json", "--mode", "bm25")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert out.decode().startswith("[{") and out.decode().rstrip().endswith("}]")


# ---------------------------------------------------------------- warnings in the terminal
LONG_QUERY = " ".join(["cat"] * 100)  # 102 tokens with [CLS]/[SEP]; the tiny model reads 64


def test_truncated_query_is_one_line_in_cli_words(tiny_store: Path) -> None:
    proc = _child("search", LONG_QUERY, "--store", str(tiny_store), "--mode", "dense", "--k", "1")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    expected = (
        "sbert-rag: warning: the query is 102 tokens long, but the model reads at most 64: "
        "only the first 64 tokens were read and the rest was ignored"
    )
    assert err.decode().splitlines() == [expected]


def test_cli_warning_in_process_leaves_the_callers_warning_hooks_alone(tiny_store: Path, capsys) -> None:
    import warnings

    before = warnings.showwarning
    assert main(["search", LONG_QUERY, "--store", str(tiny_store), "--mode", "dense", "--k", "1"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("sbert-rag: warning: the query is 102 tokens long") and "overflow" not in err
    assert warnings.showwarning is before


def test_library_warning_keeps_its_message_and_carries_the_facts(tiny_encoder) -> None:
    from sbert_rag.cli import warning_text
    from sbert_rag.encoding.tokenize import TruncationWarning

    with pytest.warns(TruncationWarning, match=r"2 of 3 passages exceed.*overflow='windows'") as record:
        tiny_encoder.encode_passages(["a dog", LONG_QUERY, LONG_QUERY + " dog"])
    warning = record[0].message
    assert (warning.what, warning.n_inputs, warning.token_counts, warning.limit) == ("passage", 3, {1: 102, 2: 103}, 64)
    assert warning_text(warning) == (
        "2 of 3 passages are longer than the 64 tokens the model reads: passage 2 (102 tokens), "
        "passage 3 (103 tokens); of each, only the first 64 tokens were read and the rest was ignored"
    )
    # raised with a message only (as the streaming encoder does): its facts, not its advice
    bare = TruncationWarning("3 of 9 inputs exceed the model's 64 tokens and were truncated (indices: 1). Pass overflow='windows'.")
    assert warning_text(bare) == "3 of 9 inputs exceed the model's 64 tokens and were truncated (indices: 1)."


def test_other_warnings_reach_the_previous_hook_unchanged(capsys) -> None:
    from sbert_rag.cli import _warning_printer

    seen = []
    show = _warning_printer(lambda *args: seen.append(args))
    show(DeprecationWarning("old"), DeprecationWarning, "x.py", 3)
    assert len(seen) == 1 and seen[0][2:4] == ("x.py", 3)
    from sbert_rag.training.towers import TrainingTruncationWarning

    show(TrainingTruncationWarning("cut\n  for training"), TrainingTruncationWarning, "x.py", 3)
    assert capsys.readouterr().err == "sbert-rag: warning: cut for training\n"


# ---------------------------------------------------------------- cold start: load only what the run needs
def test_a_run_parses_with_its_own_command_module_only() -> None:
    code = (
        "import sys; from sbert_rag.cli import build_parser; build_parser(['search', 'x']).parse_args(['search', 'x']); "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('sbert_rag.commands.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.split() == ["sbert_rag.commands.common", "sbert_rag.commands.search"]


def test_help_still_lists_every_command(capsys) -> None:
    from sbert_rag.cli import COMMANDS, build_parser, command_path

    for argv in (["--help"], ["eval", "--help"], ["train", "--help"], ["bench", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
    shown = capsys.readouterr().out
    assert all(path[-1] in shown and help_text.split()[0] in shown for path, _, help_text in COMMANDS)
    assert command_path(["eval", "sts", "f.csv"]) == ("eval", "sts") and command_path(["search", "q"]) == ("search",)
    assert command_path(["--version"]) is None and command_path(["bogus", "x"]) is None
    full = build_parser()  # no argv: every command with its arguments
    assert full.parse_args(["info", "--store", "s"])._run is not None
    assert full.parse_args(["eval", "sts", "f.csv"])._run is not None


def test_search_in_a_fresh_process_imports_no_torch(tiny_store: Path) -> None:
    from sbert_rag.encoding.hardware import cpu_has_fast_bf16, may_have_gpu

    if may_have_gpu() or cpu_has_fast_bf16():
        pytest.skip("a GPU may be here, or dtype 'auto' is bf16 here: both need torch")
    code = (
        "import sys; from sbert_rag.cli import main; "
        f"code = main(['search', 'sourdough starter hooch', '--store', {str(tiny_store)!r}, '--json']); "
        "print(code, 'torch' in sys.modules, 'transformers' in sys.modules, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert proc.stderr.split()[-3:] == ["0", "False", "False"], proc.stderr
    assert proc.stdout.startswith("[{")
