"""Directed language pairs: shared with the registry (which tells a node that can serve
none), so they live in lingua_common/language_pairs.py."""

from lingua_common.language_pairs import directed_pairs

__all__ = ["directed_pairs"]
