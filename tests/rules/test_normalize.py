"""How user text and patterns are folded before they are compared."""

import pytest

from bot.normalize import normalize


@pytest.mark.parametrize(
    "written, folded",
    [
        ("りんご", "りんご"),
        ("リンゴ", "りんご"),  # katakana → hiragana
        ("ﾘﾝｺﾞ", "りんご"),  # half-width katakana with a voiced mark
        ("ＳＡＬＥ", "sale"),  # full-width Latin
        ("Sale", "sale"),
        ("Straße", "strasse"),  # case folding, not lowering
        ("１２３", "123"),  # full-width digits
        ("ラーメン", "らめん"),  # long-vowel mark tolerated
        ("らーめん", "らめん"),
        ("ﾗｰﾒﾝ", "らめん"),  # half-width long-vowel mark
        ("ありがと〜", "ありがと"),  # wave dash
        ("ありがと～", "ありがと"),  # full-width tilde
        ("人と 話したい！", "人と話したい"),  # spaces and punctuation
        ("人と　話したい。", "人と話したい"),  # ideographic space, 。
        ("talk to a person.", "talktoaperson"),
        ("「営業時間」は？", "営業時間は"),
        ("ヴァ", "ゔぁ"),
        ("😀ok", "😀ok"),  # emoji are kept: they can be patterns
        ("", ""),
    ],
)
def test_normalization_table(written, folded):
    assert normalize(written) == folded


def test_the_issues_examples_match_as_substrings():
    assert normalize("りんご") in normalize("リンゴありますか")
    assert normalize("sale") == normalize("ＳＡＬＥ")
    assert normalize("りんご") == normalize("ﾘﾝｺﾞ")
