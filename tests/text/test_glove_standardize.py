"""Tests of the GloVe-consistent standardisation (rnnkit.text.glove, standardize="glove")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.text import WordTokenizer, tokenizer_from_dict
from rnnkit.text.glove import _TOKEN_RE, clean_text, glove_standardize, glove_tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Doesn't it's I'm", ["does", "n't", "it", "'s", "i", "'m"]),  # clitics as in GloVe/PTB
        ("can't won't they're we've you'll he'd", [
            "ca", "n't", "wo", "n't", "they", "'re", "we", "'ve", "you", "'ll", "he", "'d"]),
        ("It\u2019s \u201cgreat\u201d", ["it", "'s", '"', "great", '"']),  # typographic quotes
        ("'quoted' dogs' toys", ["'", "quoted", "'", "dogs", "'", "toys"]),  # not clitics
        ("$5.50, 1,000 people, 3.5% at 10:30, 1/2", [
            "$", "5.50", ",", "1,000", "people", ",", "3.5", "%", "at", "10:30", ",", "1/2"]),
        ("See http://example.com/a?b=1. Or www.imdb.com!", [
            "see", "http://example.com/a?b=1", ".", "or", "www.imdb.com", "!"]),
        ("mail me: Jo.Doe@example.org", ["mail", "me", ":", "jo.doe@example.org"]),
        ("The U.S. economy, e.g. jobs...", [
            "the", "u.s.", "economy", ",", "e.g.", "jobs", "..."]),
        ("Great film<br /><br />Loved it", ["great", "film", "loved", "it"]),  # IMDB's tags
        ("Britain #39;s quot;plan quot; &amp; AT&amp;T", [
            "britain", "'s", '"', "plan", '"', "&", "at", "&", "t"]),  # AG News' entities
        ("dwindling\\band ultra-cynics", ["dwindling", "band", "ultra", "-", "cynics"]),
        ("2 < 3 > 1 :-)", ["2", "<", "3", ">", "1", ":-)"]),  # not a tag; an emoticon
        ("lol :) :( ;-) :(( <3 ^_^ (: XD :P.", [
            "lol", ":)", ":(", ";-)", ":((", "<3", "^_^", "(:", "xd", ":p", "."]),  # emoticons
        ("great:) (see: 8) x:3 :-x", [
            "great", ":", ")", "(", "see", ":", "8", ")", "x", ":", "3", ":", "-", "x"]),  # not
    ],
)
def test_glove_tokens(text: str, tokens: list[str]) -> None:
    assert glove_tokens(text) == tokens
    assert WordTokenizer("glove").tokenize(text) == tokens
    assert glove_standardize(text) == " ".join(tokens)


PIECES = [*"abnst'.,:/-$%0123@<>&;# \n\"", "n't", "'s", "http://", "www.", "<br />", "#39;",
          "quot;", "u.s.", "\u2019", "\\", ":)", ";-(", "<3", "^_^", ")", "!", "d"]  # fmt: skip


TEXTS = st.text(max_size=60) | st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@given(TEXTS)
def test_chunk_by_chunk_equals_the_pattern_over_the_whole_text(text: str) -> None:
    assert glove_tokens(text) == _TOKEN_RE.findall(clean_text(text))
    assert WordTokenizer("glove").tokenize(text) == glove_standardize(text).split()


@given(TEXTS)
def test_standardizing_twice_changes_nothing(text: str) -> None:
    once = glove_standardize(text)
    assert glove_standardize(once) == once
    assert once == " ".join(once.split())  # single spaces, no empty token


def test_glove_tokenizer_round_trips_through_its_dict() -> None:
    tokenizer = WordTokenizer("glove")
    data = tokenizer.to_dict()
    assert data == {"kind": "word", "standardize": "glove"}
    assert tokenizer_from_dict(data) == tokenizer
    text = "It's $5, isn't it?"
    assert tokenizer.tokenize(tokenizer.detokenize(tokenizer.tokenize(text))) == tokenizer.tokenize(text)
