"""Tokenise texts once, count every input, and apply the overflow policy. Never silent.

Owns the step from strings to model-ready token id rows: prompt prefixing, special tokens, and
what happens to inputs longer than the model reads (``warn``: truncate and report; ``error``:
raise; ``windows``: overlapping windows that fit). Each text is tokenised exactly once, by the
fast tokenizer's Rust batch path when there is one. Knows nothing about the model's weights.
:class:`NativeTokenizer` stands in for transformers' tokenizer where a tokenizer.json alone
gives the same tokens (``loading.torch_free_spec`` decides), so tokenising imports no transformers.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sbert_rag.config import OverflowPolicy
from sbert_rag.encoding.report import OverflowReport
from sbert_rag.errors import ConfigError, InputTooLongError, InvalidInputError


class TruncationWarning(UserWarning):
    """Inputs were cut to the model's length under the ``warn`` overflow policy.

    The message says it all for library users; the attributes carry the same facts for a front end
    that words them its own way (the CLI). They are empty when the warning was raised with a message
    only (``warnings.warn(text, TruncationWarning)``).

    Attributes:
        what: the word for one input in the call (``"query"``, ``"passage"``, ``"text"``, ``"input"``).
        n_inputs: inputs in the call.
        token_counts: index -> token count, for each input that was cut.
        limit: most tokens the model reads, special tokens and prompt included.
    """

    def __init__(
        self,
        message: str = "",
        *,
        what: str = "input",
        n_inputs: int = 0,
        token_counts: dict[int, int] | None = None,
        limit: int = 0,
    ) -> None:
        super().__init__(message)
        self.what = what
        self.n_inputs = n_inputs
        self.token_counts = dict(token_counts or {})
        self.limit = limit


@dataclass(frozen=True)
class TokenRows:
    """Token id rows ready for the model, and how they map back to the inputs.

    Attributes:
        rows: one list of token ids per model row, each at most the limit long.
        owner: input index of each row, int64 (n_rows,).
        weight: content tokens of each row, float32 (n_rows,); window rows of one input are
            averaged with these weights.
        n_inputs: number of inputs.
        report: what happened to over-long inputs.
    """

    rows: list[list[int]]
    owner: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float32]
    n_inputs: int
    report: OverflowReport


class NativeTokenizer:
    """A ``tokenizers.Tokenizer`` read from tokenizer.json, with the few attributes of a transformers
    fast tokenizer that :class:`TokenizerView` and the encoder read.

    Args:
        path: the tokenizer.json file.
        pad_token: the padding token's text, or None.
        model_max_length: the tokenizer's length limit; None = transformers' default (no limit).
        model_input_names: the inputs transformers' tokenizer would return.
    """

    is_fast = True

    def __init__(
        self, path: str | os.PathLike[str], pad_token: str | None, model_max_length: int | None,
        model_input_names: Sequence[str] = ("input_ids", "token_type_ids", "attention_mask"),
    ) -> None:
        from tokenizers import Tokenizer

        self.backend_tokenizer = Tokenizer.from_file(str(path))
        # tokenizer.json may carry truncation and padding (all-MiniLM's cuts at 128, pads to 128)
        self.backend_tokenizer.no_truncation()
        self.backend_tokenizer.no_padding()
        self.pad_token = pad_token
        self.pad_token_id = None if pad_token is None else self.backend_tokenizer.token_to_id(pad_token)
        self.model_max_length = int(1e30) if model_max_length is None else model_max_length  # transformers' "no limit"
        self.model_input_names = list(model_input_names)


class TokenizerView:
    """A tokenizer with its special-token layout, limit and lower-casing made explicit.

    Args:
        tokenizer: a Hugging Face tokenizer (fast or slow).
        max_tokens: most tokens the model reads, special tokens included.
        do_lower_case: lower-case texts before tokenising.
    """

    def __init__(self, tokenizer: Any, max_tokens: int, do_lower_case: bool = False) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.do_lower_case = do_lower_case
        self._backend = None
        if isinstance(tokenizer, NativeTokenizer):  # its own copy, truncation and padding already off
            self._backend = tokenizer.backend_tokenizer
        elif getattr(tokenizer, "is_fast", False):
            # A private copy: tokenizer.json may carry its own truncation/padding (all-MiniLM's
            # truncates at 128 and pads to 128), which would silently cut inputs.
            backend = copy.deepcopy(tokenizer.backend_tokenizer)
            backend.no_truncation()
            backend.no_padding()
            self._backend = backend
        empty = self._ids([""])[0]
        content = self._ids(["a"], special=False)[0]
        with_special = self._ids(["a"])[0]
        self.n_prefix = max(0, _find(with_special, content))
        self.n_suffix = max(0, len(with_special) - self.n_prefix - len(content))
        if self.n_prefix + self.n_suffix != len(empty):
            self.n_prefix, self.n_suffix = len(empty), 0
        if self.max_tokens <= self.n_prefix + self.n_suffix:
            raise ConfigError(f"max_tokens={max_tokens} leaves no room for text next to the special tokens")
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)

    def _prep(self, texts: Sequence[str]) -> list[str]:
        return [t.lower() for t in texts] if self.do_lower_case else list(texts)

    def _ids(self, texts: Sequence[str], special: bool = True) -> list[list[int]]:
        texts = self._prep(texts)
        if self._backend is not None:
            return [e.ids for e in self._backend.encode_batch(texts, add_special_tokens=special)]
        out = self.tokenizer(texts, add_special_tokens=special, truncation=False, verbose=False)
        return [list(x) for x in out["input_ids"]]

    def ids(self, texts: Sequence[str], prompt: str = "") -> list[list[int]]:
        """Token ids of ``prompt + text`` for each text, special tokens included, untruncated."""
        return self._ids([prompt + t for t in texts] if prompt else texts)

    def prompt_tokens(self, prompt: str) -> int:
        """Content tokens of a prompt on its own (no special tokens)."""
        return len(self._ids([prompt], special=False)[0]) if prompt else 0

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each content token of ``text`` (no special tokens, no prompt)."""
        if self._backend is None:
            raise ConfigError("token offsets need a fast (Rust) tokenizer; this model has a slow one")
        enc = self._backend.encode(text.lower() if self.do_lower_case else text, add_special_tokens=False)
        return [tuple(o) for o in enc.offsets]

    def prepare(
        self,
        texts: Sequence[str],
        *,
        prompt: str = "",
        policy: OverflowPolicy = OverflowPolicy.WARN,
        window_overlap: int = 32,
        what: str = "input",
        warn: bool = True,
    ) -> TokenRows:
        """Tokenise and apply the overflow policy.

        Args:
            texts: validated, non-blank strings.
            prompt: text prepended to each input (counted against the limit).
            policy: what to do with inputs longer than ``max_tokens``.
            window_overlap: tokens shared by consecutive windows (policy ``windows``).
            what: the word used for an input in messages (e.g. "query").
            warn: emit the :class:`TruncationWarning` here; False leaves it to the caller
                (:func:`warn_truncated`), which may merge the reports of several calls first.

        Raises:
            InputTooLongError: policy ``error`` and an input is too long (the first one).
        """
        limit = self.max_tokens
        ids = self.ids(texts, prompt)
        counts = tuple(len(x) for x in ids)
        long = [i for i, n in enumerate(counts) if n > limit]
        if long and policy is OverflowPolicy.ERROR:
            raise InputTooLongError(long[0], counts[long[0]], limit, what=what)
        rows: list[list[int]] = []
        owner: list[int] = []
        weight: list[float] = []
        windowed: dict[int, int] = {}
        n_prompt = self.prompt_tokens(prompt) if (long and policy is OverflowPolicy.WINDOWS) else 0
        for i, row in enumerate(ids):
            if len(row) <= limit:
                rows.append(row)
                owner.append(i)
                weight.append(float(max(1, len(row) - self.n_prefix - self.n_suffix)))
            elif policy is OverflowPolicy.WARN:
                rows.append(self._truncate(row))
                owner.append(i)
                weight.append(1.0)
            else:
                wins = self._windows(row, n_prompt, window_overlap)
                windowed[i] = len(wins)
                for win, n_content in wins:
                    rows.append(win)
                    owner.append(i)
                    weight.append(float(n_content))
        truncated = tuple(long) if policy is OverflowPolicy.WARN else ()
        report = OverflowReport(limit=limit, policy=policy.value, token_counts=counts, truncated=truncated, windowed=windowed)
        if warn:
            warn_truncated(report, what)
        return TokenRows(
            rows=rows,
            owner=np.asarray(owner, dtype=np.int64),
            weight=np.asarray(weight, dtype=np.float32),
            n_inputs=len(texts),
            report=report,
        )

    def _truncate(self, row: list[int]) -> list[int]:
        limit = self.max_tokens
        if self.n_suffix:
            return row[: limit - self.n_suffix] + row[-self.n_suffix :]
        return row[:limit]

    def _windows(self, row: list[int], n_prompt: int, overlap: int) -> list[tuple[list[int], int]]:
        head = row[: self.n_prefix + n_prompt]  # special prefix + prompt, repeated in every window
        tail = row[len(row) - self.n_suffix :] if self.n_suffix else []
        body = row[self.n_prefix + n_prompt : len(row) - self.n_suffix]
        width = self.max_tokens - len(head) - len(tail)
        if width < 1:
            raise InvalidInputError(
                f"the prompt takes {n_prompt} of the model's {self.max_tokens} tokens, leaving no room for "
                "text windows; use a shorter prompt"
            )
        stride = max(1, width - min(overlap, width // 2))
        out = []
        start = 0
        while True:
            piece = body[start : start + width]
            out.append((head + piece + tail, len(piece)))
            if start + width >= len(body):
                return out
            start += stride


def warn_truncated(report: OverflowReport, what: str, stacklevel: int = 5) -> None:
    """Emit the call's one :class:`TruncationWarning` when ``report`` says inputs were truncated.

    ``stacklevel`` 5 points at the caller of ``TextEncoder.encode`` (this function, ``prepare``,
    ``encode_with_report``, ``encode``, caller).
    """
    truncated, counts, limit = report.truncated, report.token_counts, report.limit
    if not truncated:
        return
    shown = ", ".join(str(i) for i in truncated[:20]) + (", ..." if len(truncated) > 20 else "")
    message = (
        f"{len(truncated)} of {len(counts)} {what}s exceed the model's {limit} tokens and were "
        f"truncated (indices: {shown}; {report.tokens_lost} tokens dropped). Pass "
        f"overflow='windows' to keep everything, overflow='error' to refuse, or chunk first."
    )
    facts = {"what": what, "n_inputs": len(counts), "token_counts": {i: counts[i] for i in truncated}, "limit": limit}
    warnings.warn(TruncationWarning(message, **facts), stacklevel=stacklevel)


def _find(haystack: list[int], needle: list[int]) -> int:
    for i in range(len(haystack) - len(needle) + 1):
        if haystack[i : i + len(needle)] == needle:
            return i
    return -1
