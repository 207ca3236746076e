"""Asymmetric prompts: which text is prepended to a query, a passage, or a plain encode.

Owns the resolution order: an explicit prompt for the call, else the encoder's prompt for the
role (given by the user at construction, else the model's saved prompt), else the model's
default prompt. An explicit empty string means "no prompt" and is respected.
"""

from __future__ import annotations

from dataclasses import dataclass

from sbert_rag.errors import ConfigError
from sbert_rag.types import Role

# Saved prompt names that mean "the indexed side" in the models we know.
PASSAGE_PROMPT_NAMES = ("document", "passage", "corpus", "text", "doc")


@dataclass(frozen=True)
class Prompts:
    """Prompts in force for one encoder.

    Attributes:
        query: prepended to queries.
        passage: prepended to passages.
        default: prepended when neither a role nor a prompt is given.
        saved: every prompt saved with the model, name -> text.
    """

    query: str = ""
    passage: str = ""
    default: str = ""
    saved: dict[str, str] | None = None

    @classmethod
    def resolve(
        cls,
        saved: dict[str, str],
        default_name: str | None,
        query: str | None = None,
        passage: str | None = None,
    ) -> Prompts:
        """Combine the model's saved prompts with the user's (the user's win, "" included)."""
        for name, value in (("query_prompt", query), ("passage_prompt", passage)):
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be a string or None; got {type(value).__name__}")
        saved_passage = next((saved[n] for n in PASSAGE_PROMPT_NAMES if n in saved), "")
        default = ""
        if default_name:
            if default_name not in saved:
                raise ConfigError(f"default_prompt_name {default_name!r} is not among the saved prompts {sorted(saved)}")
            default = saved[default_name]
        return cls(
            query=saved.get("query", "") if query is None else query,
            passage=saved_passage if passage is None else passage,
            default=default,
            saved=dict(saved),
        )

    def for_role(self, role: Role | str | None) -> str:
        """Prompt of a role; None gives the default prompt."""
        if role is None:
            return self.default
        return self.query if Role(role) is Role.QUERY else self.passage

    def for_call(self, role: Role | str | None, prompt: str | None) -> str:
        """Prompt for one encode call: the explicit one if given, else the role's."""
        if prompt is not None:
            if not isinstance(prompt, str):
                raise ConfigError(f"prompt must be a string or None; got {type(prompt).__name__}")
            return prompt
        return self.for_role(role)
