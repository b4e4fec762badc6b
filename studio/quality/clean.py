"""Cleaning: normalise every string of an item, redact personal data, then judge its text by cheap heuristics.

Each step is switchable in the project file (`quality.clean`). A rejection names its rule; a kept item
carries what was changed, what was redacted and its scores, so later stages can see the borderline ones.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from studio.project import Clean, LanguageRule
from studio.quality import artefacts
from studio.quality.text import OTHER_LANGUAGES, STOP_WORDS, words
from studio.records import mend_unicode

# Block tags part words (a space), inline tags do not (<i>wood</i>s is "woods").
BLOCK_TAG = re.compile(r"</?(?:br|p|div|li|ul|ol|tr|td|th|h[1-6]|table|blockquote|section|article)\b[^<>]*>", re.I)
# HTML elements by name: `<insert port name>` is a placeholder to be caught, not markup to be removed.
HTML_TAG = re.compile(
    r"<!--.*?-->|</?(?:a|abbr|b|blockquote|body|br|button|caption|center|cite|code|dd|del|div|dl|dt|em|figcaption|"
    r"figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|label|li|link|mark|meta|nav|ol|p|"
    r"pre|q|s|script|section|small|span|strong|style|sub|sup|table|tbody|td|th|thead|title|tr|u|ul)\b[^<>]*>",
    re.S | re.I,
)
# C0/C1 controls but tab and newlines, zero-width and bidi controls, soft hyphen, byte-order mark.
CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u200c\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)
SPACES = re.compile(r"[^\S\n]+")
SPACE_AROUND_NEWLINE = re.compile(r" ?\n ?")
BLANK_LINES = re.compile(r"\n{3,}")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,5}){1,4}(?![\w-])")
# Seven digits in a row, single separators allowed: the cheap test before the phone and card patterns.
MANY_DIGITS = re.compile(r"\d(?:[ ().-]?\d){6}")
PLACEHOLDER = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]"}


@dataclass
class Cleaned:
    data: dict[str, Any]
    changed: list[str] = field(default_factory=list)  # JSON paths of the strings that changed
    markup: list[str] = field(default_factory=list)  # JSON paths of the strings HTML tags or entities were taken from
    redactions: Counter[str] = field(default_factory=Counter)
    rejected: dict[str, Any] | None = None  # {"rule", "reason"} when a filter drops the item
    scores: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    strings: list[tuple[str, str]] = field(default_factory=list)  # (path without `$.`, cleaned string), all of them

    def mark(self) -> dict[str, Any]:
        """What a kept item carries in meta.clean."""
        out: dict[str, Any] = {"scores": self.scores}
        if self.changed:
            out["changed"] = self.changed
        if self.markup:
            out["markup_removed"] = self.markup
        if self.redactions:
            out["redactions"] = dict(self.redactions)
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def normalise(s: str, rules: Clean) -> str:
    if s.isascii() and s.isprintable() and "  " not in s and "<" not in s and "&" not in s and s == s.strip():
        return s  # the common case: nothing any rule would change
    if rules.strip_html and ("<" in s or "&" in s):
        s = html.unescape(HTML_TAG.sub("", BLOCK_TAG.sub(" ", s)))
    if not s.isascii():
        s = mend_unicode(s)
        if rules.unicode:
            s = unicodedata.normalize(rules.unicode, s)
    if rules.strip_control:
        s = CONTROL.sub("", s)
    if rules.whitespace:
        s = SPACES.sub(" ", s.replace("\r\n", "\n").replace("\r", "\n"))
        if "\n" in s:
            s = BLANK_LINES.sub("\n\n", SPACE_AROUND_NEWLINE.sub("\n", s))
        s = s.strip()
    return s


def has_markup(s: str) -> bool:
    return ("<" in s and bool(HTML_TAG.search(s))) or ("&" in s and html.unescape(s) != s)


def find_pii(s: str, kinds: list[str]) -> list[tuple[str, int, int]]:
    """(kind, start, end) of each e-mail address, card-like number (Luhn-valid) and phone number."""
    found: list[tuple[str, int, int]] = []
    if "email" in kinds and "@" in s:
        found += [("email", m.start(), m.end()) for m in EMAIL.finditer(s)]
    if ("card" in kinds or "phone" in kinds) and MANY_DIGITS.search(s):
        if "card" in kinds:
            found += [("card", m.start(), m.end()) for m in CARD.finditer(s) if luhn(m.group())]
        if "phone" in kinds:
            for m in PHONE.finditer(s):
                digits = sum(c.isdigit() for c in m.group())
                # Nine digits or a country code: a phone; fewer are years, ranges, measures.
                if (9 <= digits <= 15 or m.group().startswith("+")) and not _overlaps(found, m.start(), m.end()):
                    found.append(("phone", m.start(), m.end()))
    return sorted(found, key=lambda f: f[1])


def luhn(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def _overlaps(found: list[tuple[str, int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for _, s, e in found)


def redact(s: str, found: list[tuple[str, int, int]]) -> str:
    for kind, start, end in reversed(found):
        s = s[:start] + PLACEHOLDER[kind] + s[end:]
    return s


def repetition(w: list[str], n: int) -> float:
    """The share of word n-grams that repeat an earlier one: 0 for fresh text, near 1 for a stuck model."""
    grams = list(zip(*(w[i:] for i in range(n)), strict=False))
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def phrase_loop(s: str) -> str | None:
    """The words a string says three times or more in a row, whatever stands between them ("its harbour, its
    harbour and its harbour"; "sings at dawn, sings at dawn, sings at dawn"), or one word four times: a stuck
    model. Such a loop repeats four words at least, so only strings that do are searched."""
    w = words(s)
    if len(w) - len(set(w)) < 3:
        return None
    for k in range(1, 7):
        times = 4 if k == 1 else 3
        for i in range(len(w) - times * k + 1):
            phrase = w[i : i + k]
            if all(w[i + j * k : i + (j + 1) * k] == phrase for j in range(1, times)):
                if all(x.isdigit() or len(x) < 3 for x in phrase):
                    continue  # `a 3 m × 3 m × 3 m block`: measures, not a loop
                return " ".join(phrase)
    return None


RUN = 6


def repeated_run(w: list[str]) -> str | None:
    """RUN words in a row that the text says twice, apart (`because it is a typeface for newspapers`, twice): a
    clause restated in a loop. A short item's own words seldom repeat six at a time."""
    first: dict[tuple[str, ...], int] = {}
    for i in range(len(w) - RUN + 1):
        gram = tuple(w[i : i + RUN])
        if gram in first and i - first[gram] >= RUN and sum(len(x) == 1 for x in gram) < RUN // 2:
            return " ".join(gram)
        first.setdefault(gram, i)
    return None


def doubled_phrase(w: list[str]) -> str | None:
    """Four to eight words said twice in a row (`in the province of Misiones in the province of Misiones`), two
    different words of content among them; a counted pattern (`over two, under two, ...`) is left to the lists."""
    stop = STOP_WORDS["en"] | NUMBER_WORDS
    for k in range(4, 9):
        for i in range(len(w) - 2 * k + 1):
            phrase = w[i : i + k]
            if phrase != w[i + k : i + 2 * k]:
                continue
            counted = any(x.isdigit() or x in NUMBER_WORDS for x in phrase)
            # Two different words of four letters or more: a drum's `Dha Dhin Dhin Dha | Dha Dhin Dhin Dha` is not.
            if len({x for x in phrase if x not in stop and len(x) >= 4}) >= 2 and not counted:
                return " ".join(phrase)
    return None


def _in_a_list(phrase: str, text: str) -> bool:
    """The phrase's words stand as entries of a list in the text (`a flower, a bird`)."""
    m = re.search(r"[\s,;]+".join(map(re.escape, phrase.split())), text, re.I)
    return bool(m) and "," in m.group()


def looped_words(w: list[str]) -> str | None:
    """Four words in a row a short text says three times (`because it is fast`, three times)."""
    if len(w) > SHORT:
        return None
    grams = Counter(zip(w, w[1:], w[2:], w[3:], strict=False))
    gram, n = grams.most_common(1)[0] if grams else ((), 0)
    return " ".join(gram) if n >= 3 else None


NUMBERS = "one two three four five six seven eight nine ten half third thirds quarter quarters first second"
NUMBER_WORDS = frozenset(NUMBERS.split())
SHARES = frozenset(["half", "third", "thirds", "quarter", "quarters"])
DOUBLING = frozenset(["by", "after", "upon", "through", "on", "over", "to"])
NESTING = frozenset(["within", "inside"])  # `a doll within a doll within a doll`
# Verbs of obligation, which a rule or a specification says in every clause (`must be curdled ..., must be put`).
MODALS = frozenset(["must", "shall", "might"])
RESTATED = 4  # times a short text says one content word ...
SHORT = 60  # ... in this many words or fewer
# Past this many words a text may name its subject once more: `krill` 4 times in 59 words, `reindeer husbandry`
# (the Act, the agreement) 3 times in 59.
SUBJECT_ROOM = 40
FEW_SENTENCES = 40


def restated(w: list[str]) -> str | None:
    """A content word a short text says four times (`smoky flavour ... its smoky flavour ... so smoky`), two
    content words in a row said three times (once more each past SUBJECT_ROOM words), or in a text of a few
    sentences two words said three times each (`taught lace for decades; for many decades she taught lace, ...
    lace ... for decades`, by the stem's first six letters, which `reversible ... reversibility` share) or one
    number three times (`built in 1898 ... since it was built in 1898 ... since 1898`): one fact
    said over and over, not an item that says four. (One word three times is not enough: `the lower town ...
    the upper town ... the town's oldest machine`.)"""
    if len(w) > SHORT:
        return None
    stop = STOP_WORDS["en"]
    # A word before a number names a step of a sequence (`zone 1 at 0.00 mm, zone 2 at 1.12 mm`), not a restatement.
    numbered = {i for i in range(len(w) - 1) if w[i + 1].isdigit()}
    # A doubled noun is one figure of speech (`link through link through link`, `row upon row`), not a restatement.
    doubled = {i for i in range(2, len(w)) if w[i] == w[i - 2] and w[i - 1] in DOUBLING}
    content = [
        x
        for i, x in enumerate(w)
        if len(x) > 3 and x not in stop | MODALS and not x.isdigit() and i not in numbered and i not in doubled
    ]
    word, times = Counter(content).most_common(1)[0] if content else ("", 0)
    room = len(w) > SUBJECT_ROOM
    if times >= RESTATED + room:
        return f"`{word}` {times} times in {len(w)} words"
    pairs = Counter(zip(w, w[1:], strict=False))
    plain = stop | NUMBER_WORDS  # `one third in, one third out, one third in reserve` is a rule, not a loop
    for (a, b), n in pairs.most_common(3):
        # `528,000 tonnes ... 100,000 tonnes`: figures in one unit, not one said again.
        if n >= 3 + room and a not in plain and b not in plain and len(a) > 2 and len(b) > 2 and not a.isdigit():
            return f"`{a} {b}` {n} times in {len(w)} words"
    # Or around a small word (`the clay of Fez ... the clay of Fez ... the grey clay of Fez`).
    triples = Counter(zip(w, w[1:], w[2:], strict=False))
    for (a, b, c), n in triples.most_common(3):
        if n >= 3 + room and a not in plain and c not in plain and len(a) > 2 and len(c) > 2:
            return f"`{a} {b} {c}` {n} times in {len(w)} words"
    if len(w) <= FEW_SENTENCES:
        # `built in 1898 ... in 1898 ... since 1898`; the `000` of `12,000 ... 40,000` is no number of its own.
        numbers = Counter(x for x in w if x.isdigit() and len(x) >= 3 and x.strip("0"))
        if numbers and (said := numbers.most_common(1)[0])[1] >= 3:
            return f"`{said[0]}` {said[1]} times in {len(w)} words"
        stems = Counter(stem(x)[:6] for x in content if x not in NUMBER_WORDS)
        thrice = [s for s, n in stems.most_common(2) if n >= 3]
        # A list of three figures or more says its words again by design (`8 setting sliders and an 11-digit
        # register, the Type II 11 sliders and 15 digits`).
        if len(thrice) == 2 and len({x for x in w if x.isdigit()}) < 3:
            return f"`{thrice[0]}` and `{thrice[1]}` three times each in {len(w)} words"
    return None


def repeated_sentence(text: str) -> str | None:
    """A sentence of four words or more that the text says twice (a model stuck in a loop)."""
    seen: set[str] = set()
    for sentence in SENTENCE_END.split(text):
        key = " ".join(words(sentence))
        if key.count(" ") >= 3:
            if key in seen:
                return sentence.strip()
            seen.add(key)
    return None


CLAUSE_END = re.compile(r"[;,]\s+|\s+(?:which|because|so|and so)\s+")
SUFFIX = re.compile(r"(?:ness|ions?|ing|ed|es|s|e)$")
# A sentence that opens by announcing it restates the one before (`In other words, ...`).
OTHER_WORDS_OPENERS = [
    ["in", "other", "words"],
    ["that", "is", "to"],
    ["to", "put", "it"],
    ["put", "simply"],
    ["simply", "put"],
    ["which", "is", "to"],  # `..., which is to say it is the tea bowl`
]
SAID_AGAIN = 0.8  # share of the shorter clause's content words that the other clause says too ...
SAID_AGAIN_WORDS = 3  # ... and at least this many of them
NEGATION = frozenset(["not", "no", "never", "nor", "neither", "nothing", "none"])
SAID_AGAIN_AFTER = 0.5  # the share where the next sentence opens with the same three words


def stem(word: str) -> str:
    """A word without its inflection, enough to tell `operates` and `operated` are one word."""
    cut = SUFFIX.sub("", word)
    return cut if len(cut) >= 3 else word


def said_again(text: str, w: list[str]) -> str | None:
    """Two sentences or clauses that say one thing with the same content words (`The thirds are good with 19
    steps. With 19 steps the thirds are good`): a fact restated in other order, which no n-gram repeats. `w`:
    the text's words."""
    stop = STOP_WORDS["en"]
    said = Counter(stem(x) for x in w if x not in stop and len(x) > 2)
    if sum(n > 1 for n in said.values()) < 2:
        return None  # no two parts can share enough words: most texts end here
    sentences = [x for x in SENTENCE_END.split(text) if x.strip()]
    clauses = [c for x in sentences for c in CLAUSE_END.split(x) if c.strip()]
    for parts in (sentences, clauses):  # `They are durable, crisp and narrow.` is one sentence of two clauses
        if found := _same_content(parts):
            return found
    return None


def _same_content(parts: list[str]) -> str | None:
    stop = STOP_WORDS["en"]
    said = [[] if c.rstrip().endswith("?") else words(c) for c in parts]  # a question and its answer: qa_scaffold
    plain = stop | SHARES  # `one third of the gas for the way in, one third for the way out` is a rule
    content = [{stem(w) for w in w_ if w not in plain and len(w) > 2} for w_ in said]
    figures = [{w for w in w_ if w.isdigit()} for w_ in said]
    for i, a in enumerate(content):
        if i and said[i][:3] in OTHER_WORDS_OPENERS and len(a & content[i - 1]) >= 2:
            return f"`{parts[i].strip()[:60]}` says again `{parts[i - 1].strip()[:60]}`"
        for j in range(i + 1, len(content)):
            tail = said[j][1:] if said[j][:1] in (["and"], ["or"], ["but"]) else said[j]
            if len(content[j]) >= 2 and len(tail) >= 3 and said[i][-len(tail) :] == tail:
                return f"`{parts[j].strip()[:60]}` ends as `{parts[i].strip()[:60]}` does"
            if figures[i] and figures[j] and figures[i] != figures[j]:
                continue  # the same words for other figures (`the Type I has 8 sliders, the Type II 11 sliders`)
            if NEGATION.isdisjoint(said[i]) != NEGATION.isdisjoint(said[j]):
                continue  # `one does not joik about a friend, one joiks the friend`: a contrast, not a fact again
            shared = a & content[j]
            # The next sentence opening as this one does says it again with fewer of its words (`It has also been
            # taken up by rock bands. It has also been adopted by rock bands ...`).
            share = SAID_AGAIN_AFTER if j == i + 1 and len(said[i]) > 3 and said[i][:3] == said[j][:3] else SAID_AGAIN
            if len(shared) >= SAID_AGAIN_WORDS and len(shared) >= share * min(len(a), len(content[j])):
                return f"`{parts[j].strip()[:60]}` says again `{parts[i].strip()[:60]}`"
    return None


NAME_PAIR = re.compile(r"\b([A-Z][\w'’-]*) (?=([A-Z][\w'’-]*)\b)")


def name_families(text: str) -> str:
    """The text with names that end alike joined into one word each (`Zabul Segah, Orta Segah`: `Zabul_Segah`,
    `Orta_Segah`), so that a family of names does not count as its last word said again; one name (`the River
    Ashe ... the Ashe`) is left as it is."""
    firsts: dict[str, set[str]] = {}
    for first, last in NAME_PAIR.findall(text):
        firsts.setdefault(last, set()).add(first)
    family = [last for last, names in firsts.items() if len(names) >= 2]
    if not family:
        return text
    return re.sub(rf"\b([A-Z][\w'’-]*) ({'|'.join(map(re.escape, family))})\b", r"\1_\2", text)


BRACKETED = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]")
PARENTHESISED = re.compile(r"\([^()]*(?:,| or | and )[^()]*\)")  # a list in brackets
SINGLE_QUOTED = re.compile(r"(?<!\w)'[^']{1,80}'(?!\w)")
# A function's name before its arguments (`merge(x, merge(y, z))`): a formula says it as often as it must.
CALL = re.compile(r"\b\w+(?=\()")


