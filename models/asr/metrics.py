"""Character error rate, the usual ASR score for Indian scripts (word boundaries vary too much)."""

from __future__ import annotations

import unicodedata


def normalize_for_scoring(text: str) -> str:
    """NFC, case-folded, punctuation removed, whitespace collapsed: score words, not typography."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = "".join(" " if unicodedata.category(c).startswith(("P", "S")) else c for c in text)
    return " ".join(text.split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute: cost 1 each), O(len(a)·len(b))."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(ref: str, hyp: str) -> float:
    """Edits to turn hyp into ref, per reference character (after normalize_for_scoring); may exceed 1."""
    ref, hyp = normalize_for_scoring(ref), normalize_for_scoring(hyp)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
