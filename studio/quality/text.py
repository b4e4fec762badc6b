"""Text helpers shared by the cleaning rules, the duplicate finders and the diversity figures."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+")
NOT_WORD = re.compile(r"[\W_]+")

# The commonest English words: texts in English are full of them, other languages and gibberish are not.
ENGLISH = (
    "a about above after again against all am an and any are as at be because been before being below between "
    "both but by can could did do does doing down during each few for from further had has have having he her "
    "here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only "
    "or other our out over own same she should so some such than that the their them then there these they "
    "this those through to too under until up very was we were what when where which while who whom why will "
    "with would you your"
)
STOP_WORDS = {"en": frozenset(ENGLISH.split())}
# Common words of the languages a generator most often drifts into (German, French, Spanish, Italian, Dutch,
# Portuguese), without those English has too: a text few English words in is another language when these
# outnumber them, and only a list (`reviving judgments, enforcing recognizances, ...`) when they do not.
OTHER_WORDS = (
    "der das und ist nicht ein eine zu mit von dem des sich auch auf für wir ich sie le les et est une du que qui "
    "dans pour sur ce avec el los las y es por con del una para como pero su il di che è per non sono della gli het "
    "een van niet zijn dat op te os um não com uma"
)
OTHER_LANGUAGES = frozenset(OTHER_WORDS.split())


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def match_text(text: str) -> str:
    """The text as duplicate finders compare it: NFKC, case-folded, punctuation and spacing reduced to one space."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return NOT_WORD.sub(" ", text.casefold()).strip()
