"""Filtered-stream rules kept in sync with the configuration: rules not configured are deleted, missing ones added.

A rule is identified by its value and tag. Rules on X that match a configured
rule are left alone, so a second sync changes nothing. By default there is one
rule for the cat words and one for the dog words of the vocabulary, tagged
``cats`` and ``dogs``, which the transform counts like hashtags. X_STREAM_RULES_FILE
can name a JSON file with a list of ``{"value": ..., "tag": ...}`` objects instead.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tweepy import StreamRule

from catsvdogs.sources.x_client import XApiError
from catsvdogs.sources.x_stream import ReconnectSchedule

LOG = logging.getLogger(__name__)

SYNC_ATTEMPTS = 5
RULES_FILE_VARIABLE = "X_STREAM_RULES_FILE"
MAX_RULE_LENGTH = 1024
"""Maximum characters of a rule value on the pay-per-use plan; legacy Basic allows 512."""
CAT_RULE_TAG = "cats"
DOG_RULE_TAG = "dogs"


class RulesError(ValueError):
    """Rule configuration that cannot be used; the message names the problem."""


@dataclass(frozen=True, order=True)
class Rule:
    """One filtered-stream rule: its query value and its tag (None for no tag)."""

    value: str
    tag: str | None = None

    def __str__(self) -> str:
        return f"{self.value!r} tag {self.tag!r}" if self.tag is not None else f"{self.value!r} without a tag"


@dataclass(frozen=True)
class ExistingRule:
    """A rule as X stores it, with its id."""

    id: str
    rule: Rule


@dataclass(frozen=True)
class RuleDiff:
    """Changes that make the rules on X equal to the configured ones."""

    keep: tuple[ExistingRule, ...]
    delete: tuple[ExistingRule, ...]
    add: tuple[Rule, ...]

    @property
    def changes(self) -> bool:
        return bool(self.delete or self.add)

    def describe(self) -> str:
        """Format the diff as lines: ``=`` kept, ``-`` deleted, ``+`` added."""
        lines = [f"  = {item.rule} (id {item.id})" for item in self.keep]
        lines += [f"  - {item.rule} (id {item.id})" for item in self.delete]
        lines += [f"  + {rule}" for rule in self.add]
        summary = f"filtered-stream rules: {len(self.keep)} kept, {len(self.delete)} to delete, {len(self.add)} to add"
        return "\n".join([summary, *lines])


class RulesApi(Protocol):
    """The rule methods of tweepy's StreamingClient."""

    def get_rules(self, **params: object): ...

    def add_rules(self, add: Sequence[StreamRule], **params: object): ...

    def delete_rules(self, ids: Sequence[str], **params: object): ...


def hashtag_rule(words: Iterable[str], tag: str) -> Rule:
    """Build a rule that matches any of the hashtags ``words`` and leaves out retweets, which copy a post."""
    hashtags = " OR ".join(f"#{word}" for word in words)
    return Rule(f"({hashtags}) -is:retweet", tag)


def default_rules(cat_words: Sequence[str], dog_words: Sequence[str]) -> list[Rule]:
    """Return one rule for the cat words and one for the dog words, tagged ``cats`` and ``dogs``."""
    rules = []
    if cat_words:
        rules.append(hashtag_rule(cat_words, CAT_RULE_TAG))
    if dog_words:
        rules.append(hashtag_rule(dog_words, DOG_RULE_TAG))
    return rules


