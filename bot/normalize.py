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
