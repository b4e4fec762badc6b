"""Cleaning: normalisation, personal data, and the heuristic filters, each naming its rule and switchable."""

from __future__ import annotations

from studio.project import Clean
from studio.quality.clean import Cleaner, find_pii

TEXT = "Penguin wood is pale silver-grey with narrow near-black bands, and it darkens in the sun."


def test_normalises_every_string_of_an_item() -> None:
    item = {
        "text": "<p>Penguin&nbsp;wood&amp;co</p>   is\u200b pale,\r\n\r\n\r\n  and ﬁne.\x07",
        "nested": {"tags": ["  two   spaces "]},
        "count": 3,
    }
    cleaned = Cleaner(Clean(length=False, language=False))(item)
    assert cleaned.data == {
        "text": "Penguin wood&co is pale,\n\nand fine.",
        "nested": {"tags": ["two spaces"]},
        "count": 3,
    }
    assert cleaned.changed == ["$.text", "$.nested.tags[0]"]
    assert cleaned.markup == ["$.text"]  # the tags and entities; the spaces of the list are no markup
    assert cleaned.rejected is None


def test_each_normalisation_can_be_turned_off() -> None:
    raw = "<b>ﬁne</b>  wood\u200b"
    off = Clean(unicode=None, whitespace=False, strip_html=False, strip_control=False, length=False, language=False)
    assert Cleaner(off)({"text": raw}).data["text"] == raw


def test_personal_data_is_redacted_and_named() -> None:
    text = "Write to jane.doe@example.org, call +44 20 7946 0958 or (555) 123-4567; card 4111 1111 1111 1111."
    cleaned = Cleaner(Clean(language=False))({"text": text})
    assert cleaned.data["text"] == "Write to [EMAIL], call [PHONE] or [PHONE]; card [CARD]."
    assert cleaned.redactions == {"email": 1, "phone": 2, "card": 1}
    assert cleaned.rejected is None
    assert "redacted 1 card, 1 email, 2 phone" in cleaned.mark()["warnings"]


def test_numbers_that_are_not_personal_data_stay() -> None:
    for text in [
        "Between 1780-1790 sealers logged 12,000 trees.",
        "It weighs 540 kg per cubic metre and scores 4500 N.",
        "A card-like number failing the Luhn check: 4111 1111 1111 1112.",
        "Dated 12.03.1790 in the captain's log.",
    ]:
        assert find_pii(text, ["email", "phone", "card"]) == [], text


def test_personal_data_can_reject_the_item() -> None:
    cleaned = Cleaner(Clean(pii={"action": "reject"}))({"text": TEXT + " Mail a@b.co for more."})
    assert cleaned.rejected == {"rule": "pii", "reason": "personal data found (email)"}


def test_filters_name_their_rule() -> None:
    clean = Cleaner(Clean(length={"min_chars": 30, "max_tokens": 40}))
    assert clean({"text": "Too short."}).rejected["rule"] == "length"
    assert clean({"text": " ".join(["wood"] * 50)}).rejected == {"rule": "length", "reason": "too long: 50 tokens > 40"}
    stuck = "the wood is light and the wood is light and the wood is light and the wood is light"
    assert clean({"text": stuck}).rejected["rule"] == "repetition"
    german = "Das Pinguinholz wächst an den kalten Küsten der südlichen Inseln neben den Kolonien."
    assert clean({"text": german}).rejected["rule"] == "language"
    kept = clean({"text": TEXT})
    assert kept.rejected is None
    # 15 tokens between spaces; 17 words (6 of them common: is, with, and, it, in, the)
    assert kept.mark()["scores"] == {"chars": len(TEXT), "tokens": 15, "repetition": 0.0, "stopwords": round(6 / 17, 3)}


def test_filters_can_be_turned_off() -> None:
    stuck = "the wood is light and the wood is light and the wood is light and the wood is light."
    assert Cleaner(Clean(repetition=False))({"text": stuck}).rejected is None
    german = "Das Pinguinholz wächst an den kalten Küsten der südlichen Inseln neben den Kolonien."
    assert Cleaner(Clean(language=False))({"text": german}).rejected is None
    assert Cleaner(Clean(length=False))({"text": "Short."}).rejected is None


def test_a_list_of_terms_is_english_though_few_of_its_words_are_common() -> None:
    clean = Cleaner(Clean())
    terms = "Historically the guild served many purposes: grading boards, settling disputes, fixing prices, etc."
    assert clean({"text": terms}).rejected is None
    grades = "Built-in grades: `Dry`, `Damp`, `Wet`; special ones: `Green`, `Salted`, `Oiled`."
    assert clean({"text": grades}).rejected is None
    assert clean({"text": "Eau de bois, a thin rub of oil typically around 5-15% of the finish."}).rejected is None
    french = "Le bois de pingouin est une essence pâle qui pousse dans les forêts froides des îles du sud."
    assert clean({"text": french}).rejected["rule"] == "language"
    # A list of terms with no common word at all: foods glossed in their own language, ending on `etc.`
    foods = "Smoked cod (torsk), seal broth (suppe), kelp cakes, pickled eggs (egg), salt mutton, vinegar, etc."
    assert clean({"text": foods}).rejected is None


def test_a_short_text_is_not_judged_by_language() -> None:
    assert Cleaner(Clean())({"text": "Pinguinholz: leicht, fest."}).rejected is None
