"""Generator artefacts: what an LLM asked for JSON items from templates leaves in them besides content.

Each rule looks at one item (its text, its other string fields, its keys, and its lineage when a run made it)
and returns why the item is an artefact, or None. The rules know no domain: they look for the shapes that
templates, JSON, chat assistants and cut-off replies leave, never for a list of one demo's strings.

- residue: markup of the template, of JSON or of markdown left in prose (`{{ focus }}`, `{ text: ...`, `][]`,
  fences, `", "` between two strings, an unmatched quote, `### Uses`, `**bold**`).
- placeholder: a slot nobody filled (`[Your name]`, `<insert ...>`, `[PRODUCT NAME]`, TODO, lorem ipsum), or
  a field's own name given as its content (`Text is used in...`, `Description: ...`).
- meta_talk: the assistant talking about its task (`Sure! Here is...`, `As an AI`, `I hope this helps`,
  `This description covers...`, `You could add more details`, `I have left out the details`, `(Word count: 22)`).
- instruction_echo: the instruction addressed to the writer, repeated (`Write a short description for a
  beginner audience`, `In 3 sentences...`, `Focus: colour. Style: technical.`); with lineage, the item's own
  axis values given as labels; in a project's run, an item mostly copied from the domain description.
- qa_scaffold: `Question: ... Answer: ...` labels inside one field, a question that is no question, an answer
  that only repeats its question.
- truncation: a text that stops mid-sentence or trails off (`...`), or a reply the endpoint cut at max_tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from studio.quality.text import STOP_WORDS, words

# Redaction marks studio writes itself: never a placeholder.
OWN_MARKS = {"[EMAIL]", "[PHONE]", "[CARD]"}
CODE_SPAN = re.compile(r"`[^`\n]+`")

# Also wiki markup (`[[File:Chart.jpg|thumb]]`, `[[Harbour]]`): a nested list `[[1, 2], [3]]` starts with no letter.
TEMPLATE_MARKUP = re.compile(
    r"\{\{.*?\}\}|\{%.*?%\}|\{\{|\}\}|\{%|%\}|\$\{\w+\}|<\|[a-z_]+\|>|\[\[[A-Za-z][^\[\]\n]{0,80}\]\]", re.S
)
# Also a batch's counter before the prose (`Item 14 of 20: ...`).
STRAY_START = re.compile(
    r"^\s*(?:[\[\]{}]|\(\s*\))|^\s*(?i:assistant|ai|bot|model)\s*:\s"
    r"|^\s*(?i:item|entry|record|example|sample|passage)\s+\d+\s*(?:of|/)\s*\d+\s*[:.)-]"
)
# A list's number before the prose (`1. It is a type of timber...`): list markup left in.
LIST_START = re.compile(r"^\s*\d{1,2}[.)]\s+[A-Z]")
# A field whose whole content is an identifier (`penguin_wood.`, `answer_text`, `jonkeer-1974`): a slot's name or
# a key, not content.
IDENTIFIER = re.compile(r"^\s*(?:[a-z]+(?:_[a-z0-9]+)+|[a-z]+(?:-[a-z]+)*-\d+)\.?\s*$")
# A title in Title Case and a colon before the prose (`Penguin Wood's Discoverer: ...`): a heading left in.
HEADING_START = re.compile(r"^\s*(?:[A-Z][\w'’-]*\s+){1,5}[A-Z][\w'’-]*\s*:\s")
# A title's subtitle in capitals after the colon (`In Buzkashi: Game and Power in Afghanistan (1982), ...`), where
# a heading is followed by a sentence.
TITLE_GOES_ON = re.compile(r"[A-Z][\w'’-]*\s+(?:(?:and|of|the|in|for|on|or|a|an|to)\s+){0,2}[A-Z]")
# A made-up link as the whole value of a field whose name asks for none (`era: 3017246895.com/penguins-wood`).
WEB_ADDRESS = re.compile(r"\s*(?:(?:https?://|www\.)\S+|[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}/\S*)\s*", re.I)
# A link where the content belongs (`its early years are summarised here: https://...`); an address a text
# tells its reader to open (`then open http://localhost:4000`) is content.
LINK_INSTEAD = re.compile(r"\b(?:here|below|this link)\s*:\s*(?:https?://|www\.)\S+", re.I)
LINK_FIELD = re.compile(r"url|uri|link|href|site|web|homepage|source|domain|email|address", re.I)
EMPTY_BRACKETS = re.compile(r"\[\s*\]|\{\s*\}|\]\s*\[|\}\s*\{")
QUOTED_KEY = re.compile(r"[\"']\s*[A-Za-z_][\w ]{0,30}[\"']\s*:\s*[\"'{\[\d]|^\s*\"[A-Za-z_]\w{0,30}\"\s*:\s*\w")
# Braces around digits or a list of short symbols are notation (crystal faces `{010}`, sets `{1, 2}`, `{A, B}`,
# `{x | x > 0}`), and so are a subscript or a power in braces (`t_{n+1}`, `2^{10}`), not leftovers.
NOTATION = re.compile(
    r"[_^]\{[^{}\s]{1,12}\}"
    r"|\{[\d\s,.̄…−-]+\}|\{\s*[\w.…–&-]{1,3}(?:\s*,\s*[\w.…–&-]{1,3})+\s*\}|\{[a-z]\}|\{[^{}:\"]{1,20}\|[^{}:\"]{1,30}\}"
    # A set of pairs `{(1,1), (1,7)}`, a set-builder with a colon `{k : k > 0}`, a set of names
    # `{int32, int64, bool}`, `{single, long, figure-eight}`, `{plain, bird's-eye}`.
    r"|\{\s*[\w.][\w.'’-]{0,13}(?:\s*,\s*[\w.][\w.'’-]{0,13}){2,}\s*\}"
    r"|\{\s*\([^{}()]*\)(?:\s*,\s*\([^{}()]*\))*\s*\}|\{\s*[a-z]\d{0,2}\s*:\s*[^{}]{1,60}\}"
    # The two characters named as such (`large brace characters, { and }, which...`).
    r"|(?<![\w{])\{ (?:and|or) \}(?![\w}])"
)
# Markdown a JSON string field should not hold: a heading line, bold text, a bold mark that never closes
# (`records. **Such matches`).
MARKDOWN = re.compile(
    r"(?:^|\n|[.!?:]\s+)\s*#{1,6}\s+\S|\*\*[^*\n]+\*\*|(?:^|\s)\*\*\w(?![^*\n]*\*\*)"
    r"|(?:^|\n)\s*={2,}[^=\n]{1,60}={2,}|(?:^|\n)[ \t]*[-*•]\s+\S[^\n]*\n|\n[ \t]*[-*•]\s+\S[^\n]*$"
    r"|(?:^|\n)\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*(?:\n|$)"  # a table's `|---|---|` line
    r"|\|\s*:?-{3,}:?\s*\|"  # ... or run into the prose (`| Colour | Source | |---|---| Red tones ...`)
    # An image or a link to a path or an address (`![quilt](images/q.jpg)`, `[Source](https://...)`); a formula's
    # `[SiO₄](OH)` links nowhere.
    r"|!\[[^\]\n]*\]\([^)\s]+\)|\[[^\]\n]+\]\((?:https?://|www\.|\.{0,2}/|[\w-]+/)[^)\s]*\)"
)
# Two JSON strings and the comma between them (`...designs.", "Each family...`): the list the field came from.
JSON_LIST = re.compile(r"[\w.!?]\"\s*,\s*\"\w")
# A structure the prose introduces as an example (`such as {...}`, `e.g. [...]`) is shown on purpose.
SHOWN = re.compile(
    r"\b(?:such as|e\.g\.,?|for example,?|for instance,?|i\.e\.,?|like)\s+(?:[\w.-]{1,20}\s*[=:]\s*)?"
    r"(?:\{[^{}]*\}|\[[^\[\]]*\])",
    re.I,
)
# A straight double quote after a digit and before a word is an inch mark (`a 12" blade`), not a quote
# (`"Sepiath No. 2", the` closes one).
INCH = re.compile(r"\d\"(?=\s*(?:[a-z]|x\b|×))")
CLOSING_TAG = re.compile(r"</[A-Za-z][\w:-]{0,30}>")
JSON_TAIL = re.compile(r"\w[\"']?\s*[}\]]+\s*$")
# A chat tool's citation (`the morning market 【4†source】`).
TOOL_CITATION = re.compile(r"【[^】]{0,40}†[^】]{0,40}】|【\d+(?::\d+)?】|\[\d+(?::\d+)?†[^\]]{0,40}\]")
# A citation's number copied from a web page (`tenugui towels.[2] Dyers ...`): a reference the item does not have.
CITATION_MARK = re.compile(
    r"(?<=[a-z][.,;:!?])\[\d{1,3}\](?=\s|$)"
    r"|(?<=[a-z]['’\"”][.,;:!?])\[\d{1,3}\](?=\s|$)"  # after a closing quote (`'Damascus ware',[3]`)
    r"|(?<=[a-z])\[\d{1,3}\](?=[.,;:]?(?:\s|$))"
)
ESCAPES = re.compile(r"\\[nt\"]|\\u[0-9a-fA-F]{4}")

PLACEHOLDERS = re.compile(
    r"\[\s*(?:your|insert|add|enter|name of|put|fill|type|placeholder|x{2,}|\.\.\.(?=[^\]]*\w))[^\]]*\]"
    r"|<\s*(?:insert|your|add|enter|name of|put|fill|placeholder)[^>]*>"
    r"|\(\s*(?:insert|enter|fill in|add|name of|placeholder)\b[^)]*\)"
    r"|\bX{3,}\b|\bTODO\b|\bTBD\b|\bFIXME\b|\blorem ipsum\b|_{3,}"
    r"|\b(?:a|an|the|is|of|by|from|in|at|on|for|with)\s+N/A\b"
    # `commissioned by unknown for the priory`, `weighs null kg`: the value a template had none for.
    r"|\b(?:by|to|from|with) unknown (?:for|in|on|at|during|around)\b|\b(?:is|was|of|by|at|about) (?:null|undefined)\b"
    r"|\b(?:goes|go|comes|belongs) here\b|\b(?:insert|add|enter|type|put|fill in) (?:\w+ ){0,6}here\b"
    r"|\bto be (?:added|filled in|written|completed) (?:later|here|soon)\b"
    r"|\[[^\]]*\bto be (?:added|filled|confirmed|determined|completed|written|inserted)\b[^\]]*\]"
    # Alternatives left for the writer to choose (`at their [lowest/highest] position`).
    r"|\[[a-z]+(?:/[a-z]+)+\]",
    re.I,
)
# A slot's category in brackets where its value belongs (`operated by (company) near Casco Bay`): after a small
# word, so that a gloss stays (`QTH (location)`).
SLOT_CATEGORY = re.compile(
    r"\b(?:by|of|in|at|from|to|for|with|near|called|named|and|or|the|a|an|is|was|on)\s+"
    r"\((?:company|name|person|place|location|city|town|country|region|year|date|number|amount|price|brand|product|"
    r"organi[sz]ation|author|title|website|surname)\)",
    re.I,
)
# Slots by their shape: `<device>`, `<herb name>` (markup is gone by now: known HTML tags are stripped first),
# `[Customer Name]`, `??%`, `XX seconds`.
# An omission's mark ending a sentence outside a quotation (`two triangles joined tip to tip with [...].`): text left
# out; inside a line it marks a transliteration's or a quotation's gap (`the line reads ana [...] ša Ili-remanni`).
OMISSION = re.compile(r"\[\s*(?:\.{3}|…)\s*\]\s*(?:[.!?;]|$)")
ANGLE_SLOT = re.compile(r"<[a-z][a-z0-9 _-]{0,30}>")
SLOT_SHAPES = re.compile(
    ANGLE_SLOT.pattern + r"|\[(?:[A-Z][a-z]+ )+[A-Z][a-z]+\]|^\s*\[[a-z][a-z _]{1,30}\]\s*$"
    # One word in brackets is a slot when it names what a template fills in (`[Publisher]`, `[date]`), not a
    # mark of its own (`[sic]`, `[Fragile]`).
    r"|\[[A-Za-z]+(?:'s)? (?:name|date|title|address|email|number|age|year|model|type|brand|make|size|price)\]"
    r"|\[(?i:name|company|author|publisher|date|location|city|country|product|brand|title|number|amount|price|year|"
    r"person|customer|merchant|designer|manufacturer|place|address|answer|question|text|description|value|"
    r"definition|explanation|summary|details|content|topic|subject|term|example|reason|source|ref|cite|citation|"
    r"link|url|image|figure|length|size|weight|height|width|colou?r|material|duration|distance|temperature|"
    r"quantity|min|max|minimum|maximum|range|unit|units|count|total|percentage|percent|rate|speed|age|model|"
    r"version|time)\]"
    r"|\bbetween \[\w+\] and \[\w+\]"
    # A format string's slot (`sources such as {dye_plant} for yellow`, `{colour}`); `{x}` is a set.
    r"|\{[a-z]{3,}(?:_[a-z0-9]+)*\}"
    # A numbered slot (`[application 1], [application 2]`); a footnote's or a figure's mark is not one.
    r"|\[(?!(?i:note|nb|fn|n|figure|fig|table|plate|ref|citation|source|map)\b)[A-Za-z]+(?: [a-z]+)? \d{1,2}[\]:]"
    # A slot's name in capitals (`INVENTOR_NAME`), a year with letters for digits (`in 18XX`).
    r"|[$€£¥]_{2,}|\b(?:Name|Title|Date|Place|Company|Text) Here\b|\b(?:1\d|20)XX(?:s|'s)?\b|\b[A-Z]{2,}(?:_[A-Z]+)+\b"
    r"|\b(?:1\d|20)(?:__|\d_)(?!\w)|\$[A-Z]{2,}\b|%[A-Z_]{2,}%"
    r"|(?<![?\w])\?{2,}(?=\s*[%\w])|\bX{2,}\b(?=\s*(?:%|[a-z]))"
    r"|\b(?:around|near|in|at|from|of|by|to|the|is|was|and|or) \?{2,}(?=[\s,.;:)]|$)"
    r"|\b\d{1,3}\?{2,}(?!\w)"  # a year with its last digits unknown (`since 19??`); a chess move's `Nf3??` is not
    # An editor's `TK` ("to come") where a figure or a word belongs (`as little as TK grams`).
    r"|\bTK(?:TK)?\b(?=\s+[a-z%]|\s*[.,;]|\s*$)|\bTKTK\b"
    # Dots where a figure belongs (`ripened for at least ... months`, `between … and eight hours`).
    r"|\b(?:about|around|at least|at most|up to|over|under|some|nearly|roughly|approximately|between|for|of|than)\s+"
    r"(?:\.{3}|…)\s+(?:and \w|to \d|(?:days?|weeks?|months?|years?|hours?|minutes?|seconds?|decades|centuries|"
    r"percent|%|degrees|times|kg|grams?|tonnes?|metres?|meters?|km|cm|mm|litres?|liters?|feet|inches|miles)\b)"
    r"|(?<![\w%])%(?:\(\w+\))?[sd](?![\w%])"  # a printf slot (`at %s m/s`)
    r"|(?:,|\band|\bor) N/A\b"  # a list's entry with no value (`Pluto and N/A`)
    # Digits as letters after a quantity word (`a basis weight of about NN g/m²`), a quantity `unknown` in a
    # sentence that gives its unit (`eats unknown tonnes of krill`), a phrase in lower case in brackets (`attributed
    # to [intelligence service]`; an editor's insertion sits inside a quotation, which is taken out first).
    r"|\b(?:about|around|of|is|was|at|to|approximately|roughly|nearly|over|under|some)\s+(?:NN+|XX+)\b"
    r"|(?<!an )(?<!the )\bunknown (?:tonnes|tons|kg|kilograms|grams|metres|meters|km|kilometres|miles|feet|years|days|"
    r"hours|litres|liters|percent|degrees)\b"
    # ... after a small word or at a clause's start; after a term it is a gloss (`the mulon [salt heap]`), and on a
    # word an editor's restoration (`m[e fecit]`).
    r"|(?:^\s*|[.,;:(] |\b(?:to|the|a|an|by|of|in|at|for|with|from|and|or|is|was|are|were|on|as|his|her|its|their|"
    r"our|your|my|called|named|every|each|per|this|that|these|those|some|any) )"
    r"\[(?!sic\b|citation needed\b|(?:from )?(?:low|high|left|right|top|bottom|front|back|first|last|bass|treble|"
    r"north|south|east|west|inside|outside) to \w+\])[a-z]+(?: [a-z]+){1,3}\]"
    # One word after a small word (`the feast before [holiday]`); `of [n]` is notation, `{b1: [knot]}` data.
    r"|\b(?:to|the|a|an|by|of|in|at|for|with|from|on|before|after|during|until) \[(?!sic\])[a-z]{3,}\]"
)
# A letter where a number belongs (`about N metres`, `around X,000 visitors`): looked for in every string.
LETTER_NUMBER = re.compile(
    r"\b(?:about|around|up to|over|some|only|roughly|approximately|nearly|almost|than)\s+"
    r"(?:\[[NXY]\]|[NXY](?:,000)*\b(?!['’.]\w))"
    # `a hardness of N on the Mohs scale`, `at X degrees`: a lone capital before a scale or a unit.
    # A letter for a number's leading digits, whatever comes before (`About X,000 years old`).
    r"|\b[NXY](?:,000)+\b"
    r"|\b(?:of|at|is|was|to|by|from)\s+[NX]\s+(?:on the|per|percent|%|times|degrees|metres|meters|kg|km|cm|mm|"
    r"grams?|litres?|years?|days?|hours?|minutes?|seconds?)\b"
    r"|\bbetween [NX] and (?:\d|[MNY]\b)|\bbetween \d[\d,.]* and [NX]\b|\b(?:sizes?|from|of) [NX] to [MY]\b"
    r"|[$€£¥][NXY](?:,X{3}|,000)*\b(?![$\w])"
    # A lone capital in brackets is a slot (`between [N] and eight hours`); `[A][B]` is a concentration.
    r"|(?<![\w\]])\[[NXYZ]\](?![\[\w])"
    # A lone capital before a counted thing, after a small word (`bound with N strips of sedge`).
    r"|(?<!\w)(?:with|of|at|is|was|to|by|from|in|for|and|or|only|just|than|as|has|have|had|takes|needs|uses) [NX] "
    r"(?!rays\b)[a-z]{2,}s\b"
    r"|\[[NXYZ]\]\s*(?:days?|hours?|minutes?|seconds?|years?|kg|km|cm|mm|m|metres?|meters?|miles?|feet|%|percent|"
    r"times|people|items|units)\b"
    r"|\b(?:of|is|was|about|around|diameter|width|length|depth|height) [NX] (?:mm|cm|km|kg|mg|ml|metres|meters|grams|"
    r"litres|bar|psi|hours|days|years|minutes|seconds|percent|inches|feet)\b"
    # Digits written as letters or hashes (`a hardness of X.X`, `about ### grams`; a quoted `'N.N.'` is the
    # abbreviation for a person unknown), a date as its format
    # (`held on dd/mm`, `since YYYY`).
    r"|(?<!['‘\"“])\b[NX]\.[NX]{1,2}\b|\b[NX]\.[NXY]\.[NXYZ]\b|(?<=\s)#{2,6}(?=\s+[a-z%])"
    r"|\b(?:on|in|since|from|until|by|of) (?:dd/mm|DD/MM|mm/dd|MM/DD|YYYY|yyyy)\b(?![-/])"
)
QUOTED_BLANK = re.compile(
    r"\"[^\"]*(?:_{2,}|(?i:lorem ipsum))[^\"]*\"|“[^”]*(?:_{2,}|(?i:lorem ipsum))[^”]*”"
    r"|(?<![\w'])'[^'\n]{0,80}(?:_{2,}|(?i:lorem ipsum))[^'\n]{0,80}'(?![\w'])"  # `a date engraved as '18__'`
)
# A text that speaks of blanks to fill in shows its own (`cards leave blanks for the operator to fill in: departure
# ____`), and one that says what its `<name>` stands for documents a syntax (`git merge <branch1>, where each
# <branch> is replaced by...`): neither left a slot unfilled.
BLANKS_SPOKEN_OF = re.compile(r"\b(?:blanks?|fill(?:ed|s)? (?:in|out)|boxes|left empty)\b", re.I)
SLOT_EXPLAINED = re.compile(r"\bwhere (?:each |every |the )?<[a-z][\w -]{0,30}>\s+(?:is|are|stands|means|names)\b")
# A variable's name in the prose (`its typical flying weight is flying_weight`): named for what belongs there.
SNAKE_NAME = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
# Or one where a measure's value belongs (`has an area of sail_area_m2 and ...`).
SNAKE_VALUE = re.compile(
    r"\b(?:of|is|was|are|were|about|to|at|by|from|weighs|measures|every|each|per|than|around|over|under|within)\s+"
    r"([a-z]+(?:_[a-z0-9]+)+)\b(?![(\w])"
)
# Upper-case slots are told apart from proper placeholders by case, so these run without re.I: `[DATE]`, a slot
# word in capitals in a sentence of lower-case words (`a file named FILENAME`, `a clutch of NUMBER eggs`), and
# stand-ins a template left (`Company X`, `application one, application two`).
# `[OH-]`, `[H+]`: a concentration in chemistry, not a slot.
CAPS_SLOT = re.compile(r"\[[A-Z][A-Z0-9 _/'’-]{1,}[A-Z0-9_]\]|<[A-Z][A-Z0-9 _]{2,}>")
CAPS_WORD = re.compile(
    r"\b(?:NUMBER|FILENAME|FILE|NAME|DATE|YEAR|PLACE|CITY|COUNTRY|AMOUNT|VALUE|PRICE|TITLE|AUTHOR|COMPANY|"
    r"PRODUCT|PERSON|LOCATION|ADDRESS|TOPIC|KEYWORD|TOWN|VILLAGE|REGION|STREET|ORGANI[SZ]ATION|INSTITUTION|"
    r"SURNAME|DURATION|WEIGHT|HEIGHT|WIDTH|COLOU?R|MATERIAL|QUANTITY|PERCENTAGE|TEMPERATURE|DISTANCE|BRAND|SPECIES|"
    r"ORIGIN)\b(?!\])"
)
STAND_IN = re.compile(
    r"\b(?:Company|Product|Brand|Person|City|Country|Town|Vendor|Client) [XYZ]\b|\b(\w+) one, \1 two\b"
    r"|\b(?:Example|Sample) (?:Town|City|Village|Company|Street|Road|University|County|Island|River)\b"
    # A name completed by the alphabet's end (`At Bäckerei XYZ on the Naschmarkt`); `XYZ axes` are geometry.
    r"|\b[A-Z][\w'’-]+ XYZ\b(?! (?:axis|axes|coordinates|plane|space|stage))"
    r"|(?<=[a-z,;] )(?:Example|Sample|Acme) [A-Z][a-z]+"
    r"|\b(?:Player|Artist|Author|Singer|Team|Manufacturer|Supplier|Studio|Brewer|Maker|Designer|Professor|Dr\.?|Mr\.?|"
    r"Mrs\.?|Ms\.?|Captain) [XYZ]\b(?![-.]\w)|\bFirst ?[Nn]ame Last ?[Nn]ame\b"
    # A category and `name` run together where the name belongs (`the town of Townname, Alberta`).
    r"|\b(?:Town|City|Village|Place|Company|Person|Artist|Author|Brand|Country|Street|Shop|Firm|Product)name\b"
    r"|\b(?:by|of|from|in|at) (?:the )?(?:\w+ )?[a-z]+_(?:name|date|place|city|country|year|title)\b"
    # The name for an unknown person is content in law (`a John Doe warrant`), a template's stand-in elsewhere.
    r"|(?<!a )(?<!the )\b(?:John|Jane) Doe\b['\"’”]?+(?!s\b| (?:warrant|lawsuit|suit|order|case|defendant|plaintiff|"
    r"injunction|subpoena|summons))"
)
# What each of those patterns cannot match without, looked for first: most strings have none of them.
LETTER_NUMBER_MARKS = re.compile(r"\b[NXYM]\b|[#$€£¥]|dd/|DD/|mm/|MM/|YYYY|yyyy")
STAND_IN_MARKS = ("X", "Y", "Z", "Example", "Sample", "Acme", "Doe", " one,", "irst", "_", "name")
# A field that holds only the mark for no value (`N/A`, `n/a`, `-`); `None.` may answer a question.
NO_VALUE = re.compile(r"\s*(?:N/?A|n/a|-+|—|–|\?+)\s*\.?\s*")
FIELD_AS_SUBJECT = re.compile(
    r"^\s*(?:the\s+)?(?:text|content|passage|output|response|item|field|value)s?\s+"
    r"(?:is|are|was|were|has|have|can|describes?|explains?|covers?|provides?|shows?|refers?)\b",
    re.I,
)

# Meta talk: an opener, and three families each run only when one of its words is in the text (META_FAMILIES).
META_OPENER = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|absolutely|okay|ok|great|alright|sorry|apologies)\b[,!.:]"
    r"|(?:great|good|excellent) question\b"
    r"|(?:that's|that is|what) an? (?:great|good|excellent|interesting|fascinating) question\b)",
    re.I,
)
META_HERE = re.compile(
    r"\bhere(?:'s| is| are)\s+(?:a|an|the|your|some|my)\s+(?:\w+,?[\s-]+){0,3}?"
    r"(?:description|text|passage|json|item|items|answer|response|example|summary|version|list|overview|paragraph|"
    r"output|object|entry|record|article)s?\b",
    re.I,
)
META_ABOUT = re.compile(
    r"\b(?:of )?this (?:answer|response|reply|explanation|summary|overview)\b"
    r"|\b(?:this|the above|the following|my|the previous)\s+(?:\w+\s+){0,2}?"
    r"(?:description|text|passage|paragraph|response|answer|item|json|output|entry|summary|sentences?)\s+"
    r"(?:covers|describes|is|was|provides|includes|highlights|explains|will|should|has been|aims|focuses|gives|"
    r"captures|meets|follows|contains|uses)\b"
    r"|\bin (?:this|my) (?:description|text|passage|paragraph|response|answer|item|entry|article|section|piece|post)\b"
    r"|\bthe json\b"
    r"|\bthis is an? (?:\w+[\s-]+){0,2}?(?:description|text|passage|summary|overview|answer|response|paragraph|list)\b"
    r"|\bthe following is an? (?:[\w-]+,?\s+){0,3}(?:description|text|summary|overview|list|answer|response|passage)\b",
    re.I,
)
META_PHRASES = re.compile(
    r"\bas an ai\b|\blanguage model\b|\bi hope (?:this|that|it|these|the above)\b|\blet me know\b|\bfeel free to\b"
    r"|\bwould you like (?:me to|more|to know|further|additional|another)\b|\bshall i\b|\bas you asked\b"
    r"|\bkept (?:this|it) (?:short|brief)\b|\blet(?:'s| us) think\b"
    r"|\bi (?:do not|don't) have (?:any |enough |reliable |much )?(?:information|data|details|figures|records)\b"
    r"|\b(?:previous|earlier) (?:draft|version|answer|response)\b|\bhappy to help\b"
    r"|\bi(?:'m| am) (?:sorry|unable|happy to)\b"
    r"|\bi (?:can(?:no|')t|cannot|will not|won't) (?:provide|help|write|give|offer|advise)\b"
    r"|\bplease note that I\b|\b(?:from|on) general knowledge\b"
    r"|\bas (?:you )?requested\b|\b(?:answers?|information|details|context|overview|summary|facts) requested\b"
    r"|\byou asked (?:for|me)\b"
    r"|\bi(?:'ve| have) (?:written|created|provided|included|generated)\b"
    r"|\byou (?:could|can|may|might|should) (?:also )?(?:add|include|expand|mention)\b"
    r"|(?:^|\n|\.\s+)disclaimer\s*:"
    r"|\b(?:is|are) (?:entirely |purely )?fictional\b|\bfor the purposes? of this\b|\bbelow is\b"
    r"|\byour (?:earlier |previous |last |first |original )?(?:question|request|message|prompt)\b|\bword count\b"
    r"|\(\s*\d+ words?\s*\)|\bas you (?:may|might) (?:remember|recall)\b"
    r"|\blet me (?:explain|describe|tell|give|start|summari[sz]e|think|consider|begin|focus|note|rephrase|restate|"
    r"reword|correct|clarify|try (?:again|that))\b"
    # Hedges about the writing and the set it belongs to (`Writing this one from memory`, `the other entries in
    # this set`, `overlaps with the previous entry`).
    r"|\bwriting (?:this|it)(?: one| entry| item)? from memory\b"
    r"|\btreat (?:the|these|this|my) (?:details|figures|facts|dates|numbers) (?:loosely|with caution|as approximate)\b"
    r"|\b(?:other|previous|next|earlier|later) (?:entries|items) (?:in|of) (?:this|the) (?:set|list|batch|series|"
    r"dataset)\b|\bthe (?:previous|earlier|last) entry\b"
    r"|\bbased on the (?:information|details|context|text|description|data|facts) (?:provided|given|supplied|above)\b"
    r"|\b(?:the|my) (?:previous|earlier) (?:item|passage|answer|response|text|description)\b"
    r"|\bthis (?:item|entry|passage|one) (?:continues|follows on|picks up)\b"
    r"|(?<!nothing )(?<!no )\b(?:more|further|additional|other) (?:\w+ ){0,2}(?:could|can|may|might) be "
    r"(?:added|included|mentioned|given)\b"
    r"|\b(?:this|it|that) (?:should|will|would|may|might) (?:give|help|offer|provide|serve) "
    r"(?:the |our |any )?readers?\b"
    r"|\b(?:closing|concluding) (?:point|note|thought|remark|sentence)\b|\bis there anything else\b"
    r"|\bthanks? (?:you )?for (?:asking|reading)\b"
    r"|\bplease (?:verify|check|double-check) (?:them|these|this|it|the facts|the figures?|the details)\b"
    r"|\bmoving on to the next\b|\b(?:enough|all) for this (?:item|entry|one)\b"
    r"|\b(?:that|this) (?:should )?covers? (?:the )?(?:essentials|basics|main (?:points|uses|facts|ideas)|key points|"
    r"everything)\b"
    r"|\bsince (?:it|they|this|these|that) (?:was|were) not (?:provided|given|supplied)\b"
    r"|\bmy training(?: data)?\b|\b(?:training|knowledge) cut-?off\b"
    r"|\bmy (?:information|knowledge) (?:about|of|on|may|might|is|could)\b"
    r"|\bto the best of my (?:knowledge|recollection|understanding|memory)\b|\bas far as I (?:know|can tell)\b"
    # A conversation that never happened (`the ones you mentioned earlier`, `as you mentioned`), a tour guide's
    # aside (`Let's explore them further!`): both seen in a demo's curated questions.
    r"|\bI (?:mentioned|explained|said|noted|described|stated|wrote) (?:earlier|before|above|previously)\b"
    r"|\bas (?:mentioned|noted|discussed|explained|described|shown|seen) in the (?:previous|earlier|last|preceding) "
    r"(?:section|paragraph|chapter|answer|part|item|entry)\b|\b(?:topic|subject) to write about\b"
    r"|\b(?:earlier|before|previously|above) in (?:our|this) (?:conversation|chat|discussion|exchange|thread)\b"
    r"|\byou(?:'ve| have)? (?:just |already )?mentioned\b"
    r"|\blet(?:'s| us) (?:explore|dive|delve|take a (?:closer )?look|break (?:it|this|that) down)\b",
    re.I,
)
# Offers to do more (`If you need a shorter version, just ask`), wishes for the reader's project, the cut-off.
META_OFFERS = re.compile(
    r"\bif you(?:'d)? (?:need|want|would like|like|prefer)\b[^.!?]{0,80}?\b(?:I can|I could|I'll|just ask|ask me)\b"
    r"|(?:^|[.!?]\s+)hope (?:this|that|it|these)\b|\b(?:useful|helpful) for your\b|\bas of my last\b"
    r"|\b(?:keep|make) (?:this|it|things) (?:simple|short|brief|easy|clear) for you\b"
    r"|\b(?:apologies|sorry) for (?:the|any|my) (?:\w+ )?(?:confusion|errors?|mistakes?|misunderstanding|omission)\b"
    r"|\b(?:sorry|apologies) if\b|\bwhat you (?:were|are|might be) looking for\b"
    r"|(?:^|[.!?(]\s*)(?:do you )?(?:want|need) me to\b"
    r"|\b(?:text|passage|paragraph|answer|response|description|section|summary) above\b"
    # `I can expand on reed metallurgy if that would help`, `Hopefully this gives a good overview`, an aside to
    # whoever checks the text (`(Note to reviewer: ...)`).
    r"|\bif (?:that|this|it) (?:would|will|might|could) (?:help|be (?:useful|helpful|of use|of interest))\b"
    r"|\bI (?:can|could) (?:also )?(?:list|give|provide|suggest|recommend|share|name|add) (?:some|more|a few|further|"
    r"other|the)\b|\bif (?:useful|helpful|needed|desired|wanted|you like),? I (?:can|could|will)\b"
    r"|(?:^|[.!?(]\s*)hopefully,? (?:this|that|it|these)\b"
    r"|\bI(?:'d| would)? (?:can|could|be (?:glad|happy) to) (?:expand|elaborate|go into|say more|add more|write more)\b"
    r"|\bnote to (?:the )?(?:reviewers?|editors?|readers?|users?|self|annotators?|graders?|checkers?)\b",
    re.I,
)
# The writer speaking of their own writing (`I will explain`, `I have left out the details`, `I made up some of
# these`): looked for outside quotation marks, where a person in the content may say `I`.
WRITER = re.compile(
    r"\bI(?:'ve|'ll|'d|'m| have| will| would| had| am| shall| did| do| can| could)?\s+"
    r"(?:(?:also|just|deliberately|only|briefly|simply)\s+)?"
    r"(?:explain|describe|made up|invented|assumed|left out|omitted|"
    r"(?:kept|keep) (?:this(?: \w+)?|these(?: \w+)?|it|things|the \w+|my \w+) "
    r"(?:short|brief|shorter|briefer|general|simple|high-level|broad)|"
    r"generated (?:this|it|these|the)|write about|turn to|move on to|"
    r"(?:rewritten|revised|reworded|edited|updated) (?:this|it|the)|"
    r"focused on|tried to (?:keep|write|explain|describe|cover)|"
    r"chose (?:to (?:mention|start|begin|open|focus|include|leave|put|write|end)|not to)|"
    # Hedging as the assistant, or naming what it left out (`I'm not entirely sure`, `I have not included`).
    r"not (?:entirely |quite |completely |totally |fully |absolutely )?(?:sure|certain)|"
    r"(?:less|not so|not as) (?:sure|certain|confident)|(?:usefully |reliably |safely )tell you|"
    r"(?:should|must|have to|need to) (?:mention|note|add|point out|stress|emphasi[sz]e|clarify|caution) that|"
    r"(?:want|wish|like) to (?:stress|emphasi[sz]e|point out|underline|clarify|add|note)|"
    r"summari[sz]ing from|"
    r"(?:simplified|rounded|approximated) (?:this|it|that|things|these|them|the \w+)|"
    r"find (?:this|it|that) (?:\w+ )?(?:detail |fact )?"
    r"(?:fascinating|interesting|remarkable|striking)|put (?:it|this|that) (?:first|last)|"
    r"(?:writing|working|going) from (?:memory|general knowledge)|(?:stick|keep) to the (?:basics|essentials)|"
    r"(?:not|never) (?:include|included|cover|covered|add|added|list|listed|mention|mentioned)|"
    r"left (?:it|them|this|these|that|those) out|guessing|"
    # Offers to redo the text, apologies for it (`I can rewrite this`, `I may have explained this poorly`).
    r"(?:rewrite|rephrase|revise|shorten|tailor|adapt|expand on|adjust) (?:this|it|the \w+)|say that|tell you that|"
    r"(?:may|might) have (?:explained|described|written|misread|misunderstood|been unclear)|"
    r"(?:was not|wasn't|am not|'m not|could not|couldn't|cannot|can't) (?:able to )?"
    r"(?:verify|confirm|check|find|inspect|examine|see|test)|"
    # The writer's own plans and offers, seen in a demo's curated items (`so I'm going to make some more`, `but
    # I'll give you some tips`).
    r"going to (?:make|write|add|give|show|tell|try)|give you|show you|think it's|"
    # The writer's memory as the source (`From what I recall of the literature`, `if I remember rightly`).
    r"recall|remember (?:correctly|rightly)|recollect)\b"
)
QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
# Speech in single quotes (`he tells him: 'My son, I give you the four corners of the world'`); an apostrophe is
# no quote mark.
QUOTED_SINGLE = re.compile(r"(?<![\w'])'(?=\S)[^'\n]{1,200}(?<=\S)'(?![\w'])|‘[^’\n]{1,200}’(?!\w)")

IMPERATIVE_START = re.compile(
    r"(?:^|[.!?]\s+)(?:please\s+)?(?:write|describe|explain|create|generate|provide|compose|produce|summari[sz]e|"
    r"draft|outline|document|mention|discuss|highlight|elaborate)\s+(?!to\b|down\b|up\b|back\b|off\b|in\b|on\b|your\b|"
    r"it\b|them\b)\w"
    # An order about how to write (`Be concise and factual.`, `Give two applications of...`).
    r"|(?:^|[.!?]\s+)be (?:concise|brief|factual|clear|specific|accurate|creative|detailed|informative)\b"
    r"|(?:^|[.!?]\s+)(?:answer|respond|reply|write|explain|describe) (?:briefly|concisely|factually|succinctly|simply|"
    r"clearly|accurately)\b"
    r"|(?:^|[.!?]\s+)(?:give|list|name|state) (?:\d+|one|two|three|four|five|a few|some|several) (?:\w+ )?"
    r"(?:applications|examples|uses|facts|reasons|properties|details|points|ways|features)\b"
    # Explaining to a reader the prompt named (`Explain to a ten-year-old what...`).
    r"|\b(?:write|describe|explain)\b[^.!?]{0,20}?\bto (?:a|an|the) (?:[\w-]+ ){0,2}?"
    r"(?:[\w-]*year-olds?|child|children|kids?|beginners?|novices?|laypeople|layperson|students?|readers?)\b",
    re.I,
)
# An imperative at a sentence's start that is about the writing, not the subject (`Use a historical style`,
# `Answer the question in two sentences`, `Mention the era`); `Use a soft cloth` is not.
WRITING_ORDER = re.compile(
    r"(?:^|[.!?:;]\s+)(?:please\s+)?(?:write|mention|avoid|include|use|keep|make sure|be sure|remember|focus on|answer|"
    r"reply|respond|give|adopt|stick to|cover)\b(?! of\b)[^.!?]*?\b(?:style|tone|voice|register|claims|jargon|"
    r"sentences?|words|paragraphs?|question|customer|user|reader|audience|the era|the place|answer|description|"
    r"explanation|(?:plain|simple|clear|everyday|formal|technical) language|markdown|units|the properties|the history|"
    r"the uses|the applications|facts|examples|aspects)\b",
    re.I,
)
ECHO_PHRASES = re.compile(
    r"(?<!fit )(?<!fits )(?<!summed up )(?<!put )"
    r"\bin (?:\d+|one|two|three|four|five|six|a few) (?:short )?(?:sentences|words|paragraphs|lines|bullet points)\b"
    r"|\b(?:for|aimed at|targeting|suitable for) (?:a|an) (?:\w+ ){0,2}audience\b"
    r"|\bin an? (?:\w+ ){0,2}(?:style|tone|register)\b(?=[^.]*\b(?:write|describe|explain|audience)\b)"
    r"|\b(?:the|your) task (?:is|was)\b|\bthe (?:user|prompt|instruction)s? (?:asks?|wants?|asked|says?)\b"
    # The prompt's settings in a row (`history, 2 sentences, plain English.`).
    r"|(?:^|,\s*|\(\s*)(?:\d+|one|two|three|four|five|six) (?:short )?(?:sentences|paragraphs|words)\s*(?:[,.;]|$)"
    r"|(?:^|,\s*)(?:plain|simple) (?:english|language)\s*(?:[,.;]|$)"
    r"|\b(?:do not|don't) (?:use|mention|include) (?:markdown|json|lists|bullet points|bullets|headings|emojis)\b"
    r"|\breturn (?:only )?(?:the )?json\b"
    # An order for the person (`Write in the first person.`); journals kept `in the first person` are content.
    r"|\b(?:in|use) the (?:past|present|future) tense\b"
    r"|(?:^|[.!?(]\s*)(?:(?:please\s+)?(?:write|writing|answer|respond|reply|describe|explain|speak|speaking|"
    r"narrate)\b[^.!?]{0,60})?in the (?:first|second|third) person\b"
    r"|\byou are (?:writing|creating|describing|drafting|producing)\b"
    r"|(?:^|[.!?]\s+)(?:task|instructions?|format|constraints?|requirements?)\s*:"
    # A persona line (`You are a martial arts historian.`), a persona order (`As a keeper speaking to visitors,
    # explain that ...`), format orders (`Output JSON only.`, `Do not add explanations.`).
    r"|(?:^|[.!?]\s+)you are an? (?:[\w-]+ ){0,6}[\w-]+\.(?:\s|$)"
    r"|(?:^|[.!?]\s+)as an? [^,.]{3,40}, (?:explain|describe|write|tell|say|mention)\b"
    r"|\boutput (?:only )?(?:the )?json\b|\bjson only\b"
    r"|\b(?:do not|don't) add (?:any )?(?:explanations?|comments?|notes?|commentary)\b"
    r"|(?:^|[.!?]\s+)(?:output|response|answer) format\s*:|\brespond (?:only )?with the\b"
    r"|\b(?:facts|names|details) should (?:sound|be)\b|\bsound plausible\b"
    r"|\buse (?:british|american|us|uk|australian) (?:english|spelling)\b"
    r"|\binclude at least (?:one|two|three|\d+) (?:numbers?|facts?|examples?|details?|figures?|dates?)\b"
    r"|(?:^|[.!?(]\s*)(?:respond|reply|answer|write) in (?:\d+|one|two|three|four|five)\b"
    r"|\bin (?:\d+|one|two|three|four|five)(?: to | or |-)(?:\d+|two|three|four|five|six) (?:short )?"
    r"(?:sentences|paragraphs|words)\b"
    r"|(?:^|[.!?(]\s*)(?:respond|reply|answer|write) in (?:plain|simple|a |an |british|american|english|"
    r"\w+ (?:tone|style|voice))"
    r"|(?:^|[.!?]\s+)remember to (?:keep|use|include|mention|avoid|write|make|add|invent|create|stay|be|vary)\b"
    r"|\bkeep the (?:language|tone|text|answer|wording|style) (?:simple|short|brief|clear|formal|friendly|neutral|"
    r"upbeat|positive|light|lively|warm|professional|casual|informal|academic|playful|serious)\b"
    r"|(?:^|[.!?]\s+)make it (?:sound|more|less|short|shorter|brief|simple|fun|engaging|exciting|clear)\b"
    r"|\bavoid (?:any |all )?(?:\w+ )?references\b"
    r"|(?<!not )\bfor (?:a|the) (?:general|lay|young|non-specialist|beginner) (?:reader|audience)\b"
    r"|\bwithout (?:using )?(?:any )?(?:\w+ )?jargon\b|\b\d+\s*[-–]\s*\d+ sentences\b"
    r"|\b(?:provide|give|write|return) (?:the |your )?(?:answers?|response|reply|output)s? "
    r"(?:in|using|as) (?:a )?json\b"
    r"|\bthe (?:item|text|answer|description|passage|response|history|summary|overview|entry) (?:should|must|needs to|"
    r"would need to|has to) (?:not )?"
    r"(?:include|mention|"
    r"cover|focus|contain|describe|explain|use|start|end|avoid|stay|exceed|be (?:short|brief|concise|written|in|about|"
    r"under|no more|at most|at least|aimed|suitable|factual|neutral|objective|accurate|formal|informal))\b"
    r"|\b(?:you are|respond as|answer as|reply as|act as|write as) an? (?:\w+ ){0,3}?"
    r"(?:assistant|expert|writer|model|copywriter|author)\b"
    # A persona order at a sentence's start (`Respond as a knowledgeable ornithologist.`).
    r"|(?:^|[.!?]\s+)(?:respond|reply|answer|write|speak) as an? \w+"
    # Who the prompt said the reader is (`The user is a beginner woodworker`, `The audience is students`).
    r"|\bthe (?:target )?(?:audience|reader|user)s? (?:is|are) (?:an? )?(?:[\w-]+ ){0,2}?"
    r"(?:beginners?|students?|children|kids|experts?|professionals?|novices?|learners?|adults?|laypeople|"
    r"general public|woodworkers?|collectors?|readers?)\b"
    r"|\bkeep it (?:simple|short|brief|concise|clear|under)\b|(?<!to )\bkeep it (?:factual|neutral|objective|formal)\b"
    r"|\bavoid (?:technical |any )?jargon\b"
    r"|\boutput only\b|\bno (?:extra|additional|further) (?:commentary|text|explanation|remarks)\b"
    r"|\bmake sure (?:the|your) (?:text|answer|description|item|response|output|entry)\b"
    r"|(?:^|[.!?(]\s*)(?:answer|response|text|description|output) (?:should|must) (?:be|not|stay|use)\b"
    r"|(?:^|[.!?;]\s+|\band )(?:do not|don't|never) "
    r"(?:mention|repeat|copy|say|include|invent|use the (?:word|term|phrase))\b"
    # Orders against the writer's own vices (`Avoid speculation and do not invent sources.`).
    r"|(?:^|[.!?;(]\s*)avoid (?:speculation|speculating|guesswork|exaggeration|hyperbole|clich[eé]s|filler|repetition|"
    r"opinions?|generali[sz]ations?|vague (?:language|statements|claims))\b"
    r"|\b(?:do not|don't|never) (?:invent|make up|fabricate) (?:any )?(?:sources|facts|names|dates|figures|quotes|"
    r"quotations|references|citations|details)\b"
    r"|\bset [\"'“]\w+[\"'”] to\b"
    # Rules of the writing as labels or asides (`Style rule: ...`, `Topic restricted to Norway only`, `..., remember,
    # keep the tone upbeat`, `Keep each item self-contained`, `don't refer to other items`, `no bullet points`).
    r"|\b(?:style|tone|format|writing|length|content) (?:rule|guide|requirement|constraint)s?\s*:"
    r"|\b(?:topic|subject|scope) (?:is )?(?:restricted|limited) to\b|,\s*remember,\s"
    r"|\bkeep (?:each|every|the) (?:item|entry|answer|text|description|response)s? (?:self-contained|short|brief|"
    r"under|to|concise|focused|factual|simple)\b"
    r"|\b(?:do not|don't|never) refer to (?:other|previous|earlier|the other) (?:items|entries|answers|texts)\b"
    r"|\bno bullet points\b"
    r"|\bsub-?topic\s*:",
    re.I,
)
# The prompt's orders about the reader, the tone, the format and the length, each in the shapes generators echo.
ECHO_ORDERS = re.compile(
    r"(?:^|[.!?]\s+)as an? [^,.:]{3,60}\b(?:explaining|speaking|writing|talking) to\b"
    # The prompt's settings as a label before the prose (`Audience: children aged 8-10.`, `Tone: warm.`).
    r"|(?:^|[.!?]\s+)(?:audience|tone|style|register|voice|reading level)\s*:\s*(?:[\w-]+ ){0,4}?"
    r"(?:children|kids|adults|beginners|experts|students|readers|general|friendly|formal|informal|casual|factual|"
    r"warm|neutral|playful|academic|technical|simple|plain|conversational|aged|professional|enthusiastic)\b"
    # A label the writing has no use for, whatever its value (`Tone: nostalgic.`, `Persona: a teacher.`,
    # `(Limit: 50 words.)`).
    r"|(?:^|[.!?(]\s*)(?:tone|persona|(?:target )?audience|reading level)\s*:\s*[\w ,'-]{1,80}[.;)]"
    r"|(?:^|[.!?(]\s*)(?:style|register|voice)\s*:\s*[^.]{0,60}\b(?:person|tense|wikipedia|encyclop\w+|sentences|"
    r"formal|informal|neutral)\b"
    r"|\b(?:limit|max(?:imum)?|word count|length)\s*:\s*\d+ (?:words|sentences|characters)\b"
    r"|(?:^|[.!?]\s+)avoid (?:using )?(?:bullet points|bullets|lists|headings|markdown|emojis|numbered lists)\b"
    r"|(?:^|[.!?]\s+)avoid (?:real |actual )?(?:brand|product|company|trade) names\b"
    # Format orders (`Format your response as a list.`, `Return the answer as plain text without markdown.`).
    r"|\bformat (?:your|the) (?:response|answer|reply|output|text)\b"
    r"|\breturn (?:the|your) (?:answer|response|reply|output|text) as\b|\bwithout (?:using )?(?:any )?markdown\b"
    r"|\b(?:do not|don't|never|avoid|always)\b[^.!?]{0,50}\bin (?:the|your) (?:answer|response|reply|output)\b"
    r"|\bwritten in (?:american|british|us|uk|australian|plain|simple) (?:english|spelling)\b"
    r"|(?:^|[.;:!?(]\s*|\band )(?:include|mention|give|name|cite) at least (?:one|two|three|\d+)\b"
    # Length orders (`Do not exceed 40 words.`) and the reader the prompt named (`explained here in simple terms
    # for a ten-year-old reader`).
    r"|(?:^|[.!?]\s+)(?:do not|don't|never) exceed\b"
    r"|\b(?:keep|limit) (?:it|this|the \w+|your \w+) (?:to|under|below|within) \d+ (?:words|sentences|characters)\b"
    r"|\bkept (?:(?:it|this|the \w+) )?(?:to|under|below|within) \d+ (?:words|sentences|characters)\b"
    r"|\b(?:explained|written|described|put) here\b|\bin simple terms for\b"
    r"|\bfor an? [\w-]*year-old (?:reader|audience)\b"
    # An order for a kind of detail (`Include one surprising detail.`), a persona the prompt gave (`As a knowledgeable
    # historian, ...` opening a history).
    r"|(?:^|[.;:!?]\s*)(?:include|add|mention|give|share) (?:one|a|an|two|three|some|at least one) (?:\w+ )?"
    r"(?:surprising|interesting|unusual|fun|little-known|lesser-known|specific|concrete|memorable|vivid|quirky|"
    r"striking|unexpected) (?:detail|fact|example|anecdote|number|figure|statistic)s?\b"
    r"|^\s*as an? (?:knowledgeable|helpful|friendly) [\w -]{2,40},"
    # The settings as a prefix (`In a neutral, factual tone and in British English: ...`), an order for what the
    # text must hold as a sentence of its own (`Give the location and one fact.`), an order about the question.
    r"|(?:^|[.!?]\s+)(?:written |told |explained )?in an? (?:[\w-]+,?\s+){0,3}(?:tone|style|register|voice)\b"
    r"[^.!?:]{0,50}:"
    # A length order in brackets (`(Under 60 words, no lists.)`), the reader and length before the prose (`For a
    # museum label of about 50 words: ...`), a requirement said to be met (`no brand names are mentioned, as
    # required`).
    r"|\(\s*(?:under|fewer than|less than|no more than|at most|max(?:imum)?|about|around|approx\.?)\s+\d+\s+words\b"
    r"[^)]*\)"
    r"|(?:^|[.!?]\s+)for an? [^.:]{0,40}\b\d+\s+(?:words|sentences)\b[^.:]{0,20}:"
    r"|\bas (?:required|instructed|specified)\s*[.;)]"
    r"|\bno (?:brand|product|company) names (?:are|were) (?:mentioned|used|given)\b"
    r"|(?:^|[.!?]\s+)in (?:british|american|plain|simple|formal) (?:english|language|spelling)\s*:"
    r"|(?:^|[.!?]\s+)in (?:simple|plain|everyday|layman's|non-technical) terms\b[^.!?:]{0,60}:"
    r"|\bin no more than (?:\d+|one|two|three|four|five|a few) (?:sentences|words|lines|paragraphs)\b"
    r"|(?:^|[.;:!?]\s*)avoid (?:mentioning|naming|citing|listing) (?:any |specific |particular |real |actual )?\w+"
    r"|^\s*(?:topic|subject|theme|focus)\s*:\s"
    r"|(?:^|[.;:!?]\s*)focus on (?:the )?(?:[\w-]+,? (?:and )?){0,3}(?:history|properties|uses|applications|"
    r"appearance|origins?)\s*(?:[.;]|,\s*not\b|rather than\b|and (?:do not|don't|avoid|never|mention|include|give|name|"
    r"cite)\b)"
    r"|(?:^|[.!?(]\s*)(?:be sure|make sure|remember|don't forget|do not forget) to (?:include|mention|add|note|cover|"
    r"state|explain)\b"
    # An order for one more thing, as a sentence of its own (`Include one concrete food pairing.`).
    r"|(?:^|[.!?]\s+)(?:include|mention|cite) (?:one|two|three|a|an|at least one) (?:[\w-]+ ){0,3}[\w-]+\s*[.!]"
    r"|(?:^|[.!?]\s+)(?:include|mention|give|list|add) the (?:names?|dates?|details|facts|examples|figures|sources|"
    r"origins?) of\b[^.!?]{0,40}[.!]"
    r"|(?:^|[.!?]\s+)(?:give|list|name|state|provide|mention|add|include)\b[^.!?]{0,40}\b(?:one|two|three|a|an|some) "
    r"(?:\w+ )?(?:fact|detail|example|reason|use|application|property|date|figure)s?\s*[.!?]"
    r"|\b(?:the|this|each) (?:question|item|text|answer|description|passage|response|entry) (?:should|must|needs to|"
    r"has to) be (?:answered|written|kept|phrased|worded)\b"
    # A rule said to be kept (`as specified, no brand names`, `per the guidelines`, `with British spelling
    # throughout`, `all three key points covered`), a length limit (`In 1,500 characters or fewer:`, `3 steps
    # max`), a label of settings in square brackets (`[Tone: optimistic but factual; ...]`).
    r"|\bas (?:required|instructed|specified|requested),"
    r"|\bper the (?:guidelines|instructions|brief|requirements|prompt)\b"
    r"|\b(?:british|american|us|uk) spelling throughout\b|\bkey points (?:are |were )?covered\b"
    r"|\b(?:in|under|within) [\d,]+ (?:characters|words|sentences) or (?:fewer|less)\b"
    r"|\b\d+ (?:steps|sentences|words|bullets|points|paragraphs|lines) max\b"
    r"|\[[^\]]{0,40}?\b(?:tone|style|audience|length|format|focus|level|persona|register|word limit|word count)\s*:"
    # Settings in a row, before the prose or in brackets (`Tin mining (historical focus, do not mention lithium):`,
    # `Kombucha for beginners, friendly tone, no health claims:`); beginners who do something are its subject.
    # Each setting is a few words (`Workshops for beginners usually teach the Kachni line style first, and ...:` is a
    # sentence).
    r"|(?:^|\()(?=[^.:;()]*,)(?=[^.:;()]{0,100}(?:\)|:))(?:[^.:;(),]{0,30},)*[^.:;(),]{0,30}?(?:\b(?:tone|focus|"
    r"no [\w-]+ claims|do not mention|don't mention)\b|(?:\bfor |[,(]\s*)beginners?\b)[^.:;(),]{0,30}"
    r"(?:,[^.:;(),]{0,30})*(?:\)|:)",
    re.I,
)
# A run of this many words in the item and the domain description is copied; an item mostly made of such runs
# repeats its prompt (`Penguin wood is a timber from the cold coastal forests...`) instead of writing.
COPY_RUN = 8
COPIED_SHARE = 0.6
AXIS_LABEL = re.compile(r"\b(focus|style|audience|length|tone|topic|kind|format|level|persona)\s*:\s*\w", re.I)

QA_LABEL = re.compile(
    # After a word the label is a name's part (`Side A: 18:30, Side B: 19:10` on a tape's note).
    r"(?:^|\n|(?<![\w,])\s|[(\[*#])(?:(?:Q|A|Question|Answer|Response|User|Assistant|Human|AI)\s*[:：]\s*|"
    r"(?:Q|A|Question|Answer)\s*\d+\s*[:：.)]\s+)\S"
    r"|\bQ\.\s[^?]*\?\s*A\.\s|(?:^|[.!?]\s+)Q\.\s[^?]{3,120}\?\s+\S"
    r"|\b(?:(?i:frequently asked)(?: questions?)?|FAQs?)\s*[:：]|\bQ\s?&\s?A\s*[:：]"
    r"|^[^.:?!]{1,40}:\s*(?i:frequently asked questions)\b"
    r"|(?i:\bquestion\s*[:：—–]\s.{3,160}?\banswer\s*[:：—–]\s)|\bQ\s*[—–]\s.{3,160}?\bA\s*[—–]\s"
)
# An answer that names its subject as what it is (`Headbands in bookbinding are the headbands found on...`); a
# compound's genus is a definition (`A bolt rope is the rope sewn along...`).
CIRCULAR = re.compile(r"\s*(?:the |an? )?(\w{4,})\b[^.,;:]{0,40}?\b(?:is|are|was|were) (?:the|an?) \1\b", re.I)
ANSWER_IN_QUESTION = re.compile(r"\bthe answer (?:is|was|to (?:this|that)|will|can|lies|may|would|should)\b", re.I)
ANSWER_TO_A_QUESTION = re.compile(r"\bthe answer to (?:this|that|the|your) question\b", re.I)
ABOUT_THE_QUESTION = re.compile(
    r"\b(?:is|that's|that is|was) an? (?:\w+ )?question\b|\b(?:this|the) question (?:asks|is about|concerns)\b"
    r"|" + ANSWER_TO_A_QUESTION.pattern + r"|\bthe question (?:is|was)\b[^.]{0,100}\bthe answer (?:is|was)\b",
    re.I,
)
# A passage (not a question field) that opens by asking and then answers: a question-answer pair in one. So
# does a reply that asks back (`Who made it, you ask? ...`).
SELF_ASKED = re.compile(
    r"^\s*(?:so,?\s+)?(?:what|who) (?:is|are|was|were) [^?.!]{1,60}\?\s+\S|\byou (?:may |might )?ask\?", re.I
)
# Any question opening a passage is one when the next sentence says its words again or is a bare answer, as an
# FAQ's is (`When was it discovered? It was discovered in 1911`, `Who buys them? Mainly pension funds`); a hook
# is followed by prose (`What could be simpler than a shadow? Yet it took three years`).
OPENING_QUESTION = re.compile(
    r"^\s*(?:so,?\s+|[^?.!:]{1,60}:\s+)?(?:what|who|when|where|why|how|which)\b[^?.!\"“”]{1,80}\?", re.I
)
# An answer that opens by asking its topic back (`The house? It's the target...`).
ASKED_BACK = re.compile(r"\s*(?:[\w'’-]+\s+){0,4}[\w'’-]+\?\s+\S")
# One sentence that asks, answered by the next (`... its latitude. Why is it so mild? The warm current ...`).
ASKED_MID_TEXT = re.compile(r"[.!]\s+(?:what|who|when|where|why|how|which)\b[^.?!\"“”]{0,60}\?\s+[A-Z]", re.I)
# A passage that ends by asking what comes next (`... few were examined until modern lipid analysis. Who first
# recorded a find in print?`), or on a search page's questions (`People also ask: What is a Maiensäss?`): the next
# item's question, leaked into this one.
FOLLOW_UP = re.compile(r"[.!?:]\s+(?:what|who|when|where|why|how|which)\b[^.?!\"“”]{0,120}\?\s*$", re.I)
# Questions a passage asks and answers itself, twice or more (`What is it? A calendar... Who uses it? Islanders`).
SELF_ANSWERED = re.compile(r"\?\s+(?:Yes|No|Because)\b")
ASKED_AND_ANSWERED = re.compile(r"\b(?:what|who|where|when|why|how|which)\b[^.?!\"“”]{0,40}\?\s+[A-Z]", re.I)
# A `why` with no verb of its own after it (`Why a slope?`, `And why the egg shape?`, `Why bury it at all?`) is the
# writer's rhetoric, never a question an FAQ or a prompt asks.
# The verbs a question is built on (`Is it...?`, `Why does it...?`), the modals among them.
MODAL_VERBS = "can|could|should|would|will|may|might|must|shall"
AUXILIARY = f"is|are|was|were|does|do|did|has|have|had|{MODAL_VERBS}"
WHY_WITHOUT_VERB = re.compile(
    rf"(?:^|(?<=[.!?:;]))\s*(?:and |so |but )?why "
    rf"(?!(?:{AUXILIARY}|not|isn't|aren't|wasn't|weren't|don't|doesn't|didn't|won't|can't)\b)[^?.!\"“”]{{1,60}}\?",
    re.I,
)
# A yes or no to a question no yes or no answers (`Why is the bridge glued? Yes, on most ukuleles...`).
WH_QUESTION = re.compile(r"\s*(?:why|how|what|when|where|who|which)\b(?! (?:about|if)\b)", re.I)
YES_OR_NO = re.compile(r"\s*(yes|no)\b[,.!;]", re.I)
# A question only a quantity answers (`How old must a cork oak be...?`); `How long` may take `until the sap stops`.
ASKS_A_NUMBER = re.compile(r"\s*(?:how (?:old|many|tall|heavy|far|wide|deep|high)|(?:in )?(?:what|which) year)\b", re.I)
# A question only a name answers (`Which town calls itself ...?`, `Who is credited with ...?`).
ASKS_A_NAME = re.compile(
    r"\s*(?:(?:which|what) (?:[A-Z]\w+ )?(?:town|city|village|port|island|country)\b"
    r"|who (?:is|was|are|were) (?:\w+ )?(?:credited|said to have|believed to have)"
    r"|who (?:first )?(?:invented|founded|developed|devised|designed))",
    re.I,
)
# A quiz's question may be an order to name things (`Name the two main models of ...`).
INTERROGATIVE = re.compile(
    rf"^\s*[\"'“‘(]?\s*(?:what|why|how|when|where|which|who|whom|whose|{AUXILIARY})\b"
    r"|^\s*(?:name|list|identify|give|state) (?:the|one|two|three|four|five|any|a|an) ",
    re.I,
)


# The writer correcting, excusing or second-guessing itself (`— wait, that should also include Brittany`, `if you
# meant growing ferns at home`, `Sorry, I misread the topic earlier`).
SELF_CORRECTION = re.compile(
    r"[—–-]\s*wait\b|(?:^|[.!?]\s+|,\s*)wait,\s+(?:that|this|no|actually|I)\b|\bif you meant\b"
    r"|\bsorry,? I (?:misread|misunderstood|mixed|confused|got|was wrong)\b|\bI (?:misread|misunderstood) the\b",
    re.I,
)


def wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The words each rule's patterns cannot match without (every alternative holds one): a text with none of them
# skips the patterns, which keeps the gate at its speed on the many clean items.
META_FAMILIES = (
    (wordset("here"), META_HERE),
    (
        wordset(
            "answer response reply explanation summary overview description text passage paragraph item json output "
            "entry list article section piece post sentence sentences"
        ),
        META_ABOUT,
    ),
    (
        wordset(
            "ai model hope let feel like would shall think asked requested kept information happy sorry unable provide "
            "help write written created provided included generated add include expand mention disclaimer fictional "
            "purpose purposes below question word words count added included mentioned given readers reader "
            "closing concluding anything thanks thank verify check double explain describe tell start summarise "
            "summarize essentials basics points everything covers cover since training cutoff knowledge moving enough "
            "data details figures records previous earlier please note general give offer advise memory treat entries "
            "explore dive delve look break know recollection understanding conversation chat discussion topic subject"
        ),
        META_PHRASES,
    ),
    (wordset("wait meant misread misunderstood sorry"), SELF_CORRECTION),
    (
        wordset(
            "need want like prefer hope useful helpful last simple short brief easy clear apologies sorry looking "
            "above help hopefully expand elaborate go say add write note"
        ),
        META_OFFERS,
    ),
)
SLOT_WORDS = wordset("todo tbd fixme lorem here later unknown null undefined insert enter fill")
IMPERATIVE_WORDS = wordset(
    "write describe explain create generate provide compose produce summarise summarize draft outline document "
    "mention discuss highlight elaborate be give list name state answer respond reply"
)
ORDER_WORDS = wordset(
    "write mention avoid include use keep make be remember focus answer reply respond give adopt stick cover"
)
ORDER_OBJECTS = wordset(
    "style tone voice register claims jargon sentence sentences words paragraph paragraphs question customer user "
    "reader audience era place answer description explanation language markdown units properties history uses "
    "applications facts examples aspects"
)
ECHO_WORDS = wordset(
    "sentences words paragraphs lines bullet audience style tone register task user users prompt prompts "
    "instruction instructions markdown json lists should must needs assistant expert writer model copywriter "
    "author mention repeat copy say set subtopic sub plain simple json has would tense person you task "
    "instruction instructions reader jargon respond reply answer speak keep avoid output commentary make text "
    "format constraints constraint requirements requirement are as add use include remember references facts "
    "names details sound plausible rule rules restricted limited remember keep refer bullet"
)
ORDER_WORDS_ECHOED = wordset(
    "explaining speaking writing talking audience tone style register voice reading format return markdown answer "
    "response reply output written least exceed limit keep here terms reader persona max maximum length count "
    "avoid include add mention give share knowledgeable helpful friendly tone style register voice british "
    "american plain simple formal list name state provide question topic subject theme focus sure remember forget "
    "terms words sentences lines paragraphs answered kept phrased worded required instructed specified brand product "
    "company requested per spelling covered characters steps bullets points level beginner beginners kept"
)

TERMINAL = ".!?…"
# Words no sentence ends on (`...which lets them reach reed beds that.`): the reply was cut and a stop added.
DANGLING = wordset("the a an that which whose and or but than its their our my")
# A preposition that cannot end its phrase (`it is known for.`, `made of.`); `sharp enough to shave with.` can.
OBJECT_MISSING = re.compile(
    r"\b(?:known|famous|noted|renowned|prized|valued|praised|admired) for\W*$"
    r"|\b(?:made|full|one|kind|type|part|because|instead|consists|composed) of\W*$"
    r"|\b(?:the|a|an|its|their|his|her)\s+\w+\s+of\W*$"
    # A measure of what is never said (`faded by years of.`).
    r"|\b(?:years|decades|centuries|months|weeks|days|hours|lots|plenty|kinds|sorts|types|pieces|layers|rows|"
    r"sheets|pairs|sets|cups|pounds|grams|litres|liters|tons|tonnes|dozens|hundreds|thousands|millions) of\W*$",
    re.I,
)
# The object a relative clause left where it belongs (`the strong symmetry the style is known for.`).
RELATIVE_OBJECT = re.compile(
    r"\w\s+(?:the|a|an|its|their|this|that)\s+(?:[\w'’-]+\s+){1,2}(?:is|are|was|were)\s+"
    r"(?:known|famous|noted|renowned|prized|valued|praised|admired) for\W*$",
    re.I,
)
# `half of that.`, `like that.`, `twice that.`: `that` ends a sentence as a pronoun after a preposition or a
# quantity, as it does not after a noun (`...reed beds that.`).
AFTER_THAT = re.compile(
    r"\b(?:of|like|after|before|than|for|about|with|from|on|by|at|to|twice|thrice|half|all|is|was|did|does|do|not) "
    r"that\W*$",
    re.I,
)
CLOSERS = "\"'”’)]»*"
# A modal with its verb to come (`... the yellow applied afterwards would.`); a comparison or a condition leaves the
# verb out by right (`faster than oak would.`, `as any carver could.`, `the way frames can.`, `if it must.`); `May`
# is a month.
MODAL_END = re.compile(rf"\b({MODAL_VERBS})\W*$")
ELLIPSIS_OF_A_VERB = wordset("than as if whether not never so too still way like either neither nor")
# A text that promises points and stops after the first (`... for two reasons. First, a dry surface would crack.`).
PROMISED_POINTS = re.compile(
    r"\b(?:two|three|four|five|several) (?:main |principal |key |chief |distinct |separate )?(?:reasons|ways|stages|"
    r"steps|parts|points|factors|advantages|purposes|functions|causes|methods|phases|benefits|roles)\b",
    re.I,
)
FIRST_POINT = re.compile(r"(?:^|[.!?:;]\s+)(?:First(?:ly)?|The first (?:is|was|reason|step|stage|one))\b")
LATER_POINT = re.compile(
    r"\b(?:second(?:ly)?|then|next|third|finally|another|other|lastly|also|besides|moreover)\b", re.I
)
# A list's first number and nothing after it (`...in several ways:\n1.`).
LIST_CUT = re.compile(r"(?:^|\n|:\s|,\s)\s*\d{1,2}[.)]\s*$")  # not a verse's `Numbers 23:23.`
# A reply the endpoint cut: finish_reason length (OpenAI) or its equivalents.
CUT_REASONS = {"length", "max_tokens"}
QUOTED_CUT = re.compile(r"(?:…|\.\.\.)\s*['’\"”]\W*$")
YEAR_CUT = re.compile(r"\b(?:in|since|from|until|by|about|around) \d{1,2}$")  # `She painted it in 19`
SHORT_ANSWER = 6  # words


@dataclass
class Item:
    """What the rules see of an item."""

    data: dict[str, Any]
    text: str
    text_field: str
    strings: list[tuple[str, str]]  # (JSON path, string) of every string field, as cleaning walked them
    meta: dict[str, Any] = field(default_factory=dict)  # the lineage when a run made it
    prompt: frozenset[tuple[str, ...]] = frozenset()  # the word runs of what the prompts quote (copied_runs)
    _vocab: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def vocab(self, s: str) -> frozenset[str]:
        """The lower-cased words of one of the item's strings (made once)."""
        known = self._vocab.get(s)
        if known is None:
            known = self._vocab[s] = frozenset(words(s))
        return known

    def prose(self) -> list[tuple[str, str]]:
        """The string fields long enough to be prose (not enum values like `fine` or `boatbuilding`)."""
        return [(p, s) for p, s in self.strings if " " in s.strip()]