def prose(text: str) -> str:
    """The text without code spans, brackets, function names and quotations, whose repeats are notation or a refrain
    (`"Hop, hop, Halvany!"`, a saying in single quotes: `'reindeer do not follow roads; roads follow reindeer'`),
    not a loop."""
    if "`" in text:
        text = artefacts.CODE_SPAN.sub(" ", text)
    if '"' in text or "“" in text:
        text = artefacts.QUOTED.sub(" ", text)
    if "'" in text:
        text = SINGLE_QUOTED.sub(" ", text)
    if "{" in text or "[" in text:
        text = BRACKETED.sub(" ", text)
    return CALL.sub(" ", text)


# A text that says it describes a repetition (`small, repeated chores: another armful of birch, ...`, `two motifs
# alternate`) repeats its list or its clause on purpose; a loop says nothing of the kind.
REPETITION_NAMED = re.compile(
    r"\b(?:repeat(?:ed|s|ing)?|repetitive|repetitions?|alternat(?:e|es|ed|ing|ion)|over and over|in turn|"
    r"refrain|recurr(?:ing|ent|ence)|cycles?|reduplicat\w*|nested|nesting (?:boxes|dolls|bowls|cups|tables|sets?))\b",
    re.I,
)
LIST_SEPARATOR = re.compile(r",\s+(?:and\s+|or\s+)?|\s+(?:and|or)\s+")


