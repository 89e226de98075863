"""The terminal view of `catsvdogs top`, drawn with rich from one snapshot of the figures."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from catsvdogs.dashboards import panels
from catsvdogs.monitor.figures import CATEGORIES, Figures

LABELS = {"cat": "cats", "dog": "dogs", "both": "both"}
STYLES = {"cat": "yellow", "dog": "cyan", "both": "magenta"}
SENTIMENT_STYLES = {"positive": "green", "neutral": "grey62", "negative": "red"}
# Eighths of a character cell, from empty to full, for bars with a finer step than one cell.
BLOCKS = " ▁▂▃▄▅▆▇█"
CHART_HEIGHT = 8
BAR_WIDTH = 12
SENTIMENT_BAR_WIDTH = 20
TEXT_LIMIT = 280


def local_time(value: datetime) -> str:
    return value.astimezone().strftime("%H:%M:%S")


def vertical_bar_cell(value: int, maximum: int, row: int) -> str:
    """Return the character of a bar of ``value`` at ``row`` (0 is the bottom) of a CHART_HEIGHT-row chart."""
    if maximum <= 0 or value <= 0:
        return " "
    eighths = max(1, round(value / maximum * CHART_HEIGHT * 8))
    return BLOCKS[min(8, max(0, eighths - row * 8))]


def horizontal_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """Return a bar of ``fraction`` (0 to 1) of ``width`` cells, padded with light shade."""
    full = max(0, min(width, round(fraction * width)))
    return "█" * full + "░" * (width - full)


def per_minute_chart(figures: Figures) -> RenderableType:
    """Draw one bar per category and minute, oldest minute on the left, scaled to the busiest bar."""
    maximum = max((bucket.counts[category] for bucket in figures.per_minute for category in CATEGORIES), default=0)
    axis_width = max(len(str(maximum)), 1)
    lines = []
    for row in reversed(range(CHART_HEIGHT)):
        label = ""
        if row == CHART_HEIGHT - 1:
            label = str(maximum)
        elif row == 0:
            label = "0"
        line = Text(f"{label:>{axis_width}} │")
        for bucket in figures.per_minute:
            for category in CATEGORIES:
                line.append(vertical_bar_cell(bucket.counts[category], maximum, row), style=STYLES[category])
            line.append(" ")
        lines.append(line)
    group_width = len(CATEGORIES) + 1
    axis = Text(" " * axis_width + " └" + "─" * (group_width * len(figures.per_minute)))
    times = Text(" " * (axis_width + 2))
    if figures.per_minute:
        first = figures.per_minute[0].minute.astimezone().strftime("%H:%M")
        last = figures.per_minute[-1].minute.astimezone().strftime("%H:%M")
        gap = max(1, group_width * len(figures.per_minute) - len(first) - len(last))
        times.append(first + " " * gap + last)
    legend = Text("  ")
    for category in CATEGORIES:
        legend.append("█ ", style=STYLES[category])
        legend.append(f"{LABELS[category]} {figures.share[category]:,}   ")
    parts = [*lines, axis, times, legend]
    if figures.total == 0:
        parts.append(Text("  no tweets about cats or dogs in the last 15 minutes yet", style="italic"))
    return Group(*parts)


def share_table(figures: Figures) -> Table:
    """Share of tweets and popularity (likes and retweets, as the dashboard panel) of each category."""
    table = Table(box=None, pad_edge=False, padding=(0, 1))
    table.add_column("")
    table.add_column("share of tweets", no_wrap=True)
    table.add_column("likes", justify="right", no_wrap=True)
    table.add_column("retweets", justify="right", no_wrap=True)
    table.add_column("popularity", no_wrap=True)
    popularity_total = sum(figures.popularity(category) for category in CATEGORIES)
    for category in CATEGORIES:
        style = STYLES[category]
        share = Text(horizontal_bar(figures.percent(category) / 100), style=style)
        share.append(f" {figures.percent(category):5.1f}% {figures.share[category]:>7,}", style="default")
        popularity_fraction = figures.popularity(category) / popularity_total if popularity_total else 0.0
        popularity = Text(horizontal_bar(popularity_fraction), style=style)
        popularity.append(f" {100 * popularity_fraction:5.1f}%", style="default")
        table.add_row(
            Text(LABELS[category], style=f"bold {style}"),
            share,
            f"{figures.likes[category]:,}",
            f"{figures.retweets[category]:,}",
            popularity,
        )
    return table


def sentiment_table(figures: Figures) -> Table:
    """Share of each sentiment label in each category."""
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_header=False)
    table.add_column("")
    table.add_column("sentiment", no_wrap=True)
    for category in CATEGORIES:
        table.add_row(Text(LABELS[category], style=f"bold {STYLES[category]}"), sentiment_cell(figures.sentiment[category]))
    return table


def sentiment_cell(labels: dict[str, int]) -> Text:
    """Draw a stacked bar of the sentiment labels and their percentages."""
    total = sum(labels.values())
    cell = Text()
    if total == 0:
        return cell.append("no tweets", style="italic")
    used = 0
    for position, label in enumerate(panels.SENTIMENT_LABELS):
        if position == len(panels.SENTIMENT_LABELS) - 1:
            width = SENTIMENT_BAR_WIDTH - used
        else:
            width = round(labels[label] / total * SENTIMENT_BAR_WIDTH)
        used += width
        cell.append("█" * width, style=SENTIMENT_STYLES[label])
    for label in panels.SENTIMENT_LABELS:
        cell.append(f" {100 * labels[label] / total:3.0f}% {label}", style=SENTIMENT_STYLES[label])
    return cell


def top_tweet_text(figures: Figures) -> Text:
    tweet = figures.top_tweet
    if tweet is None:
        return Text("no tweet about cats or dogs in the last hour yet", style="italic")
    words = " ".join(tweet.text.split())
    if len(words) > TEXT_LIMIT:
        words = words[: TEXT_LIMIT - 1] + "…"
    line = Text(f"{LABELS.get(tweet.category, tweet.category)}", style=f"bold {STYLES.get(tweet.category, 'default')}")
    line.append(f", engagement {tweet.engagement:,}: ", style="bold")
    line.append(words)
    return line


def render(
    figures: Figures | None,
    *,
    source: str,
    interval: float | None,
    error: str | None = None,
    failed_at: datetime | None = None,
) -> RenderableType:
    """Build the whole screen from the latest ``figures`` that were read and the last refresh's ``error``, if any."""
    title = Text("Cats v dogs", style="bold")
    if figures is not None:
        # One span without styles inside, so the time is easy to find on the screen.
        title.append(f"  updated {local_time(figures.updated_at)}")
    every = f", every {interval:g} s" if interval else ""
    title.append(f"  ({source}{every})", style="dim")
    parts: list[RenderableType] = [title]
    if error is not None:
        when = f" at {local_time(failed_at)}" if failed_at else ""
        retry = "; retrying" if interval else ""
        parts.append(Text(f"Reading the figures failed{when}: {error}{retry}", style="bold red"))
    if figures is not None:
        parts.append(Panel(per_minute_chart(figures), title="Tweets per minute, last 15 minutes", title_align="left"))
        parts.append(Panel(share_table(figures), title="Share and popularity, last 15 minutes", title_align="left"))
        parts.append(Panel(sentiment_table(figures), title="Sentiment by category, last 15 minutes", title_align="left"))
        parts.append(Panel(top_tweet_text(figures), title="Most engaging tweet of the last hour", title_align="left"))
    if interval:
        parts.append(Text("Ctrl-C quits", style="dim"))
    return Group(*parts)
