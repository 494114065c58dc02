"""Text preprocessing for French product titles (designation) and descriptions.

The pipeline turns the two raw text fields of a product into one string of French stems separated
by single spaces, ready for a vectorizer that splits on whitespace:

1. Runs of characters that are UTF-8 bytes read as Latin-1 or cp1252 ("BÃ©bÃ©") are decoded back.
   This comes first because such a run can end in a non-breaking space, which the next step would
   change; mojibake written as HTML entities ("&Atilde;&copy;") is therefore not repaired.
2. HTML tags are replaced by spaces and entities are decoded, also when they were escaped twice.
3. The text is normalised (NFKC), lower-cased and cut into word tokens.
4. Stop words and one-letter tokens are dropped, the rest is stemmed with the Snowball French
   stemmer, and the result is capped at a number of tokens, designation first.

Choices that shape the tokens:

- A token is a run of Unicode letters and digits. Apostrophes and hyphens separate tokens, so
  "l'eau" gives "l" and "eau" and "porte-clés" gives "porte" and "clés"; keeping the parts apart
  lets "clés" match the same word written alone.
- Tokens made only of digits are dropped: bare quantities and dimensions vary without telling the
  product type. Tokens that mix letters and digits ("500ml", "4m50", "ps4") are kept, since units
  and model names often do.
- NFKC turns ligatures and full-width letters into plain ones and "m²" into "m2".
- Stems keep their accents ("écran" stays "écran"), except where the Snowball algorithm itself
  removes the accent of a final "é" or "è" ("bébé" becomes "beb").

The stop-word list in ``french_stop_words.txt`` holds articles, pronouns, prepositions,
conjunctions, the conjugated forms of "être" and "avoir" and the elided forms ("l", "qu", "jusqu").
It leaves out words that are also common product nouns: "été" (summer), "or" (gold), "car"
(frequent in English descriptions of model cars) and "avions" (aeroplanes). English stop words
are not removed.
"""

from __future__ import annotations

import functools
import html
import math
import re
import unicodedata
from collections.abc import Sequence
from importlib import resources

import pandas as pd
from nltk.stem.snowball import FrenchStemmer

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FRENCH_STOP_WORDS",
    "clean_html",
    "preprocess_text",
    "preprocess_texts",
    "repair_mojibake",
    "stem_word",
    "tokenize",
]

DEFAULT_MAX_TOKENS: int = 200

_STOP_WORDS_FILE = "french_stop_words.txt"

# Enough distinct words for the whole Rakuten catalogue, while bounding memory in a long-lived
# process.
_STEM_CACHE_SIZE = 2**18

# Text escaped more than three times is not seen in practice; the bound keeps a pathological
# input from looping.
_MAX_UNESCAPE_ROUNDS = 3

# A tag must start with a letter, "/" or "!" right after "<", so that comparisons such as
# "KV<3800" or "a < b" survive.
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z!][^<>]*>", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")
# A word is a run of letters and digits holding at least one letter: matching only those runs
# drops pure numbers inside the regex engine instead of in a Python loop.
_WORD = re.compile(r"\d*[^\W\d_][^\W_]*")


def _mojibake_sequence_pattern() -> tuple[re.Pattern[str], dict[str, int]]:
    """Build the pattern of one UTF-8 multi-byte sequence as it looks once read as cp1252.

    Returns:
        The compiled pattern and the map from each character it can match back to its byte.
    """
    char_to_byte = {chr(byte): byte for byte in range(0x80, 0x100)}
    for byte in range(0x80, 0xA0):
        # cp1252 leaves five of these bytes undefined; text read as Latin-1 shows them (and the
        # other ones) as C1 control characters, already mapped above.
        try:
            char_to_byte[bytes([byte]).decode("cp1252")] = byte
        except UnicodeDecodeError:
            continue

    continuation = "".join(
        re.escape(char) for char, byte in sorted(char_to_byte.items()) if byte < 0xC0
    )
    pattern = (
        f"[\u00c2-\u00df][{continuation}]"
        f"|[\u00e0-\u00ef][{continuation}]{{2}}"
        f"|[\u00f0-\u00f4][{continuation}]{{3}}"
    )
    return re.compile(pattern), char_to_byte


_MOJIBAKE_SEQUENCE, _MOJIBAKE_BYTES = _mojibake_sequence_pattern()


def _load_stop_words() -> frozenset[str]:
    text = resources.files(__package__).joinpath(_STOP_WORDS_FILE).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


FRENCH_STOP_WORDS: frozenset[str] = _load_stop_words()

_STEMMER = FrenchStemmer()


def _strip_html(text: str) -> str:
    if "<" in text:
        text = _TAG.sub(" ", text)

    if "&" in text:
        for _ in range(_MAX_UNESCAPE_ROUNDS):
            unescaped = html.unescape(text)
            if unescaped == text:
                break
            text = unescaped
        if "<" in text:
            text = _TAG.sub(" ", text)

    return text


def clean_html(text: str) -> str:
    """Strip HTML tags, decode HTML entities and collapse whitespace.

    Tags become spaces so that "a<br>b" gives "a b". Entities are decoded repeatedly, so a
    double-escaped "&amp;eacute;" gives "é"; tags that were themselves escaped ("&lt;br&gt;") are
    stripped once decoded. Non-breaking spaces count as whitespace.

    Args:
        text: Raw text, possibly holding HTML.

    Returns:
        The plain text on one line, without leading or trailing whitespace.
    """
    return _WHITESPACE.sub(" ", _strip_html(text)).strip()