def listed_twice(text: str) -> str | None:
    """A list of four things or more that names one of them twice (`buttons, beads, hatpins, buttons and beads`)."""
    for sentence in SENTENCE_END.split(text):
        if sentence.count(",") < 2:
            continue
        entries = [" ".join(words(e)) for e in LIST_SEPARATOR.split(sentence)]
        # `{a, b}, {b, c}` and a sitar's `Ma, Sa, Pa, Sa` are notation.
        short = [e for e in entries[1:] if len(e) > 2 and e.count(" ") <= 2]
        # The list starts inside the first part (`The window uses cobalt blue, ruby red, ..., cobalt blue`).
        again = [e for e, n in Counter(short).items() if n > 1 or f" {entries[0]}".endswith(f" {e}")]
        # `over two, under two, over two, under two`: a weave's counted steps, as figures are a rule's.
        again = [e for e in again if NUMBER_WORDS.isdisjoint(e.split())]
        # `Tap, tap, clap.`: a short sound said twice in a row is a figure, which the stutter check judges.
        again = [e for e in again if not (" " not in e and len(e) <= 5 and _in_a_row(entries, e))]
        if again and _alternating(entries):
            continue  # `a plain sequence of stitch, gap, stitch, gap`: a pattern spelt out, not a loop
        # Three things at least; one word named again after a clause is a second list (`to suit its current and
        # depth, so a Teifi coracle differs ... in length, depth and the curve`), a phrase or two things a list
        # said again.
        if len(short) >= 2 and again and (len(again) >= 2 or " " in again[0] or _one_list(entries, again[0])):
            return f"`{again[0]}` listed twice"
        if len(entries) < 4:
            continue
        # Longer entries that end alike (`for thematic maps of population density, ..., for maps of population
        # density`): four words, so that `maps of density, charts of density` differ.
        ends = Counter(" ".join(e.split()[-4:]) for e in entries if e.count(" ") >= 3)
        if twice := next((e for e, n in ends.items() if n > 1), None):
            return f"`{twice}` listed twice"
        # An entry of three words said again with more (`polishing the brass, ..., polishing the brass fittings`).
        for k, later in enumerate(entries[1:], 1):
            opening = " ".join(later.split()[:3])
            if later.count(" ") >= 3 and any(f" {e}".endswith(f" {opening}") for e in entries[:k]):
                return f"`{opening}` listed twice"
    return None