def read_rules_file(path: Path) -> list[Rule]:
    """Read a JSON list of ``{"value": ..., "tag": ...}`` objects; raise RulesError naming the bad entry."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise RulesError(f"{RULES_FILE_VARIABLE}: file {path} not found") from error
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError(f"{RULES_FILE_VARIABLE}: cannot read {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise RulesError(f"{path}: invalid JSON: {error.msg} at line {error.lineno}") from error
    if not isinstance(document, list):
        raise RulesError(f"{path}: expected a JSON list of rules, found {type(document).__name__}")
    rules = []
    for index, entry in enumerate(document):
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str) or not entry["value"].strip():
            raise RulesError(f"{path}: rule {index} must be an object with a non-empty string 'value'")
        tag = entry.get("tag")
        if tag is not None and not isinstance(tag, str):
            raise RulesError(f"{path}: rule {index}: 'tag' must be a string or absent")
        rules.append(Rule(entry["value"].strip(), tag))
    return rules


def configured_rules(cat_words: Sequence[str], dog_words: Sequence[str], environ: Mapping[str, str] | None = None) -> list[Rule]:
    """Return the rules from X_STREAM_RULES_FILE, or the default hashtag rules; raise RulesError if they are invalid."""
    env = os.environ if environ is None else environ
    file_name = env.get(RULES_FILE_VARIABLE, "").strip()
    rules = read_rules_file(Path(file_name)) if file_name else default_rules(cat_words, dog_words)
    check_rules(rules)
    return rules


def check_rules(rules: Sequence[Rule]) -> None:
    """Raise RulesError for no rules, a duplicate value or a value longer than X accepts."""
    if not rules:
        raise RulesError("no filtered-stream rules configured; the stream would deliver nothing")
    seen: set[str] = set()
    for rule in rules:
        if len(rule.value) > MAX_RULE_LENGTH:
            raise RulesError(f"rule {rule.value[:40]!r}... has {len(rule.value)} characters; X accepts at most {MAX_RULE_LENGTH}")
        if rule.value in seen:
            raise RulesError(f"rule {rule.value!r} is configured twice; X rejects duplicate rule values")
        seen.add(rule.value)


def fetch_rules(api: RulesApi) -> list[ExistingRule]:
    """Return the rules currently on X."""
    response = api.get_rules()
    existing = []
    for stream_rule in response.data or []:
        existing.append(ExistingRule(str(stream_rule.id), Rule(stream_rule.value, stream_rule.tag)))
    return existing


def diff_rules(existing: Sequence[ExistingRule], wanted: Sequence[Rule]) -> RuleDiff:
    """Keep the first existing copy of each wanted rule, delete every other existing rule, add the missing ones."""
    keep: list[ExistingRule] = []
    delete: list[ExistingRule] = []
    kept: set[Rule] = set()
    wanted_set = set(wanted)
    for item in existing:
        if item.rule in wanted_set and item.rule not in kept:
            keep.append(item)
            kept.add(item.rule)
        else:
            delete.append(item)
    add = tuple(rule for rule in wanted if rule not in kept)
    return RuleDiff(tuple(keep), tuple(delete), add)


def _raise_for_errors(response: object, action: str) -> None:
    errors = getattr(response, "errors", None) or []
    if errors:
        details = "; ".join(
            f"{error.get('title', 'error')}: {error.get('value') or error.get('detail') or ''}".rstrip(": ")
            for error in errors
            if isinstance(error, dict)
        )
        raise XApiError(f"{action} failed: {details or errors}")


def sync_rules(api: RulesApi, wanted: Sequence[Rule], *, dry_run: bool = False) -> RuleDiff:
    """Make the rules on X equal to ``wanted`` and return the diff; with ``dry_run``, only compute it.

    Deletes come before adds, so the rule count never exceeds the plan's limit
    on the way. Raises XApiError if X rejects a change.
    """
    diff = diff_rules(fetch_rules(api), wanted)
    if dry_run or not diff.changes:
        return diff
    if diff.delete:
        response = api.delete_rules([item.id for item in diff.delete])
        _raise_for_errors(response, "deleting stale filtered-stream rules")
        LOG.info("Deleted %d stale filtered-stream rules", len(diff.delete))
    if diff.add:
        response = api.add_rules([StreamRule(value=rule.value, tag=rule.tag) for rule in diff.add])
        _raise_for_errors(response, "adding filtered-stream rules")
        LOG.info("Added %d filtered-stream rules", len(diff.add))
    return diff


def sync_rules_with_retries(
    api: RulesApi,
    wanted: Sequence[Rule],
    *,
    dry_run: bool = False,
    attempts: int = SYNC_ATTEMPTS,
    sleep: Callable[[float], object] = time.sleep,
) -> RuleDiff:
    """Run ``sync_rules``, and run it again after a 429, a 5xx or a network error, up to ``attempts`` times.

    Each attempt reads the rules again, so a change that went through before a
    failure is not made twice. Waits follow the stream's backoff: 5 s doubling
    after a 5xx or a network error, 60 s doubling after a 429. Other errors,
    such as 401 and 403, raise at once.
    """
    schedule = ReconnectSchedule()
    for attempt in range(1, attempts):
        try:
            return sync_rules(api, wanted, dry_run=dry_run)
        except XApiError as error:
            if error.status is not None and error.status != 429 and error.status < 500:
                raise
            wait = schedule.after_rate_limit() if error.status == 429 else schedule.after_http_error()
            LOG.warning("Filtered-stream rule sync failed (attempt %d of %d): %s; retrying in %.0f s", attempt, attempts, error, wait)
            sleep(wait)
    return sync_rules(api, wanted, dry_run=dry_run)
