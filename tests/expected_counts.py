"""Categories of recorded tweets computed without the transform, so that tests can check its counts."""

from __future__ import annotations

CAT_WORDS = {"cat", "cats", "kitty", "kitten"}
DOG_WORDS = {"dog", "dogs", "doggo", "doggy", "puppy"}


def expected_category(message: dict) -> str:
    """Categorise a stream message independently of the transform: hashtags and rule tags against the vocabulary."""
    hashtags = {tag["tag"].lower() for tag in message["data"].get("entities", {}).get("hashtags", [])}
    rule_tags = {(rule.get("tag") or "").lower() for rule in message.get("matching_rules", [])}
    words = hashtags | rule_tags
    is_cat = bool(words & CAT_WORDS)
    is_dog = bool(words & DOG_WORDS)
    if is_cat and is_dog:
        return "both"
    if is_cat:
        return "cat"
    if is_dog:
        return "dog"
    return "none"
