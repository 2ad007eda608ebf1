"""Strings <-> token ids: tokenizers, a vocabulary, a vectorizer and padding. No torch here.

::

    from rnnkit.text import TextVectorizer
    vec = TextVectorizer("word", max_tokens=20_000, output_sequence_length=200).adapt(texts)
    ids, lengths = vec.encode_batch(batch_of_texts, return_lengths=True)
    vec.save("run/vocab.json")

Modules: ``tokenize`` (char / word / whitespace / word_punct tokenizers), ``glove`` (the
standardisation that gives GloVe's tokens, ``WordTokenizer("glove")``), ``vocab``
(``Vocabulary``: ``<pad>`` = 0, ``<unk>`` = 1, optional specials, frequency-ordered tokens),
``vectorizer`` (``TextVectorizer``), ``padding`` (``pad_sequences``).
"""

from rnnkit.text.padding import pad_sequences
from rnnkit.text.tokenize import (
    STANDARDIZERS,
    CharTokenizer,
    Tokenizer,
    WhitespaceTokenizer,
    WordPunctTokenizer,
    WordTokenizer,
    get_tokenizer,
    lower_and_strip_punctuation,
    strip_punctuation,
    tokenizer_from_dict,
)
from rnnkit.text.vectorizer import TextVectorizer
from rnnkit.text.vocab import BOS, EOS, PAD, PAD_ID, UNK, UNK_ID, Vocabulary

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "PAD_ID",
    "STANDARDIZERS",
    "UNK",
    "UNK_ID",
    "CharTokenizer",
    "TextVectorizer",
    "Tokenizer",
    "Vocabulary",
    "WhitespaceTokenizer",
    "WordPunctTokenizer",
    "WordTokenizer",
    "get_tokenizer",
    "lower_and_strip_punctuation",
    "pad_sequences",
    "strip_punctuation",
    "tokenizer_from_dict",
]
