"""Text helpers shared by the cleaning rules, the duplicate finders and the diversity figures."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+")
NOT_WORD = re.compile(r"[\W_]+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def match_text(text: str) -> str:
    """The text as duplicate finders compare it: NFKC, case-folded, punctuation and spacing reduced to one space."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return NOT_WORD.sub(" ", text.casefold()).strip()
