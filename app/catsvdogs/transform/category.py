"""Cat, dog, both or none: the category of a tweet, from its hashtags and matching-rule tags.

Only hashtags and the tags of the filtered-stream rules that matched count. Words
in the text do not, because "my dog ignores the cat" is no cat tweet.

Tweets whose category is "none" are kept: the transform returns them with result
Ok and category "none", and OpenSearch indexes them. Dropping them would make
the number of indexed documents differ from the number of records sent, so the
counts of a run could not be reconciled. Dashboards filter on the category.

The vocabulary comes from CATSVDOGS_CAT_WORDS and CATSVDOGS_DOG_WORDS. This
module parses them itself because the Lambda package contains only
``catsvdogs.transform`` and vaderSentiment. ``parse_word_list`` and
``load_vocabulary`` must keep the semantics of ``catsvdogs.config`` (a unit test
compares them).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Category = Literal["cat", "dog", "both", "none"]

CAT_WORDS_VARIABLE = "CATSVDOGS_CAT_WORDS"
DOG_WORDS_VARIABLE = "CATSVDOGS_DOG_WORDS"
DEFAULT_CAT_WORDS = "cat,cats,kitty,kitten"
DEFAULT_DOG_WORDS = "dog,dogs,doggo,doggy,puppy"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Lower-case words without "#" that put a tweet in the cat or the dog category."""

    cat_words: frozenset[str]
    dog_words: frozenset[str]


def parse_word_list(value: str) -> tuple[str, ...]:
    """Split a comma-separated vocabulary into lower-case words without '#'."""
    words = (word.strip().lstrip("#").lower() for word in value.split(","))
    return tuple(word for word in words if word)


def load_vocabulary(environ: Mapping[str, str] | None = None) -> Vocabulary:
    """Read the vocabulary from ``environ`` (default: the process environment).

    An unset or blank variable means its default word list.
    """
    env = os.environ if environ is None else environ
    cat_value = env.get(CAT_WORDS_VARIABLE, "").strip() or DEFAULT_CAT_WORDS
    dog_value = env.get(DOG_WORDS_VARIABLE, "").strip() or DEFAULT_DOG_WORDS
    return Vocabulary(
        cat_words=frozenset(parse_word_list(cat_value)),
        dog_words=frozenset(parse_word_list(dog_value)),
    )


def normalize_tag(tag: str) -> str:
    """Lower-case a hashtag or rule tag and strip a leading '#', as the vocabulary is."""
    return tag.strip().lstrip("#").lower()


def classify(hashtags: Iterable[str], rule_tags: Iterable[str], vocabulary: Vocabulary) -> Category:
    """Return the category of a tweet from its hashtags and the tags of its matching rules.

    Both are compared with the vocabulary after ``normalize_tag``, as whole words:
    "#DogsOfTwitter" is not "dogs".
    """
    terms = {normalize_tag(tag) for tag in hashtags}
    terms.update(normalize_tag(tag) for tag in rule_tags)
    is_cat = not terms.isdisjoint(vocabulary.cat_words)
    is_dog = not terms.isdisjoint(vocabulary.dog_words)

    if is_cat and is_dog:
        return "both"
    if is_cat:
        return "cat"
    if is_dog:
        return "dog"
    return "none"