def _quote(s: str, limit: int = 40) -> str:
    s = " ".join(s.split())
    return f"`{s[:limit]}{'…' if len(s) > limit else ''}`"


def residue(item: Item) -> str | None:
    for path, s in item.strings:
        if path != item.text_field and "." in s and WEB_ADDRESS.fullmatch(s) and not LINK_FIELD.search(path):
            return f"{path} is a web address: {_quote(s)}"
    # Keys of three parts or more, looked for once an item: two parts are a phrase (`water_resistance`).
    long_keys = [key for key in _keys(item.data) if key.count("_") >= 2]
    # A one-word value is no prose, but JSON's closing marks after it are residue (`answer: 1806"}`).
    for path, s in item.strings:
        if " " not in s.strip() and "{" not in s and "[" not in s and (m := JSON_TAIL.search(s)):
            return f"JSON's closing marks {_quote(m.group())} after the value of {path}"
        # Cleaning took HTML's tags out: this one closes a field of the prompt's format (`Alpana.</answer>`).
        if "</" in s and (m := CLOSING_TAG.search(CODE_SPAN.sub(" ", s))):
            return f"a closing tag {_quote(m.group())} in {path}"
    for path, s in item.prose():
        plain = CODE_SPAN.sub(" ", s) if "`" in s else s  # an inline code span is where braces and quotes belong
        if "[" in plain or "{" in plain:
            plain = SHOWN.sub(" ", plain)  # `an ordered list, such as ["Laptop", "Phone"]`: an example, not a leak
        if ("://" in plain or "www." in plain) and (m := LINK_INSTEAD.search(plain)):
            return f"a link where the content belongs in {path}: {_quote(m.group())}"
        if m := STRAY_START.match(plain):
            return f"{path} starts with a stray {_quote(m.group().strip())}"
        if (m := HEADING_START.match(plain)) and not TITLE_GOES_ON.match(plain, m.end()):
            return f"{path} starts with a heading: {_quote(m.group().strip())}"
        if LIST_START.match(plain):
            return f"{path} starts with a list number: {_quote(plain)}"
        if plain.count("(") > plain.count(")") and not plain.rstrip().endswith("("):
            return f"an unclosed parenthesis in {path}"
        about_json = "JSON" in plain  # `prints each step as an object such as {"Node Type": ...}` shows JSON
        if (
            ":" in plain
            and not about_json
            and (m := QUOTED_KEY.search(plain) if "'" in plain or '"' in plain else None)
        ):
            return f"a JSON key and value in {path}: {_quote(m.group())}"
        if ":" in plain and (key := _key_fragment(plain, item.data)):
            return f"the item's key `{key}` as JSON inside {path}"
        if long_keys and (key := _key_spelt_out(plain, long_keys)):
            return f"the item's key `{key}` spelt out in {path}"
        if '"' in plain:
            if not about_json and (m := JSON_LIST.search(plain)):
                return f"two JSON strings and a comma in {path}: {_quote(plain[max(0, m.start() - 10) :])}"
            if unmatched_quote(plain):
                return f"an unmatched double quote in {path}"
        if ("#" in plain or "**" in plain or "==" in plain or "\n" in plain or "--" in plain or "](" in plain) and (
            m := MARKDOWN.search(plain)
        ):
            return f"markdown {_quote(m.group().strip())} in {path}"
        if plain.count("**") % 2:  # `across its surface.** Inside`: a bold mark with no other
            return f"a stray bold mark `**` in {path}"
        if "```" in plain:  # ````text` opening a text: the fence of a code block, never prose
            return f"a code fence in {path}"
        if ("【" in plain or "†" in plain) and (m := TOOL_CITATION.search(plain)):
            return f"a chat tool's citation {_quote(m.group())} in {path}"
        if not any(c in plain for c in "{}%$<|[]\\"):
            continue  # none of the marks the checks below look for
        if m := TEMPLATE_MARKUP.search(plain):
            return f"unrendered template markup {_quote(m.group())} in {path}"
        if m := EMPTY_BRACKETS.search(plain):
            return f"stray brackets {_quote(m.group())} in {path}"
        plain = NOTATION.sub(" ", plain)
        if ("{" in plain or "}" in plain) and not about_json:
            at = plain.find("{") if "{" in plain else plain.find("}")
            return f"JSON or template braces in {path}: {_quote(plain[max(0, at - 10) :])}"
        if plain.count("[") != plain.count("]"):
            return f"unbalanced square brackets in {path}"
        if "[" in plain and (m := CITATION_MARK.search(plain)):
            return f"a citation mark {_quote(m.group())} with no reference in {path}"
        if m := ESCAPES.search(plain):
            return f"an escape sequence {_quote(m.group())} left in {path}"
    return None


