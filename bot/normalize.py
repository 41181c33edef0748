"""Text normalization, so that the way a user types does not decide the answer.

Users write the same word in full-width or half-width forms, in katakana or
hiragana, with or without long-vowel marks, spaces and punctuation. Patterns
and messages are both passed through `normalize` before they are compared, so
"ﾘﾝｺﾞ", "リンゴ" and "りんご" are one word and "ＳＡＬＥ" is "sale".
"""

import unicodedata

#: Katakana letters that have a hiragana twin sit exactly 0x60 above it.
KATAKANA_FIRST, KATAKANA_LAST = 0x30A1, 0x30F6
KANA_OFFSET = 0x60

#: Long-vowel marks and wave dashes people add or leave out at will
#: ("りんごー", "ありがと〜"); NFKC has already turned "ｰ" into "ー" and "～" into "~".
LONG_VOWEL_MARKS = frozenset("ー〜~\u2015\u2053")

#: Unicode categories dropped: punctuation, separators (spaces), controls and
#: format characters (zero-width joiners, variation selectors' neighbours).
DROPPED_CATEGORIES = ("P", "Z", "C")

#: Letters below this code point (Latin, with its accents and extensions) come
#: in words set apart by spaces; see `words_fit`.
LATIN_END = 0x250


def normalize(text: str) -> str:
    """`text` folded for comparison: NFKC, case, kana, long vowels, spacing.

    Pure and cheap; the matcher calls it once per message and once per
    pattern when rules are compiled.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    if folded.isalnum():
        return folded  # nothing left to drop: the common case, kept fast
    return "".join(
        char
        for char in folded
        if unicodedata.category(char)[0] not in DROPPED_CATEGORIES
    )


def normalize_with_gaps(text: str) -> tuple[str, frozenset]:
    """`normalize(text)` and the offsets in it where the user's words met.

    An offset i is in the set when a space, punctuation or a long-vowel mark
    stood before the i-th character of the folded text, which `words_fit`
    needs once those are gone. Punctuation alone between two digits is part
    of a number ("1,500", "1.500"), not a word break: "500" must not match
    inside "1,500".
    """
    wide = unicodedata.normalize("NFKC", text).casefold()
    folded = wide.translate(_FOLD)
    if len(folded) == len(wide) and folded.isalnum():
        return folded, frozenset()  # nothing dropped: the common case
    kept, gaps = [], {}
    for char in wide:
        category = unicodedata.category(char)[0]
        if char in LONG_VOWEL_MARKS or category in DROPPED_CATEGORIES:
            # Remember whether a space was among what was dropped here.
            gaps[len(kept)] = gaps.get(len(kept), False) or category == "Z"
        else:
            kept.append(char)
    folded = "".join(kept).translate(_FOLD)
    return folded, frozenset(
        at
        for at, spaced in gaps.items()
        if spaced
        or not (0 < at < len(folded))
        or not (folded[at - 1].isdigit() and folded[at].isdigit())
    )


def is_latin(char: str) -> bool:
    """A letter or digit of a script that puts spaces between its words."""
    return char.isalnum() and ord(char) < LATIN_END


def words_fit(folded: str, gaps: frozenset, start: int, end: int) -> bool:
    """Whether `folded[start:end]` (a pattern's hit) begins and ends on words.

    Matching drops spaces so that Japanese and Thai, written without them,
    match inside a sentence; but a Latin-script pattern must not match inside
    another word ("agent" in "a gentle", "sale" in "wholesale"). So an end of
    the hit that is a Latin letter or digit must meet a dropped space or
    punctuation, the text's edge, or a character of another script.
    """

    def edge(i: int) -> bool:
        return (
            i == 0
            or i == len(folded)
            or i in gaps
            or not (is_latin(folded[i - 1]) and is_latin(folded[i]))
        )

    if is_latin(folded[start]) and not edge(start):
        return False
    return not (is_latin(folded[end - 1]) and not edge(end))


def _fold_table() -> dict:
    table = {
        code: code - KANA_OFFSET for code in range(KATAKANA_FIRST, KATAKANA_LAST + 1)
    }
    table |= {ord(mark): None for mark in LONG_VOWEL_MARKS}
    return table


_FOLD = _fold_table()


def width_folded(text: str) -> str:
    """`text` with full- and half-width forms unified (NFKC) and nothing else.

    Regex rules see this form: digits typed full-width match `\\d`, while case,
    spacing and punctuation stay for the pattern to decide.
    """
    return unicodedata.normalize("NFKC", text)