def _decode_sequence(match: re.Match[str]) -> str:
    sequence = match.group()
    try:
        return bytes(_MOJIBAKE_BYTES[char] for char in sequence).decode("utf-8")
    except UnicodeDecodeError:
        return sequence


def repair_mojibake(text: str) -> str:
    """Repair UTF-8 text that was decoded once as Latin-1 or cp1252.

    Each run of characters shaped like one UTF-8 multi-byte sequence ("Ã©", "â€™") is encoded back
    to bytes and decoded as UTF-8; the run is replaced only when that decoding succeeds, so the
    repair round-trips and text that merely contains such characters ("SÃO PAULO", "Ã la") is
    left unchanged. Repairing run by run also fixes text where correct accents sit beside broken
    ones ("Café BÃ©bÃ©" gives "Café Bébé"). Text damaged twice is repaired once only.

    Args:
        text: Text that may hold mojibake.

    Returns:
        The repaired text, or the input itself when nothing needed repair.
    """
    if text.isascii():
        return text
    return _MOJIBAKE_SEQUENCE.sub(_decode_sequence, text)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def tokenize(text: str) -> list[str]:
    """Split text into lower-case word tokens.

    A token is a run of Unicode letters and digits after NFKC normalisation, so accented words
    stay whole ("Bébé" gives "bébé"). Apostrophes and hyphens split words ("l'eau" gives "l",
    "eau"; "porte-clés" gives "porte", "clés"). Tokens made only of digits are dropped; tokens
    mixing letters and digits ("500ml", "4m50") are kept.

    Args:
        text: Plain text, already free of HTML.

    Returns:
        The tokens in reading order.
    """
    return _tokens(text)


@functools.lru_cache(maxsize=_STEM_CACHE_SIZE)
def stem_word(word: str) -> str:
    """Stem one lower-case French word with the Snowball French stemmer, with caching.

    Snowball in pure Python costs tens of microseconds a word, while product texts reuse a small
    vocabulary, so the cache makes stemming almost free after the first occurrence of each word.
    Call ``stem_word.cache_clear()`` to measure cold performance.

    Args:
        word: A token as returned by ``tokenize``.

    Returns:
        Its stem, accents kept ("poupées" and "poupée" both give "poup").
    """
    return _STEMMER.stem(word)


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    raise TypeError(f"expected text or a missing value, got {type(value).__name__} {value!r}")


def _check_max_tokens(max_tokens: int) -> None:
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")


def _stems(text: str, limit: int) -> list[str]:
    # Mojibake is repaired before HTML is stripped: "à" read as cp1252 ends in a non-breaking
    # space ("Ã\xa0") that must still be there. Whitespace needs no collapsing before tokenizing.
    tokens = _tokens(_strip_html(repair_mojibake(text)))
    kept = [token for token in tokens if len(token) > 1 and token not in FRENCH_STOP_WORDS]
    # Cutting before stemming spares stemming the tail of long descriptions.
    return list(map(stem_word, kept[:limit]))


def _preprocess(designation: object, description: object, max_tokens: int) -> str:
    stems = _stems(_as_text(designation), max_tokens)
    if len(stems) < max_tokens:
        stems += _stems(_as_text(description), max_tokens - len(stems))
    return " ".join(stems)


def preprocess_text(
    designation: str | None,
    description: str | None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> str:
    """Turn a product's designation and description into a string of French stems.

    The designation comes first, so when the cap is reached it is the description that is cut.
    Each field is repaired of mojibake, cleaned of HTML, tokenized, freed of stop words and
    one-letter tokens, and stemmed.

    Args:
        designation: Product title; None, NaN or empty counts as no text.
        description: Product description; None, NaN or empty counts as no text.
        max_tokens: Largest number of stems kept.

    Returns:
        The stems joined by single spaces, or "" when no token is left.

    Raises:
        ValueError: If max_tokens is less than 1.
        TypeError: If a field is neither text nor a missing value.
    """
    _check_max_tokens(max_tokens)
    return _preprocess(designation, description, max_tokens)


def preprocess_texts(
    designations: Sequence[str | None],
    descriptions: Sequence[str | None],
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> list[str]:
    """Preprocess many products at once, as ``preprocess_text`` does for one.

    Pandas Series are accepted; their missing values (NaN or ``pd.NA``) count as no text.

    Args:
        designations: Product titles, one per row.
        descriptions: Product descriptions, aligned with ``designations``.
        max_tokens: Largest number of stems kept per row.

    Returns:
        One string of stems per row, in row order.

    Raises:
        ValueError: If max_tokens is less than 1 or the two sequences differ in length.
        TypeError: If a field is neither text nor a missing value; the message names the row.
    """
    _check_max_tokens(max_tokens)
    if len(designations) != len(descriptions):
        raise ValueError(
            f"designations and descriptions differ in length: "
            f"{len(designations)} and {len(descriptions)}"
        )

    results = []
    for row, (designation, description) in enumerate(zip(designations, descriptions, strict=True)):
        try:
            results.append(_preprocess(designation, description, max_tokens))
        except TypeError as error:
            raise TypeError(f"row {row}: {error}") from error
    return results