def _in_a_row(entries: list[str], entry: str) -> bool:
    return any(a == b == entry for a, b in zip(entries, entries[1:], strict=False))


def _alternating(entries: list[str]) -> bool:
    """Two entries that take turns (`stitch, gap, stitch, gap`, `wave, shell, wave, shell`); the first may end a
    longer part and the last begin one (`a plain sequence of dark, pale, dark, pale across each board`)."""
    return any(
        f" {entries[i]}".endswith(f" {entries[i + 2]}")
        and f"{entries[i + 3]} ".startswith(f"{entries[i + 1]} ")
        and entries[i + 1] != entries[i + 2]
        for i in range(len(entries) - 3)
    )


def _one_list(entries: list[str], entry: str) -> bool:
    """`entry` twice in one list: no clause (an entry of eight words or more) stands between the two."""
    at = [i for i, e in enumerate(entries) if e == entry or i == 0 and f" {e}".endswith(f" {entry}")]
    return any(all(e.count(" ") < 7 for e in entries[i + 1 : j]) for i, j in zip(at, at[1:], strict=False))


# A word or two said twice in a row (`a nutty, nutty flavour`, `facing forward, facing forward`); lower case, as
# place names double (`Walla Walla`). Of the small words, only those no sentence says twice (`turned a a cast-iron
# wheel`, `a bolt can can be folded`; `what it is is`, `what it was was`, `had had`, `that that` may).
# The small words come first (`one of the the the oldest` is no phrase starting with `the`), with one space
# between: where notation was taken out (`{x} and {y}`) two may meet across the gap.
# A phrase led by a small word stutters too (`a small dot to show to show where`, `uncut at one end at one end`), as
# does one of four words (`high in the walls high in the walls`).
STUTTER = re.compile(
    rf"\b(a|an|the|of|to|and|for|with|{artefacts.MODAL_VERBS}|has|have|been|from|into|"
    r"which|under|over|upon|onto|through|between|among|across|along|within|without|beneath|behind|beside)"
    r" \1\b|\b((?:to|of|in|on|at|by|for|with|from) [a-z]{3,}(?: [a-z]+){0,2})\s+\2\b"
    r"|\b([a-z]{3,}(?: [a-z]+){0,3})(?:,\s*|\s+)\3\b"
)


