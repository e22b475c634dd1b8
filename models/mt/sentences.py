"""Cut long text into pieces a translation model can take, at sentence boundaries.

A seq2seq model truncates (or degrades on) input longer than its training length, and the
original project broke at a 5000-byte limit mid-word. Text is split into sentences (the danda
``।``, Urdu ``۔``, ``.?!`` and their Arabic forms), sentences are packed greedily into pieces of at
most ``limit`` tokens, and a single sentence over the limit is cut at clause punctuation, then at
word boundaries. Joining the pieces' translations with a space gives one translation per segment.
"""

from __future__ import annotations

import re
from typing import Callable

# A sentence ends after one of these (and any closing quotes/brackets), before whitespace.
_SENTENCE_END = re.compile(r"(?<=[।॥۔.!?؟\u0964])[\"'”’)\]]*\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:،؛])\s+")


def split_sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SENTENCE_END.split(" ".join(text.split()))) if s]


def _split_long(sentence: str, limit: int, count: Callable[[str], int]) -> list[str]:
    """Clauses, then words, so that each piece counts at most ``limit`` (a lone longer word stays whole)."""
    for by_clause, splitter in ((True, _CLAUSE_END.split), (False, str.split)):
        parts = [p for p in splitter(sentence) if p]
        if len(parts) > 1:
            break
    else:
        return [sentence]
    return _pack(parts, limit, count, split_oversized=by_clause)


def _pack(parts: list[str], limit: int, count: Callable[[str], int], split_oversized: bool = True) -> list[str]:
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current} {part}".strip()
        if count(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        if count(part) > limit and split_oversized:
            *done, current = _split_long(part, limit, count)
            pieces.extend(done)
        else:
            current = part
    if current:
        pieces.append(current)
    return pieces


def chunk_text(text: str, limit: int, count: Callable[[str], int]) -> list[str]:
    """``text`` as pieces of at most ``limit`` units by ``count`` (tokens), cut between sentences where possible."""
    if limit < 1:
        raise ValueError("limit must be positive")
    return _pack(split_sentences(text), limit, count)