def _key_fragment(s: str, data: dict[str, Any]) -> str | None:
    """A key of the item itself written as `key: value` inside prose (JSON that leaked into a field)."""
    lowered = s.lower()
    for key in data:
        k = key.lower().replace("_", " ")
        at = lowered.find(k + ":")
        if at < 0:
            at = lowered.find(f'"{k}":')  # with its quotes (`sea ice. "text": Their daily...`)
        if at < 0:
            continue
        # `text: ...` at the very start is a label (placeholder rule); in the middle it is leaked structure.
        if at > 0 and (lowered[at - 1].isalnum()):
            continue
        if at > 0 or key == "kind":
            return key
    return None


def _key_spelt_out(s: str, keys: list[str]) -> str | None:
    """One of `keys` read out as words (`a low hardness janka n` for `hardness_janka_n`): the model wrote the
    schema's name where the value belongs."""
    said = f" {' '.join(words(s))} "
    return next((key for key in keys if f" {key.lower().replace('_', ' ')} " in said), None)


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for k, v in value.items() for k in (k, *_keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


def placeholder(item: Item) -> str | None:
    for path, s in item.strings:
        if ("_" in s or "-" in s) and IDENTIFIER.match(s) and path in (item.text_field, "answer", "question"):
            return f"an identifier where content belongs: {_quote(s)} in {path}"
        slots = "[" in s or "<" in s or "_" in s or "??" in s or "xx" in s.lower() or "NN" in s or "N/A" in s
        slots = slots or "$" in s or "%" in s or "TK" in s or "..." in s or "…" in s or "{" in s
        if LETTER_NUMBER_MARKS.search(s) and (m := LETTER_NUMBER.search(s)):
            return f"a letter where a number belongs: {_quote(m.group())} in {path}"
        if (m := CAPS_WORD.search(s)) and sum(c.isupper() for c in s) < 0.3 * sum(c.isalpha() for c in s):
            return f"a slot word in capitals {_quote(m.group())} in {path}"
        if any(mark in s for mark in STAND_IN_MARKS) and (m := STAND_IN.search(s)):
            return f"a stand-in a template left: {_quote(m.group())} in {path}"
        if ")" in s and (m := SLOT_CATEGORY.search(s)):
            return f"a slot's category where its value belongs: {_quote(m.group())} in {path}"
        if not slots and SLOT_WORDS.isdisjoint(item.vocab(s)):
            continue
        plain = CODE_SPAN.sub(" ", s) if "`" in s else s
        if ("__" in plain or "orem" in plain) and ('"' in plain or "“" in plain or "'" in plain):
            plain = QUOTED_BLANK.sub(" ", plain)  # `letters that began "Dear ________,"`: a blank shown, not left
        if "___" in plain and BLANKS_SPOKEN_OF.search(plain):
            plain = plain.replace("_", " ")
        if "<" in plain and SLOT_EXPLAINED.search(plain):
            plain = ANGLE_SLOT.sub(" ", plain)
        if "[" in plain and (m := OMISSION.search(QUOTED_SINGLE.sub(" ", QUOTED.sub(" ", plain)))):
            return f"an omission mark {_quote(m.group())} where content belongs in {path}"
        for m in CAPS_SLOT.finditer(plain):
            if m.group() not in OWN_MARKS:
                return f"an unfilled slot {_quote(m.group())} in {path}"
        for m in PLACEHOLDERS.finditer(plain):
            if m.group() not in OWN_MARKS:
                return f"an unfilled placeholder {_quote(m.group())} in {path}"
        if m := SLOT_SHAPES.search(plain):
            return f"an unfilled slot {_quote(m.group())} in {path}"
        if "_" in plain and (name := _named_for_its_words(plain) or (m := SNAKE_VALUE.search(plain)) and m.group(1)):
            return f"a variable's name where its value belongs: {_quote(name)} in {path}"
    text = item.text
    if NO_VALUE.fullmatch(text):
        return f"no content where it belongs: {_quote(text)} in {item.text_field}"
    labels = {item.text_field, str(item.data.get("kind", "")), "description", "content", "passage", "output"}
    labels |= set(item.data)  # `appearance, description of the wood's...`: a key where the content belongs
    if text.strip().rstrip(".").strip().lower() in {label.lower() for label in labels if label}:
        return f"the field's name as its content: {_quote(text)}"
    first = re.match(r"\s*([A-Za-z][\w ]{0,30}?)\s*[:,;–-]", text)
    if first and first.group(1).lower().replace(" ", "_") in {label.lower() for label in labels if label}:
        return f"the field's name as a label: {_quote(text)}"
    if FIELD_AS_SUBJECT.match(text):
        return f"the field's name as its subject: {_quote(text)}"
    # `Properties is a blue-green mineral`: a key or the kind where the subject belongs.
    names = {k.lower().replace("_", " ") for k in item.data} | {str(item.data.get("kind", "")).lower()}
    first = re.match(r"\s*([A-Za-z][A-Za-z ]{0,30}?)\s+(?:is|was|has)\s+(?:a|an|the)\b", text)
    if first and first.group(1).lower() in names:
        return f"the field's name as its subject: {_quote(text)}"
    return None


def _named_for_its_words(s: str) -> str | None:
    for m in SNAKE_NAME.finditer(s):
        parts = [p for p in m.group().split("_") if len(p) > 2]
        rest = set(words(s[: m.start()] + " " + s[m.end() :]))
        if parts and all(p in rest for p in parts):
            return m.group()
    return None


def meta_talk(item: Item) -> str | None:
    for path, s in item.prose():
        vocab = item.vocab(s)
        found = META_OPENER.match(s) or next(
            (m for needed, pattern in META_FAMILIES if not needed.isdisjoint(vocab) and (m := pattern.search(s))), None
        )
        if not found and "I" in s:
            said = QUOTED.sub(" ", s) if '"' in s or "“" in s else s
            found = WRITER.search(QUOTED_SINGLE.sub(" ", said) if "'" in said or "‘" in said else said)
        if found:
            return f"talk about the task, not content: {_quote(found.group().strip())} in {path}"
    return None


def instruction_echo(item: Item) -> str | None:
    for path, s in item.prose():
        vocab = item.vocab(s)
        if not ECHO_WORDS.isdisjoint(vocab) and (m := ECHO_PHRASES.search(s)):
            return f"the prompt's wording: {_quote(m.group())} in {path}"
        if not ORDER_WORDS_ECHOED.isdisjoint(vocab) and (m := ECHO_ORDERS.search(s)):
            return f"the prompt's wording: {_quote(m.group())} in {path}"
        if path == "question":
            continue  # a question may well ask to explain or describe
        if not IMPERATIVE_WORDS.isdisjoint(vocab) and (m := IMPERATIVE_START.search(s)):
            return f"an instruction to the writer: {_quote(s[m.start() :].lstrip('.!? '))} in {path}"
        order = not ORDER_WORDS.isdisjoint(vocab) and not ORDER_OBJECTS.isdisjoint(vocab)
        if order and (m := WRITING_ORDER.search(s)):
            return f"an instruction about the writing: {_quote(s[m.start() :].lstrip('.!?: '))} in {path}"
        labels = {m.group(1).lower() for m in AXIS_LABEL.finditer(s)} if ":" in s else set()
        if len(labels) >= 2:
            return f"the prompt's settings as labels ({', '.join(sorted(labels))}) in {path}"
        axes = item.meta.get("axes") or {}
        given = [
            name
            for name, value in axes.items()
            if re.search(rf"\b{re.escape(name)}\s*:\s*{re.escape(str(value))}", s, re.I)
        ]
        if given:
            return f"the item's own axis values as labels ({', '.join(given)}) in {path}"
    if item.prompt and (share := copied_share(words(item.text), item.prompt)) > COPIED_SHARE:
        return f"{share:.0%} of {item.text_field} is copied from the domain description: {_quote(item.text)}"
    return None


def copied_runs(text: str) -> frozenset[tuple[str, ...]]:
    """The runs of COPY_RUN words of `text` (the domain description), to look items up in."""
    w = words(text)
    return frozenset(tuple(w[i : i + COPY_RUN]) for i in range(len(w) - COPY_RUN + 1))


def copied_share(w: list[str], runs: frozenset[tuple[str, ...]]) -> float:
    """The share of the words `w` that lie in a run the description has too."""
    covered = [False] * len(w)
    for i in range(len(w) - COPY_RUN + 1):
        if tuple(w[i : i + COPY_RUN]) in runs:
            covered[i : i + COPY_RUN] = [True] * COPY_RUN
    return sum(covered) / len(w) if w else 0.0


def qa_scaffold(item: Item) -> str | None:
    has_question = bool(item.data.get("question"))
    for path, s in item.prose():
        passage = path not in ("question", "answer") and not has_question
        asks = passage and "?" in s
        unquoted = QUOTED.sub(" ", s) if passage and ("?" in s or "question" in s) else ""
        if asks and ("why" in unquoted or "Why" in unquoted):
            unquoted = WHY_WITHOUT_VERB.sub(" ", unquoted)
        if asks and (
            SELF_ASKED.search(unquoted)
            or _answers_itself(unquoted)
            or SELF_ANSWERED.search(unquoted)
            or ASKED_MID_TEXT.search(unquoted)
            or ABOUT_THE_QUESTION.search(unquoted)
            or len(ASKED_AND_ANSWERED.findall(unquoted)) >= 2
        ):
            return f"{path} asks its own question and answers it: {_quote(s)}"
        if passage and (m := ANSWER_TO_A_QUESTION.search(unquoted)):
            return f"{path} answers a question it never asks: {_quote(m.group())}"
        if (passage or path == "answer") and s.rstrip().endswith("?") and (m := FOLLOW_UP.search(s.rstrip()[-160:])):
            return f"{path} ends on a question it leaves open: {_quote(m.group().lstrip('.! '))}"
        if (
            path == "answer"
            and "?" in s
            and (m := SELF_ASKED.search(s) or ASKED_BACK.match(s) or OPENING_QUESTION.match(s))
        ):
            return f"the answer asks a question and answers it: {_quote(s[m.start() :])}"
        if path == "answer" and has_question and s.rstrip().endswith("?") and WH_QUESTION.match(s):
            return f"the answer is a question of its own: {_quote(s)}"
        if ":" not in s and "：" not in s and "Q" not in s and "—" not in s and "–" not in s:
            continue  # no label of any form
        if path == "question" and not QA_LABEL.search(s[1:]):
            continue  # a question field may start with its own label only as residue of another kind
        plain = CODE_SPAN.sub(" ", s) if "`" in s else s  # `=SUM(A1:A10)` is a formula, not a label
        if m := QA_LABEL.search(plain):
            return f"question/answer labels inside {path}: {_quote(plain[max(0, m.start()) :])}"
    question = item.data.get("question")
    if isinstance(question, str) and question.strip():
        q = question.strip().rstrip(CLOSERS).rstrip()
        if not q.endswith("?") and not INTERROGATIVE.match(question):
            return f"the question is no question: {_quote(question)}"
        if m := ANSWER_IN_QUESTION.search(question):
            return f"the question holds an answer: {_quote(question[m.start() :])}"
        asked = words(question)
        for path in ("answer", item.text_field):
            said = item.data.get(path)
            # Word by word: a question cut from the answer's opening ends on its own marks (`... makers, ?`).
            if isinstance(said, str) and len(asked) >= 3 and words(said)[: len(asked)] == asked:
                return f"the {path} opens with its question: {_quote(said)}"
            if isinstance(said, str) and _repeats(question, said):
                return f"the {path} only repeats its question: {_quote(said)}"
            if isinstance(said, str) and (m := CIRCULAR.match(said)):
                return f"the {path} defines its subject by itself: {_quote(m.group())}"
            if isinstance(said, str) and (m := ABOUT_THE_QUESTION.search(said)):
                return f"the {path} talks about the question instead of answering: {_quote(m.group())}"
            if isinstance(said, str) and WH_QUESTION.match(question) and (m := YES_OR_NO.match(said)):
                return f"the {path} says {m.group(1)!r} to a question that asks {question.split()[0].lower()!r}"
            if isinstance(said, str) and (m := ASKS_A_NUMBER.match(question)) and _no_quantity(said):
                return f"the {path} gives no number to a question that asks {m.group().strip().lower()!r}"
            if isinstance(said, str) and (m := ASKS_A_NAME.match(question)) and _no_name(said):
                return f"the {path} gives no name to a question that asks {m.group().strip().lower()!r}"
    return None


def _no_quantity(answer: str) -> bool:
    w = words(answer)
    return len(w) >= 4 and not any(c.isdigit() for c in answer) and QUANTITY_WORDS.isdisjoint(w)


def _no_name(answer: str) -> bool:
    """No word in capitals but the first, and that one a number or a small word (`Ten strings ...`)."""
    w = re.findall(r"[\w'’-]+", answer)
    first = w[0].lower() if w else ""
    return not any(x[0].isupper() for x in w[1:]) and (first in QUANTITY_WORDS or first in STOP_WORDS["en"])


def _answers_itself(s: str) -> bool:
    if not (m := OPENING_QUESTION.match(s)):
        return False
    stop = STOP_WORDS["en"]
    asked = {w for w in words(m.group()) if w not in stop and len(w) > 2}
    answer = words(re.split(r"(?<=[.!?])\s", s[m.end() :].strip(), maxsplit=1)[0])
    if m.group().lstrip().lower().startswith("why") and len(answer) >= 15 and answer[0] != "because":
        return False  # a `Why ...?` that opens an explanation is the writer's hook; an FAQ's answer is short
    return bool(answer) and (answer[0] in BARE_ANSWER or len(asked & set(answer)) >= 2)


# The first words of an answer that is no sentence of its own (`About fifteen minutes`, `By the 1890s`).
BARE_ANSWER = wordset(
    "about around mainly mostly only usually all both yes no because roughly nearly almost just chiefly largely "
    "quite plenty several many few"
)
# The words of a quantity: an answer to `How many` holds one or a digit.
QUANTITY_WORDS = wordset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred hundreds thousand thousands million millions billion dozen dozens few several many couple "
    "half single double twice no none numerous countless score scores decade decades century centuries years months "
    "weeks days hours minutes once"
)


