"""Words of comments: Niconico slang normalised, Japanese tokenized, the most common counted.

Two tokenizers: MeCab through fugashi with the unidic-lite dictionary (``pip install
'nicocomments[ja]'``), which finds real words, and without it a character n-gram fallback
(runs of Japanese script cut into bigrams, Latin words and numbers kept whole). Both see the
same normalised text: NFKC (full-width ｗ８ → w8, half-width ｷﾀ → キタ), lower case, and the
slang of `SLANG` taken out first as single terms, so "ｗｗｗ", "wwwww" and "w" all count as
"w", and "8888888" as "8888". Single hiragana are never terms.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable

import pandas as pd

from nicocomments.analysis.load import STRING
from nicocomments.analysis.scan import CommentScan, text_counts
from nicocomments.errors import missing_extra
from nicocomments.limits import shown

# (pattern, term), applied to NFKC text: laughter, applause, 草 ("grass" = lol; 大草原 is a lot
# of it), "here it comes" and "thanks for uploading", which tokenizers would cut apart.
SLANG = (
    (re.compile(r"(?<![a-z])w+(?![a-z])"), "w"),
    (re.compile(r"(?<![0-9])8{3,}(?![0-9])"), "8888"),
    (re.compile(r"草+"), "草"),
    (re.compile(r"キタ[ー━〜~]*"), "キター"),
    (re.compile(r"うぽつ"), "うぽつ"),
)
CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "感動詞", "副詞"})
STOPWORDS = frozenset(
    {
        *("する", "いる", "ある", "なる", "ない", "れる", "られる", "こと", "もの", "の"),
        *("よう", "さん", "これ", "それ", "あれ", "ここ", "そこ", "そう", "こう", "どう"),
        *("ん", "て", "だ", "です", "ます"),
    }
)
_JAPANESE_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ー]+")
_LATIN_RUN = re.compile(r"[a-z0-9]+")
_KANA_ONLY = re.compile(r"[\u3040-\u309f]")


def normalize(text: str) -> str:
    """NFKC and lower case: ｗｗｗ → www, ８８８８ → 8888, ｷﾀ━ → キタ━, ＧＪ → gj."""
    return unicodedata.normalize("NFKC", text).lower()


def slang(text: str) -> tuple[list[str], str]:
    """The slang terms of a normalised text, and the text with them blanked out."""
    found: list[str] = []
    for pattern, term in SLANG:
        text, count = pattern.subn(" ", text)
        found += [term] * count
    return found, text


def ngram_terms(text: str, n: int = 2) -> list[str]:
    """The fallback: Japanese runs as character n-grams (a run no longer than ``n`` whole;
    single hiragana dropped), Latin words and numbers whole."""
    terms = []
    for run in _JAPANESE_RUN.findall(text):
        if len(run) <= n:
            if len(run) > 1 or not _KANA_ONLY.fullmatch(run):
                terms.append(run)
        else:
            terms += [run[i : i + n] for i in range(len(run) - n + 1)]
    terms += _LATIN_RUN.findall(text)
    return terms


@functools.cache
def _tagger():
    import fugashi  # ImportError when the 'ja' extra is not installed

    return fugashi.Tagger()


def mecab_terms(text: str) -> list[str]:
    """Content words (nouns, verbs, adjectives, interjections, adverbs) in dictionary form."""
    terms = []
    for word in _tagger()(text):
        feature = word.feature
        if getattr(feature, "pos1", None) not in CONTENT_POS:
            continue
        base = getattr(feature, "orthBase", None)
        term = base if base and base != "*" else word.surface
        if term and term not in STOPWORDS and not _KANA_ONLY.fullmatch(term):
            terms.append(term)
    return terms


def make_tokenizer(kind: str = "auto") -> Callable[[str], list[str]]:
    """``"mecab"``, ``"ngram"``, or ``"auto"``: MeCab when fugashi and unidic-lite are
    installed, else n-grams."""
    if kind == "ngram":
        return ngram_terms
    if kind not in ("auto", "mecab"):
        raise ValueError(f"unknown tokenizer {shown(kind)}: choose auto, mecab or ngram")
    try:
        _tagger()
    except (ImportError, RuntimeError):
        if kind == "mecab":
            raise missing_extra("--tokenizer mecab", "fugashi and unidic-lite", "ja") from None
        return ngram_terms
    return mecab_terms


def terms_of(text: str, split: Callable[[str], list[str]]) -> list[str]:
    found, rest = slang(normalize(text))
    return found + split(rest)


def top_terms(
    df: pd.DataFrame, n: int = 50, *, tokenizer: str = "auto", sample: int | None = None
) -> pd.DataFrame:
    """The ``n`` terms found in the most comments: ``term`` (string), ``comments`` (int64: in
    how many comments it occurs, so one comment repeating a word counts once) and ``share`` of
    the comments (float64); ties in alphabetical order. Deleted comments are skipped.
    ``tokenizer``: "auto" (MeCab if installed), "mecab" or "ngram" (see `make_tokenizer`).
    ``sample``: count over a random sample of that many comments (the same one each time)
    rather than all. Each distinct text is tokenized once, however often it was posted.

    Example::

        >>> top_terms(load_comments("nico-demo.db", "sm9"), n=3)
          term  comments     share
        0    w      2536  0.085338
        1   すき      1272  0.042804
        2  うぽつ      1255  0.042232
    """
    split = make_tokenizer(tokenizer)
    if isinstance(df, CommentScan):
        counted = text_counts(df, sample).to_pandas()
    else:
        texts = df.loc[~df["is_deleted"], "content"].dropna() if len(df) else df["content"]
        if sample is not None and len(texts) > sample:
            texts = texts.sample(sample, random_state=0)
        counted = texts.value_counts().rename("comments").rename_axis("content").reset_index()
    documents: Counter[str] = Counter()
    total = int(counted["comments"].sum())
    for text, weight in zip(counted["content"], counted["comments"], strict=True):
        for term in set(terms_of(text, split)):
            documents[term] += int(weight)
    ranked = sorted(documents.items(), key=lambda item: (-item[1], item[0]))[: max(n, 0)]
    return pd.DataFrame(
        {
            "term": pd.array([t for t, _ in ranked], dtype=STRING),
            "comments": pd.array([c for _, c in ranked], dtype="int64"),
            "share": pd.array([c / total for _, c in ranked], dtype="float64"),
        }
    )