# A noun made part of itself (`just beneath the rind of the rind`): a stutter across `of the`; `the best of the
# best` is an idiom.
OF_ITSELF = re.compile(r"\b([a-z]{3,}) of the \1\b(?<!est)")


def stuttered(text: str, named: bool = False) -> str | None:
    """`text`: the prose (quotations out, where a saying may stutter: `'tight, tight, tight'`). `named`: the text
    says it describes a repetition (`a reduplicated name, nyunga nyunga`), where only a small word's stutter
    (`the the`) counts."""
    if " of the " in text and (m := OF_ITSELF.search(text)):
        return m.group()
    plain = STOP_WORDS["en"] | NUMBER_WORDS
    # `from your contract, your contract applies`: two clauses that start alike, not a stutter.
    return next(
        (
            m.group()
            for m in STUTTER.finditer(text)
            # A phrase of three words is no name, however the text names its repetitions (`by alternating the
            # thumbs, alternating the thumbs`).
            if m.group(1)
            or (not named or (m.group(3) or "").count(" ") >= 2)
            and (m.group(2) or _stutter_of_content(m, text, plain))
        ),
        None,
    )


def _stutter_of_content(m: re.Match[str], text: str, plain: frozenset[str]) -> bool:
    """A stutter of content words, not a figure (`link through link`, `tak, tak, tak`, `rice, rice flour`) nor a
    step done over (`oiled and dried, oiled and dried again`)."""
    said = m.group(3).split()
    # An article leads a phrase that stutters (`from the same the same hardwood`), as it leads no figure.
    return (
        (said[0] not in plain or said[0] == "the" and len(said) > 1)
        and not text[m.end() :].startswith(" again")
        and not _doubled_noun(m, text)
        and not _triad(m, text)
        and not _two_entries(m, text)
    )


