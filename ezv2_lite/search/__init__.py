"""The Gumbel search of EfficientZero V2, written out and batched over roots (docs/algorithm.md §3)."""

from .search import SearchResult, search, search_budget
from .tree import SearchTrace, Tree

__all__ = ["SearchResult", "SearchTrace", "Tree", "search", "search_budget"]
