"""LlamaIndex ``MetadataFilters`` (and a query's ``doc_ids``/``node_ids``) -> a Chroma ``where`` dict.

Owns that translation only: operators EQ, NE, GT, GTE, LT, LTE, IN, NIN and conditions AND/OR,
nested. Anything else is refused with the list of what is supported, never dropped: a filter
that is silently ignored returns records the caller meant to exclude.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

REF_DOC_ID = "ref_doc_id"
NODE_ID = "node_id"

_OPERATORS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
}
_CONDITIONS = {FilterCondition.AND: "$and", FilterCondition.OR: "$or"}
_LISTS = (FilterOperator.IN, FilterOperator.NIN)


def to_where(
    filters: MetadataFilters | None,
    doc_ids: Sequence[str] | None = None,
    node_ids: Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """A Chroma ``where``: ``filters``, ``ref_doc_id`` in ``doc_ids``, ``node_id`` in ``node_ids`` (ANDed).

    Returns:
        The filter, or None when nothing restricts the records.

    Raises:
        ValueError: an operator or condition is not supported (the supported ones are named),
            a value is None, IN/NIN get a scalar, or another operator gets a list.
    """
    parts = [_filters(filters)] if filters is not None and filters.filters else []
    if doc_ids is not None:
        parts.append({REF_DOC_ID: {"$in": [str(i) for i in doc_ids]}})
    if node_ids is not None:
        parts.append({NODE_ID: {"$in": [str(i) for i in node_ids]}})
    return _join("$and", parts)


def _filters(filters: MetadataFilters) -> dict[str, Any]:
    condition = filters.condition or FilterCondition.AND
    if condition not in _CONDITIONS:
        raise ValueError(
            f"filter condition {condition.value!r} is not supported by SbertRagVectorStore; use "
            f"{' or '.join(c.value for c in _CONDITIONS)} (negate single filters with ne/nin)"
        )
    parts = [_filters(f) if isinstance(f, MetadataFilters) else _filter(f) for f in filters.filters]
    return _join(_CONDITIONS[condition], parts) or {}


def _filter(item: MetadataFilter) -> dict[str, Any]:
    op = item.operator
    if op not in _OPERATORS:
        raise ValueError(
            f"filter operator {op.value!r} on key {item.key!r} is not supported by SbertRagVectorStore; "
            f"use one of {', '.join(o.name for o in _OPERATORS)}"
        )
    value = item.value
    if value is None:
        raise ValueError(f"filter on key {item.key!r} has no value; the store keeps no None values to match")
    if (op in _LISTS) != isinstance(value, list):
        wanted = "a list of values" if op in _LISTS else "one str, int, float or bool"
        raise ValueError(f"filter {op.name} on key {item.key!r} needs {wanted}; got {value!r}")
    return {item.key: {_OPERATORS[op]: value}}


def _join(operator: str, parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    parts = [p for p in parts if p]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {operator: parts}  # Chroma wants two or more under $and/$or