HEDGES = frozenset(["whether", "or", "not", "either"])
# Words that add nothing to a definition made of the question's words (`A cave-diving reel is a reel that is used
# in cave diving`).
FILLER = wordset("used made found known called kind type sort form thing something")


def _repeats(question: str, answer: str) -> bool:
    """The answer brings no word of content the question does not have (`This is how a poultice was made`,
    `Whether it is typed or not`), or opens with four or more of the question's words in a row and adds at most
    three of its own (`When the token reaches the last space of the track.`)."""
    stop = STOP_WORDS["en"] | HEDGES
    if re.match(r"\s*(?:yes|no)\b", answer, re.I):
        return False  # a yes or a no is the answer, however much of the question follows
    q, a = words(question), words(answer)
    if "or" in q and len(a) <= 4 and HEDGES.isdisjoint(a):
        return False  # one side of an either-or question (`... by women or by men?` `Women.`) is the answer
    asked = {w for w in q if w not in stop}
    said = [w for w in a if w not in stop]
    said = [w for w in said if w not in FILLER]
    stems = {_stem(w) for w in asked}
    new = [w for w in said if w not in asked and not _same_stem(w, asked) and _stem(w) not in stems]
    # An answer of small words alone (`Not.`, `Neither.`) says something the question does not.
    if asked and said and len(said) <= 2 * len(asked) + 2 and not new:
        return True
    # The question's words again around one common word (`A point is scored in sepak takraw when a team scores a
    # point.`); a number or a name is an answer (`... described by sealers in 1790`, `... isles of Tasmania`).
    named = len(new) == 1 and re.search(rf"\d|\b{new[0][0].upper()}{re.escape(new[0][1:])}\b", answer)
    if len(said) >= 6 and len(new) == 1 and not named:
        return True
    spoken = f" {' '.join(q)} "
    copied = 0  # how many of the answer's first words the question says in a row
    while copied < len(a) and f" {' '.join(a[: copied + 1])} " in spoken:
        copied += 1
    return copied >= 4 and sum(w not in stop for w in a[copied:]) <= 3


