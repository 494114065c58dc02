import math

import pandas as pd
import pytest

from mmrec_assets.ml.text import (
    DEFAULT_MAX_TOKENS,
    FRENCH_STOP_WORDS,
    clean_html,
    preprocess_text,
    preprocess_texts,
    repair_mojibake,
    stem_word,
    tokenize,
)


def test_clean_html_removes_tags_without_gluing_words():
    assert clean_html("<p>Tente <strong>pliante</strong></p>a<br>b<br/>c") == (
        "Tente pliante a b c"
    )


def test_clean_html_decodes_entities():
    text = "poign&eacute;es d&#39;indexage &amp; caf&#233;&nbsp;noir &laquo;x&raquo;"
    assert clean_html(text) == "poignées d'indexage & café noir «x»"


def test_clean_html_decodes_double_escaped_entities_and_escaped_tags():
    assert clean_html("&amp;eacute;t&amp;eacute; &amp;amp; co") == "été & co"
    assert clean_html("un&lt;br&gt;deux") == "un deux"


def test_clean_html_keeps_comparisons():
    assert clean_html("KV&lt;3800 et a < b") == "KV<3800 et a < b"


def test_clean_html_collapses_whitespace():
    assert clean_html("  un \n\t deux\u00a0 trois  ") == "un deux trois"


def test_repair_mojibake_fixes_utf8_read_as_cp1252():
    assert repair_mojibake("BÃ©bÃ©") == "Bébé"
    assert repair_mojibake("lâ€™eau, cÅ“ur") == "l\u2019eau, cœur"


def test_repair_mojibake_fixes_broken_runs_beside_correct_accents():
    assert repair_mojibake("Café BÃ©bÃ©") == "Café Bébé"


def test_repair_mojibake_leaves_text_that_does_not_round_trip():
    for text in ["SÃO PAULO", "Ã la carte", "Bébé", "élève»", "plain ascii"]:
        assert repair_mojibake(text) == text


def test_tokenize_lower_cases_and_keeps_accented_words_whole():
    assert tokenize("Bébé CŒUR Élève") == ["bébé", "cœur", "élève"]


def test_tokenize_splits_on_apostrophes_and_hyphens():
    assert tokenize("l'eau porte-clés") == ["l", "eau", "porte", "clés"]


def test_tokenize_drops_pure_numbers_and_keeps_units():
    assert tokenize("Lot de 3 bouteilles 500ml 2000 4m50 PS4") == [
        "lot",
        "de",
        "bouteilles",
        "500ml",
        "4m50",
        "ps4",
    ]


def test_stop_words_load_with_expected_entries():
    assert 150 <= len(FRENCH_STOP_WORDS) <= 250
    for word in ["le", "la", "des", "et", "pour", "avec", "l", "d", "qu", "j", "étaient", "ont"]:
        assert word in FRENCH_STOP_WORDS


def test_stop_words_are_lower_case_surface_forms():
    for word in FRENCH_STOP_WORDS:
        assert word == word.strip().lower()
        assert word.isalpha()

    # Surface forms, not stems: the stemmer would shorten these.
    assert {"étaient", "avaient", "celles"} <= FRENCH_STOP_WORDS
    assert not {"étai", "avai", "cel"} & FRENCH_STOP_WORDS


def test_stop_words_leave_out_product_nouns():
    assert not {"été", "or", "avions"} & FRENCH_STOP_WORDS


def test_stem_word_merges_inflections():
    assert stem_word("poupées") == stem_word("poupée")
    assert stem_word("jouets") == stem_word("jouet")


def test_preprocess_text_removes_stop_words():
    result = preprocess_text("Le jouet et la poupée pour les enfants avec des accessoires", None)
    tokens = result.split()
    assert not {"le", "la", "des", "et", "pour", "avec", "les"} & set(tokens)
    assert tokens == [stem_word(w) for w in ["jouet", "poupée", "enfants", "accessoires"]]


def test_preprocess_text_stems_and_lower_cases():
    assert preprocess_text("Poupées", None) == preprocess_text("poupée", None)
    assert preprocess_text("ÉCRAN", None) == "écran"


def test_preprocess_text_cleans_html_and_entities():
    result = preprocess_text(None, "<p>Poign&amp;eacute;es<br>robustes</p>")
    assert result == " ".join(stem_word(w) for w in ["poignées", "robustes"])


def test_preprocess_text_repairs_mojibake():
    assert preprocess_text("Ã‰cran tactile", None) == preprocess_text("Écran tactile", None)


def test_preprocess_text_repairs_mojibake_ending_in_non_breaking_space():
    # "à" read as cp1252 is "Ã" followed by a non-breaking space.
    assert preprocess_text("voilÃ\u00a0", None) == preprocess_text("voilà", None)


def test_preprocess_text_drops_one_letter_tokens():
    assert preprocess_text("x y z chaise", None) == stem_word("chaise")


def test_preprocess_text_puts_designation_first():
    result = preprocess_text("Chaise", "table lampe")
    assert result.split() == [stem_word(w) for w in ["chaise", "table", "lampe"]]


def test_preprocess_text_caps_tokens_keeping_designation_first():
    designation = "chaise table lampe"
    description = " ".join(f"mot{i}" for i in range(500))

    result = preprocess_text(designation, description, max_tokens=5).split()
    assert result == ["chais", "tabl", "lamp", "mot0", "mot1"]

    assert len(preprocess_text(designation, description).split()) == DEFAULT_MAX_TOKENS
    assert preprocess_text(designation, description, max_tokens=2).split() == ["chais", "tabl"]


@pytest.mark.parametrize("missing", [None, math.nan, float("nan"), pd.NA, ""])
def test_preprocess_text_handles_missing_fields(missing):
    assert preprocess_text(missing, "chaise") == stem_word("chaise")
    assert preprocess_text("chaise", missing) == stem_word("chaise")
    assert preprocess_text(missing, missing) == ""


def test_preprocess_text_returns_empty_when_only_stop_words():
    assert preprocess_text("le la les", "<br>&nbsp; 123") == ""


def test_preprocess_text_rejects_non_text():
    with pytest.raises(TypeError, match="int"):
        preprocess_text(12, None)


@pytest.mark.parametrize("max_tokens", [0, -1])
def test_preprocess_rejects_max_tokens_below_one(max_tokens):
    with pytest.raises(ValueError, match="max_tokens"):
        preprocess_text("chaise", None, max_tokens=max_tokens)
    with pytest.raises(ValueError, match="max_tokens"):
        preprocess_texts(["chaise"], [None], max_tokens=max_tokens)


def test_preprocess_texts_matches_preprocess_text_per_row():
    frame = pd.DataFrame(
        {
            "designation": ["Poupées Bébé", "Tente <b>pliante</b>", "BÃ©bÃ© confort", "Le la"],
            "description": [None, "l&#39;outil indispensable &amp;eacute;", math.nan, ""],
        }
    )

    expected = [
        preprocess_text(designation, description, max_tokens=3)
        for designation, description in zip(frame["designation"], frame["description"], strict=True)
    ]
    assert preprocess_texts(frame["designation"], frame["description"], max_tokens=3) == expected
    assert expected[3] == ""
    assert expected[2] == preprocess_text("Bébé confort", None)


def test_preprocess_texts_rejects_misaligned_inputs():
    with pytest.raises(ValueError, match="length"):
        preprocess_texts(["a", "b"], ["c"])


def test_preprocess_texts_names_the_bad_row():
    with pytest.raises(TypeError, match="row 1"):
        preprocess_texts(["chaise", 3.5], [None, None])
