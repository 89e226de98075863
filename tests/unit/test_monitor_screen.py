"""The terminal view of `catsvdogs top`, rendered to plain text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rich.console import Console

from catsvdogs.monitor.figures import CATEGORIES, Figures, MinuteCounts, TopTweet
from catsvdogs.monitor.screen import BLOCKS, CHART_HEIGHT, horizontal_bar, local_time, render, vertical_bar_cell

NOW = datetime(2025, 3, 15, 17, 30, 20, tzinfo=timezone.utc)


def figures(share: dict[str, int] | None = None, top_tweet: TopTweet | None = None) -> Figures:
    share = share if share is not None else {"cat": 1234, "dog": 2345, "both": 12}
    minutes = [NOW.replace(second=0) - timedelta(minutes=offset) for offset in reversed(range(16))]
    per_minute = [MinuteCounts(minute, {category: 0 for category in CATEGORIES}) for minute in minutes]
    for category, count in share.items():
        per_minute[-1].counts[category] = count
    return Figures(
        updated_at=NOW,
        index="tweets*",
        per_minute=per_minute,
        share=share,
        likes={"cat": 500, "dog": 100, "both": 0},
        retweets={"cat": 50, "dog": 10, "both": 0},
        sentiment={category: {"positive": 2, "neutral": 1, "negative": 1} for category in CATEGORIES},
        top_tweet=top_tweet,
    )


def screen_text(renderable, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def test_screen_shows_both_categories() -> None:
    text = screen_text(render(figures(), source="tweets* at http://127.0.0.1:9200", interval=1))

    assert "cats 1,234" in text
    assert "dogs 2,345" in text
    assert "both 12" in text
    assert f"updated {local_time(NOW)}" in text
    assert "Ctrl-C quits" in text


def test_screen_fits_80_columns() -> None:
    text = screen_text(render(figures(), source="tweets*", interval=1), width=80)

    assert max(len(line) for line in text.splitlines()) <= 80
    for label in ("cats", "dogs", "both"):
        assert sum(line.strip("│ ").startswith(label) for line in text.splitlines()) == 2, label


def test_screen_shows_percentages() -> None:
    text = screen_text(render(figures(), source="tweets*", interval=None))

    assert "65.3%" in text  # 2,345 of 3,591 tweets are about dogs
    assert "50% positive" in text
    assert "Ctrl-C quits" not in text


def test_screen_shows_top_tweet() -> None:
    tweet = TopTweet(text="A  very\nhappy   dog", engagement=4321, category="dog")

    text = screen_text(render(figures(top_tweet=tweet), source="tweets*", interval=1))

    assert "dogs, engagement 4,321: A very happy dog" in text


def test_screen_without_tweets() -> None:
    text = screen_text(render(figures(share={"cat": 0, "dog": 0, "both": 0}), source="tweets*", interval=1))

    assert "no tweets about cats or dogs in the last 15 minutes yet" in text
    assert "no tweet about cats or dogs in the last hour yet" in text


def test_screen_shows_error_over_last_figures() -> None:
    failed_at = NOW + timedelta(seconds=5)

    text = screen_text(render(figures(), source="tweets*", interval=1, error="connection refused", failed_at=failed_at))

    assert f"Reading the figures failed at {local_time(failed_at)}: connection refused; retrying" in text
    assert "cats 1,234" in text


def test_screen_error_before_any_figures() -> None:
    text = screen_text(render(None, source="tweets*", interval=1, error="connection refused"))

    assert "Reading the figures failed: connection refused" in text
    assert "updated" not in text


def test_vertical_bar_cells() -> None:
    full = [vertical_bar_cell(10, 10, row) for row in range(CHART_HEIGHT)]
    half = [vertical_bar_cell(5, 10, row) for row in range(CHART_HEIGHT)]

    assert full == [BLOCKS[8]] * CHART_HEIGHT
    assert half == [BLOCKS[8]] * (CHART_HEIGHT // 2) + [" "] * (CHART_HEIGHT // 2)
    assert vertical_bar_cell(0, 10, 0) == " "
    # One tweet beside a busy minute still shows as the smallest block.
    assert vertical_bar_cell(1, 10_000, 0) == BLOCKS[1]


def test_horizontal_bar_width() -> None:
    assert horizontal_bar(0.0, 10) == "░" * 10
    assert horizontal_bar(1.0, 10) == "█" * 10
    assert horizontal_bar(0.25, 8) == "██" + "░" * 6