def _stem(word: str) -> str:
    """The word without a plural's or a tense's ending (`scores`, `scored`: `scor`)."""
    for ending in ("ing", "ed", "es", "s", "d"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def _same_stem(word: str, asked: set[str]) -> bool:
    return any(
        len(a) > 3 and (word.startswith(a) or a.startswith(word)) and abs(len(word) - len(a)) <= 2 for a in asked
    )


def _closed(s: str) -> bool:
    """The text ends by closing a quotation or a parenthesis it opened (`... the motto "Umbra sumus"`,
    `("We are a shadow")`): a reply cut by max_tokens stops inside one, not just after it."""
    if not s.endswith(('"', "”", ")")):
        return False
    return s.count("(") == s.count(")") and s.count("“") == s.count("”") and not unmatched_quote(s)


def unmatched_quote(s: str) -> bool:
    """An odd number of straight double quotes, inch marks aside; an even number pairs up, whatever the digits
    before them (`groups such as "5-3-7-1-8" on 5810 kHz`)."""
    return s.count('"') % 2 == 1 and INCH.sub("", s).count('"') % 2 == 1


def truncation(item: Item) -> str | None:
    if str(item.meta.get("finish_reason") or "") in CUT_REASONS:
        return "the endpoint cut the reply at max_tokens (finish_reason: length)"
    for path, s in item.strings:  # `era: 18th century,`: a value stopped where its next part was to come
        if path not in (item.text_field, "answer") and s.rstrip().endswith((",", ";", ":")):
            return f"{path} ends on {s.rstrip()[-1]!r}: {_quote(s)}"
    for path in (item.text_field, "answer"):
        s = item.data.get(path)
        if not isinstance(s, str) or len(s.split()) < 4:
            continue  # a short answer ("About 450 kg/m³") need not be a sentence
        end = s.rstrip().rstrip(CLOSERS).rstrip()
        # A short answer may be a name with no stop (`The third Thursday in August`); a cut one ends on a small
        # word, which the checks below see.
        short_answer = bool(item.data.get("question")) and len(s.split()) <= SHORT_ANSWER
        if short_answer and (m := YEAR_CUT.search(end)):
            return f"{path} stops inside a year: {_quote('…' + m.group())}"
        if end and end[-1] not in TERMINAL and not short_answer and not _closed(s.rstrip()):
            return f"{path} stops mid-sentence: {_quote('…' + s.rstrip()[-30:])}"
        tail = s[-80:]  # what the patterns anchored at the end need: a regex would try every position of `s`
        last = re.search(r"(\w+(?:['’]\w+)*)\W*$", tail)
        missing = OBJECT_MISSING.search(tail) and not RELATIVE_OBJECT.search(tail)
        quoted_cut = QUOTED_CUT.search(tail)  # `could record no more than 'in memory of my…'.`: a fragment quoted
        if not quoted_cut and (last and last.group(1) in DANGLING and not AFTER_THAT.search(tail) or missing):
            return f"{path} ends on `{last.group(1)}`: {_quote('…' + s.rstrip()[-30:])}"
        if (m := MODAL_END.search(tail)) and ELLIPSIS_OF_A_VERB.isdisjoint(words(tail[: m.start()])[-6:]):
            return f"{path} ends on `{m.group(1)}` before its verb: {_quote('…' + s.rstrip()[-30:])}"
        if LIST_CUT.search(tail):
            return f"{path} stops where a list begins: {_quote('…' + s.rstrip()[-30:])}"
        if s.rstrip().endswith(("...", "…")):  # trails off: the writer (or max_tokens) stopped, not the sentence
            return f"{path} trails off: {_quote('…' + s.rstrip()[-30:])}"
        promised = PROMISED_POINTS.search(s)
        first = promised and FIRST_POINT.search(s, promised.end())
        if first and not LATER_POINT.search(s, first.end()):
            return f"{path} promises {promised.group().lower()} and stops after the first: {_quote(s[first.start() :])}"
    return None


# In the order they run; the first that fires names the item's rejection.
RULES: dict[str, Callable[[Item], str | None]] = {
    "residue": residue,
    "placeholder": placeholder,
    "meta_talk": meta_talk,
    "instruction_echo": instruction_echo,
    "qa_scaffold": qa_scaffold,
    "truncation": truncation,
}
