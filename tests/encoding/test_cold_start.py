"""Loading without torch or transformers: the numpy forward gives the torch forwards' vectors, the
torch module loads when a call or a caller needs it, and folders it cannot read exactly go to transformers."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from sbert_rag import TextEncoder
from sbert_rag.encoding import hardware
from sbert_rag.encoding.loading import BERT_DEFAULTS, map_safetensors, read_safetensors_header, read_spec, torch_free_spec
from sbert_rag.encoding.packed import NUMPY_MAX_TOKENS
from sbert_rag.encoding.tokenize import NativeTokenizer
from sbert_rag.errors import ModelLoadError

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "the cat sits",
    "a big red car",
    "the bird eats fish in the tree",
    "hello world",
    "a small blue house with a green tree and a big dog that runs in the house",
    "cat",
    "dog",
]
NASTY = ["", " ", "a", "Ünïcödé ÀÉÎ façade", "数据 中文 混合 text", "emoji 🙂🚀 tokens", "tab\tnew\nline", "x" * 150, "don't stop!!"]
CPU32 = {"device": "cpu", "dtype": "float32"}


def _st_folder(tiny_bert_dir: Path, folder: Path, pooling: str | list[str], include_prompt: bool = True) -> Path:
    """A sentence-transformers folder of the tiny BERT with a query prompt and the given pooling."""
    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling=pooling, normalize=True, query_prompt="query: ", **CPU32)
    out = enc.save(folder)
    if not include_prompt:
        config_file = out / "1_Pooling" / "config.json"
        config = json.loads(config_file.read_text())
        config["include_prompt"] = False
        config_file.write_text(json.dumps(config))
    return out


def _three(folder: Path) -> tuple[TextEncoder, TextEncoder, TextEncoder]:
    """The same folder loaded torch-free, with the packed torch forward, and with the Hugging Face forward."""
    free = TextEncoder.from_pretrained(folder, **CPU32)
    assert free._torch_free is not None
    return free, TextEncoder.from_pretrained(folder, packed=True, **CPU32), TextEncoder.from_pretrained(folder, packed=False, **CPU32)


@pytest.mark.parametrize(
    ("pooling", "include_prompt"),
    [("mean", True), ("mean", False), ("cls", False), ("max", False), ("mean_sqrt_len_tokens", True),
     ("weightedmean", False), ("lasttoken", True), (["mean", "max"], True)],
)
def test_numpy_forward_matches_both_torch_forwards(tiny_bert_dir: Path, tmp_path: Path, pooling, include_prompt) -> None:
    free, packed, plain = _three(_st_folder(tiny_bert_dir, tmp_path / "st", pooling, include_prompt))
    for role in ("query", "passage"):
        ours = free.encode(TEXTS, role=role)
        np.testing.assert_allclose(ours, packed.encode(TEXTS, role=role), atol=2e-6)
        np.testing.assert_allclose(ours, plain.encode(TEXTS, role=role), atol=2e-6)
    assert free._torch_free is not None  # every call was small: no torch module yet


def test_numpy_forward_windows_and_truncation(tiny_bert_dir: Path, tmp_path: Path) -> None:
    free, packed, _ = _three(_st_folder(tiny_bert_dir, tmp_path / "st", "mean"))
    long = " ".join(["cat", "dog", "bird"] * 50)  # 152 tokens, limit 64
    np.testing.assert_allclose(free.encode([long, "a dog"], overflow="windows"), packed.encode([long, "a dog"], overflow="windows"), atol=2e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(free.encode_queries([long]), packed.encode_queries([long]), atol=2e-6)
    assert free._torch_free is not None


def test_large_call_loads_the_torch_module_once(tiny_bert_dir: Path, tmp_path: Path) -> None:
    free, packed, _ = _three(_st_folder(tiny_bert_dir, tmp_path / "st", "mean"))
    many = TEXTS * (NUMPY_MAX_TOKENS // 20)
    assert sum(free.count_tokens(many)) > NUMPY_MAX_TOKENS
    np.testing.assert_allclose(free.encode(many), packed.encode(many), atol=2e-6)
    assert free._torch_free is None and free._module is not None and free.uses_packed()
    np.testing.assert_allclose(free.encode(TEXTS[:2]), packed.encode(TEXTS[:2]), atol=2e-6)  # torch from now on


def test_threads_share_one_torch_module(tiny_bert_dir: Path, tmp_path: Path) -> None:
    free, packed, _ = _three(_st_folder(tiny_bert_dir, tmp_path / "st", "mean"))
    loads = []
    real = free._torch_free._load_module
    free._torch_free._load_module = lambda: loads.append(1) or real()
    many = TEXTS * (NUMPY_MAX_TOKENS // 20)  # large: every thread needs the torch module
    expected = packed.encode(many)
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(free.encode(many))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(results) == 4
    for result in results:
        np.testing.assert_allclose(result, expected, atol=2e-6)


def test_module_access_loads_it_and_training_sees_the_torch_weights(tiny_bert_dir: Path, tmp_path: Path) -> None:
    import torch

    free, packed, _ = _three(_st_folder(tiny_bert_dir, tmp_path / "st", "mean"))
    module = free.module  # what training, saving and distillation use
    assert free._torch_free is None and free.module is module
    with torch.no_grad():
        module.transformer.embeddings.word_embeddings.weight.mul_(1.5)  # a weight update
    assert not np.allclose(free.encode(TEXTS), packed.encode(TEXTS), atol=1e-3)  # the update is seen


def test_torch_free_encoder_copies_and_saves(tiny_bert_dir: Path, tmp_path: Path) -> None:
    free, packed, _ = _three(_st_folder(tiny_bert_dir, tmp_path / "st", "mean"))
    twin = copy.deepcopy(free)
    np.testing.assert_allclose(twin.encode_queries(TEXTS), packed.encode_queries(TEXTS), atol=2e-6)
    assert twin._torch_free is not None and free.tokenizer is not None  # the HF tokenizer, loaded on demand
    again = TextEncoder.from_pretrained(free.save(tmp_path / "again"), **CPU32)
    np.testing.assert_allclose(again.encode_passages(TEXTS), packed.encode_passages(TEXTS), atol=2e-6)
    assert free.dim == packed.dim == 32 and free.max_tokens == packed.max_tokens == 64
    assert repr(free) == repr(packed)  # same settings shown


def test_plain_folder_and_the_packaged_model_load_torch_free(tiny_bert_dir: Path, default_model_dir: Path) -> None:
    assert torch_free_spec(read_spec(tiny_bert_dir, pooling="mean")) is not None
    light = torch_free_spec(read_spec(default_model_dir))
    assert light is not None and light.pad_token == "[PAD]" and light.config["hidden_size"] == 384


@pytest.mark.quality
def test_packaged_model_numpy_forward_matches_torch(default_encoder: TextEncoder) -> None:
    free = TextEncoder.from_pretrained(**CPU32)
    queries = ["how do honeybees tell each other where food is", "sourdough starter hooch", "a"]
    ours = np.concatenate([free.encode_queries([q]) for q in queries])
    np.testing.assert_allclose(ours, default_encoder.encode_queries(queries), atol=2e-6)
    assert free._torch_free is not None


def _hf_ids(folder: Path, texts: list[str]) -> tuple[list[list[int]], str]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    backend = copy.deepcopy(tok.backend_tokenizer)
    backend.no_truncation()
    backend.no_padding()
    return [e.ids for e in backend.encode_batch(texts)], backend.to_str()


def test_native_tokenizer_is_transformers_tokenizer(tiny_bert_dir: Path, default_model_dir: Path) -> None:
    for folder, spec in ((tiny_bert_dir, read_spec(tiny_bert_dir, pooling="mean")), (default_model_dir, read_spec(default_model_dir))):
        light = torch_free_spec(spec)
        native = NativeTokenizer(light.tokenizer_file, light.pad_token, light.model_max_length, light.model_input_names)
        ids, backend_json = _hf_ids(folder, NASTY + TEXTS)
        assert [e.ids for e in native.backend_tokenizer.encode_batch(NASTY + TEXTS)] == ids
        assert json.loads(native.backend_tokenizer.to_str()) == json.loads(backend_json)
        from transformers import AutoTokenizer

        hf = AutoTokenizer.from_pretrained(str(folder))
        assert (native.pad_token_id, native.model_max_length) == (hf.pad_token_id, hf.model_max_length)
        assert native.model_input_names == list(hf.model_input_names)


def test_bert_defaults_are_transformers_defaults() -> None:
    from transformers import BertConfig

    config = BertConfig()
    assert {key: getattr(config, key) for key in BERT_DEFAULTS} == BERT_DEFAULTS


def _copy(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(folder, out)
    return out


@pytest.mark.parametrize(
    "change",
    ["lowercase_mismatch", "unknown_tokenizer_key", "other_model_type", "bf16_weights", "missing_tensor", "quantized"],
)
def test_folders_it_cannot_read_exactly_go_to_transformers(tiny_bert_dir: Path, tmp_path: Path, change: str) -> None:
    folder = _copy(tiny_bert_dir, tmp_path)
    tok_config, config = folder / "tokenizer_config.json", folder / "config.json"
    if change == "lowercase_mismatch":  # transformers' BertTokenizer rebuilds the normalizer from these settings
        data = {**json.loads(tok_config.read_text()), "tokenizer_class": "BertTokenizer", "do_lower_case": False}
        tok_config.write_text(json.dumps(data))
    elif change == "unknown_tokenizer_key":
        tok_config.write_text(json.dumps({**json.loads(tok_config.read_text()), "add_prefix_space": True}))
    elif change == "other_model_type":
        config.write_text(json.dumps({**json.loads(config.read_text()), "model_type": "roberta"}))
    elif change == "quantized":
        config.write_text(json.dumps({**json.loads(config.read_text()), "quantization_config": {"bits": 8}}))
    else:
        from safetensors.torch import load_file, save_file

        state = load_file(str(folder / "model.safetensors"))
        if change == "bf16_weights":
            state = {k: v.bfloat16() if v.is_floating_point() else v for k, v in state.items()}
        else:
            state.pop("encoder.layer.1.output.dense.bias")
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    assert torch_free_spec(read_spec(folder, pooling="mean")) is None


def test_only_cpu_float32_default_forward_loads_torch_free(tiny_bert_dir: Path) -> None:
    options = {"pooling": "mean", "device": "cpu"}
    assert TextEncoder.from_pretrained(tiny_bert_dir, dtype="float32", **options)._module is None
    for extra in ({"dtype": "bfloat16"}, {"dtype": "float32", "packed": False}, {"dtype": "float32", "packed": True},
                  {"dtype": "float32", "hf_model_kwargs": {"attn_implementation": "eager"}}):
        assert TextEncoder.from_pretrained(tiny_bert_dir, **{**options, **extra})._module is not None


def test_safetensors_mapping_is_exact_and_refuses_what_numpy_lacks(tiny_bert_dir: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    mapped = map_safetensors(tiny_bert_dir / "model.safetensors")
    loaded = load_file(str(tiny_bert_dir / "model.safetensors"))
    assert mapped.keys() == loaded.keys() and all(np.array_equal(mapped[k], loaded[k]) for k in loaded)
    assert not mapped["embeddings.word_embeddings.weight"].flags.writeable
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(ModelLoadError, match="not a readable safetensors file"):
        read_safetensors_header(bad)
    from safetensors.torch import save_file

    import torch

    save_file({"w": torch.zeros(2, 2, dtype=torch.bfloat16)}, str(bad))
    with pytest.raises(ModelLoadError, match="'BF16', which numpy cannot map"):
        map_safetensors(bad)


def test_may_have_gpu_reads_device_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware.sys, "platform", "linux")
    monkeypatch.setattr(hardware, "_GPU_DEVICE_FILES", ("/nonexistent/nvidiactl",))
    assert hardware.may_have_gpu() is False
    monkeypatch.setattr(hardware, "_GPU_DEVICE_FILES", (str(ROOT),))  # any path that exists
    assert hardware.may_have_gpu() is True
    monkeypatch.setattr(hardware.sys, "platform", "darwin")
    assert hardware.may_have_gpu() is True


@pytest.mark.skipif(hardware.may_have_gpu(), reason="a GPU may be here: device='auto' asks torch")
def test_a_query_in_a_fresh_process_imports_no_torch() -> None:
    code = textwrap.dedent("""
        import sys
        from sbert_rag import TextEncoder
        enc = TextEncoder.from_pretrained()  # device and dtype auto, as the CLI loads it
        vector = enc.encode_queries(["how do honeybees tell each other where food is"])
        print(vector.shape, enc.device, enc.dtype.value, "torch" in sys.modules, "transformers" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    if "bfloat16" in out:
        pytest.skip("this CPU computes bf16 natively: dtype auto is bf16, which needs torch")
    assert out.split() == ["(1,", "384)", "cpu", "float32", "False", "False"]