def _doubled_noun(m: re.Match[str], text: str) -> bool:
    """`link through link through link`, `a doll within a doll within a doll`: a figure of speech, which a
    stutter's `X by X by` resembles."""
    said = m.group(3).split()
    if len(said) == 3 and said[2] in ("a", "an", "the"):
        said = said[:2]
    return len(said) == 2 and said[1] in DOUBLING | NESTING and text[m.end() :].lstrip().startswith(said[0])


def _two_entries(m: re.Match[str], text: str) -> bool:
    """`glutinous rice, rice flour`: two entries of a list that share a word, each with its own other word; a
    stutter has none before it (`a nutty, nutty flavour`)."""
    if "," not in m.group() or " " in m.group(3):
        return False
    before = words(text[: m.start()])[-1:]
    return bool(before) and before[0] not in STOP_WORDS["en"] and len(before[0]) > 2


def _triad(m: re.Match[str], text: str) -> bool:
    """`the steady tak, tak, tak of the beating`: a sound or a cry said three times over with commas, a figure a
    writer chooses; a stutter says a word twice, a loop four times or more (phrase_loop)."""
    said = m.group(3)
    rest = text[m.end() :]
    return (
        "," in m.group()
        and rest.startswith(f", {said}")
        and not rest[len(said) + 2 :].startswith(f", {said}")
        and not re.match(r"\w", rest[len(said) + 2 :])
    )


def stopword_ratio(w: list[str], stop: frozenset[str]) -> float:
    """The share of common words among the words proper: numbers and one-letter units (`2,200 W`, `1.7 L`) of
    a data sheet are no evidence of a language either way."""
    w = [x for x in w if (len(x) > 1 or x in stop) and not x.isdigit()]  # `a` and `I` are words of the language
    return sum(x in stop for x in w) / len(w) if w else 1.0


def other_language(text: str, rules: LanguageRule) -> dict[str, Any] | None:
    """The text is not in the expected language: too few of its common words, and either more of another
    language's or hardly any at all (a list of terms has few common words, and none of another language's)."""
    w = words(artefacts.CODE_SPAN.sub(" ", text) if "`" in text else text)  # code names are no language
    ratio = stopword_ratio(w, STOP_WORDS[rules.language])
    low = rules.min_stopword_ratio
    if ratio < low and (ratio < low / 2 or stopword_ratio(w, OTHER_LANGUAGES) > ratio):
        if ratio < low / 2 and text.isascii() and _term_list(text) and not OTHER_LANGUAGES.intersection(w):
            return None  # `Soy sauce (ganjang), soybean paste (doenjang), kimchi, vinegar, etc.`: terms, no sentence
        return {"rule": "language", "reason": f"not {rules.language}? {ratio:.0%} common words (< {low:.0%})"}
    return None


def _term_list(text: str) -> bool:
    """Four entries or more of a few words each, separated by commas: a list, which has no common words to count."""
    entries = [e for e in LIST_SEPARATOR.split(text) if e.strip()]
    return len(entries) >= 4 and sum(len(e.split()) for e in entries) <= 4 * len(entries)


class Cleaner:
    """The cleaning rules of a project, applied item by item."""

    def __init__(self, rules: Clean, text_field: str = "text", domain: str = ""):
        """`domain`: the project's domain description, which the prompts quote (an item copied from it is an
        echo of the prompt)."""
        self.rules, self.text_field = rules, text_field
        self.prompt = artefacts.copied_runs(domain)
        self.pii = rules.pii.kinds if rules.pii.enabled else []
        self.artefacts = [(name, rule) for name, rule in artefacts.RULES.items() if getattr(rules, name).enabled]

    def __call__(self, data: dict[str, Any], meta: dict[str, Any] | None = None) -> Cleaned:
        """`meta`: the item's lineage when a run made it (its axes, the reply's finish_reason)."""
        out = Cleaned(data)
        out.data = self._walk(data, "$", out)
        text = out.data.get(self.text_field) if self.text_field in out.data else None
        if isinstance(text, str):
            out.rejected = self.filters(text, out) or self.artefact(text, out, meta)
        if out.rejected is None and out.redactions and self.rules.pii.action == "reject":
            kinds = ", ".join(sorted(out.redactions))
            out.rejected = {"rule": "pii", "reason": f"personal data found ({kinds})"}
        return out

    def _walk(self, value: Any, path: str, out: Cleaned) -> Any:
        if isinstance(value, str):
            s = normalise(value, self.rules)
            if s != value and self.rules.strip_html and has_markup(value):
                out.markup.append(path)  # a generator's HTML (`<p>`, `&quot;`), repaired here rather than dropped
            if self.pii:
                found = find_pii(s, self.pii)
                if found:
                    out.redactions.update(kind for kind, _, _ in found)
                    s = redact(s, found)
            if s != value:
                out.changed.append(path)
            out.strings.append((path[2:], s))
            return s
        if isinstance(value, dict):
            return {k: self._walk(v, f"{path}.{k}", out) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, f"{path}[{i}]", out) for i, v in enumerate(value)]
        return value

    def filters(self, text: str, out: Cleaned) -> dict[str, Any] | None:
        """The first heuristic filter the text fails, as {"rule", "reason"}; scores and warnings go into `out`."""
        r = self.rules
        w = words(text)
        if r.length.enabled:
            b = r.length
            chars, ntokens = len(text), len(text.split())
            out.scores.update(chars=chars, tokens=ntokens)
            for value, low, high, unit in (
                (chars, b.min_chars, b.max_chars, "characters"),
                (ntokens, b.min_tokens, b.max_tokens, "tokens"),
            ):
                if low is not None and value < low:
                    return {"rule": "length", "reason": f"too short: {value} {unit} < {low}"}
                if high is not None and value > high:
                    return {"rule": "length", "reason": f"too long: {value} {unit} > {high}"}
        if r.repetition.enabled:
            ratio = round(repetition(w, r.repetition.n), 3)
            out.scores["repetition"] = ratio
            if ratio > r.repetition.max_ratio:
                return {
                    "rule": "repetition",
                    "reason": f"{ratio:.0%} of word {r.repetition.n}-grams repeat (> {r.repetition.max_ratio:.0%})",
                }
            if again := repeated_sentence(text):
                return {"rule": "repetition", "reason": f"a sentence repeats: `{again[:60]}`"}
            if again := repeated_run(w):
                return {"rule": "repetition", "reason": f"{RUN} words repeat: `{again[:60]}`"}
            if again := looped_words(w):
                return {"rule": "repetition", "reason": f"four words said three times: `{again}`"}
            shown = prose(text)
            named = REPETITION_NAMED.search(shown)
            # `the motif repeats: a flower, a bird, a flower, a bird`: a named pattern of list entries.
            if (again := doubled_phrase(w)) and not (named and _in_a_list(again, shown)):
                return {"rule": "repetition", "reason": f"a phrase said twice in a row: `{again}`"}
            shown_words = words(shown)
            # The names of categories in brackets say the subject's word by design (`the category (Mezcal, Mezcal
            # Artesanal or Mezcal Ancestral)`).
            # ... as do names that share a word (`Zabul Segah, Orta Segah and Mirza Huseyn Segah`): one word each.
            counted = name_families(shown)
            if "(" in counted:
                counted = PARENTHESISED.sub(" ", counted)
            if again := restated(shown_words if counted is shown else words(counted)):
                return {"rule": "repetition", "reason": f"one fact restated: {again}"}
            if not named and (again := said_again(shown, shown_words)):
                return {"rule": "repetition", "reason": f"one fact said twice: {again}"}
            if not named and (again := listed_twice(shown)):
                return {"rule": "repetition", "reason": f"a list repeats itself: {again}"}
            if again := stuttered(shown, named=bool(named)):
                return {"rule": "repetition", "reason": f"a word said twice in a row: `{again}`"}
            for path, s in out.strings:
                # A loop of the naming words themselves (`in turn, in turn, in turn`) is still a loop.
                loop = phrase_loop(s) if " " in s else None
                if loop and (not named or REPETITION_NAMED.search(loop)):
                    return {"rule": "repetition", "reason": f"a phrase repeats in a loop in {path}: `{loop[:60]}`"}
            if ratio > 0.7 * r.repetition.max_ratio:
                out.warnings.append(f"repetition {ratio:.2f} near the limit {r.repetition.max_ratio}")
        if r.language.enabled and len(w) >= r.language.min_words:
            ratio = stopword_ratio(w, STOP_WORDS[r.language.language])
            out.scores["stopwords"] = round(ratio, 3)
            if rejected := other_language(text, r.language):
                return rejected
            if ratio < 1.5 * r.language.min_stopword_ratio:
                out.warnings.append(f"few common {r.language.language} words ({ratio:.2f})")
        if out.redactions and r.pii.action == "redact":
            out.warnings.append("redacted " + ", ".join(f"{n} {k}" for k, n in sorted(out.redactions.items())))
        return None

    def artefact(self, text: str, out: Cleaned, meta: dict[str, Any] | None) -> dict[str, Any] | None:
        """The first generator artefact the item shows, as {"rule", "reason"}."""
        if not self.artefacts:
            return None
        item = artefacts.Item(out.data, text, self.text_field, out.strings, meta or {}, self.prompt)
        for name, rule in self.artefacts:
            if reason := rule(item):
                return {"rule": name, "reason": reason}
        return None
