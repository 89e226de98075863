"""Generate the bundled synthetic tweet recording that ``docker compose up`` replays.

Each output line is one X API v2 filtered-stream message with the ``author_id``
expansion: ``data`` (the tweet), ``includes.users`` (its author) and
``matching_rules``. Every user, text and metric is invented. A sidecar JSON file
next to the output lists the category (cat, dog, both, none) that each tweet was
generated for, so that tests can compare it with the categories a consumer
computes from the file.

The output depends only on the arguments and on the Python and zlib versions:
all randomness comes from one seeded ``random.Random``, JSON keys are written in
a fixed order, and the gzip header has no file name and mtime 0.

Usage:
    python replay_data/generate.py --count 24000 --minutes 90 --seed 7 \\
        --output replay_data/cats_v_dogs.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import logging
import math
import os
import random
import string
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger("replay_data.generate")

DEFAULT_COUNT = 24_000
DEFAULT_MINUTES = 90
DEFAULT_SEED = 7
DEFAULT_USERS = 3_000
# A Saturday afternoon in UTC, when both Europe and the Americas are awake.
DEFAULT_START = "2025-03-15T17:00:00Z"
DEFAULT_OUTPUT = Path(__file__).resolve().with_name("cats_v_dogs.jsonl.gz")

# Twitter snowflake ids: milliseconds since this epoch, shifted left by 22 bits
# above 10 bits of worker id and a 12-bit sequence number.
SNOWFLAKE_EPOCH_MS = 1_288_834_974_657

CATEGORIES = ("cat", "dog", "both", "none")
CATEGORY_WEIGHTS = (40, 45, 7, 8)
# Inside the viral burst, a dog video is going round.
VIRAL_CATEGORY_WEIGHTS = (20, 65, 10, 5)
VIRAL_HALF_WIDTH_SECONDS = 60

# ---------------------------------------------------------------------------
# Hashtags and filtered-stream rules
# ---------------------------------------------------------------------------

# The vocabulary that decides the category (the pipeline's default
# CATSVDOGS_CAT_WORDS and CATSVDOGS_DOG_WORDS), with relative frequencies.
CAT_VOCABULARY = {"cat": 30, "cats": 35, "kitty": 15, "kitten": 20}
DOG_VOCABULARY = {"dog": 30, "dogs": 30, "doggo": 12, "doggy": 8, "puppy": 20}
# Singular forms that can stand for the noun inside an English sentence.
CAT_INLINE_TAGS = ("cat", "kitty", "kitten")
DOG_INLINE_TAGS = ("dog", "doggo", "doggy", "puppy")

# Hashtags outside the vocabulary. Several contain a vocabulary word
# (caturday, catsofinstagram, puppylove) and must not count as one.
CAT_EXTRA_TAGS = ("caturday", "catsofinstagram", "CatsOfX", "catlife", "meow")
DOG_EXTRA_TAGS = ("dogsofx", "DogsOfTwitter", "puppylove", "dogmom", "goodboy")
BOTH_EXTRA_TAGS = ("CatsAndDogs", "petsofx")
GENERAL_EXTRA_TAGS = ("pets", "petlife", "adoptdontshop", "AdoptDontShop", "rescue", "weekend", "animals")
NONE_EXTRA_TAGS = ("caturday", "weekend", "pets")
VIRAL_TAG = "zoomies"

# Hashtags in the tweet's language. None is in the vocabulary (#gatos, #chat,
# #Hund are cat and dog tags in other languages), so they never decide the
# category on their own.
LOCAL_CAT_TAGS = {
    "es": ("gatos", "gato"),
    "pt": ("gatos", "gatinho"),
    "fr": ("chat", "chats"),
    "de": ("Katze", "Katzen"),
    "it": ("gatti", "gatto"),
    "ja": ("猫", "ねこ", "猫のいる暮らし"),
}
LOCAL_DOG_TAGS = {
    "es": ("perros", "perro"),
    "pt": ("cachorro", "cachorros"),
    "fr": ("chien", "chiens"),
    "de": ("Hund", "Hunde"),
    "it": ("cani", "cane"),
    "ja": ("犬", "いぬ", "犬のいる暮らし"),
}
LOCAL_GENERAL_TAGS = {
    "es": ("mascotas", "adopta"),
    "pt": ("pets", "adotenaocompre"),
    "fr": ("animaux", "adoption"),
    "de": ("Haustiere", "Tierheim"),
    "it": ("animali",),
    "ja": ("ペット", "譲渡会"),
}


@dataclass(frozen=True)
class Rule:
    """A filtered-stream rule as listed in ``matching_rules``. A ``tag`` of None marks an untagged rule."""

    id: str
    tag: str | None


CATS_RULE = Rule("1900412345678901001", "cats")
DOGS_RULE = Rule("1900412345678901002", "dogs")
PETS_RULE = Rule("1900412345678901003", "pets")
ADOPTION_RULE = Rule("1900412345678901004", None)
LOCAL_RULE = Rule("1900412345678901005", None)
RULES = (CATS_RULE, DOGS_RULE, PETS_RULE, ADOPTION_RULE, LOCAL_RULE)

# Lower-cased hashtags that the untagged and "pets" rules match.
ADOPTION_RULE_TAGS = frozenset({"adoptdontshop", "rescue", "adopta", "adotenaocompre", "adoption", "tierheim", "譲渡会"})
LOCAL_RULE_TAGS = frozenset(
    tag.lower() for tags in (*LOCAL_CAT_TAGS.values(), *LOCAL_DOG_TAGS.values()) for tag in tags
)
PETS_RULE_TAGS = frozenset({"pets", "petlife", "petsofx", "animals", "mascotas", "animaux", "haustiere", "animali", "ペット"})

# ---------------------------------------------------------------------------
# Languages and text templates
# ---------------------------------------------------------------------------

LANGUAGE_WEIGHTS = {"en": 50, "es": 13, "pt": 10, "ja": 9, "fr": 7, "de": 6, "it": 5}
# Share of tweets with only emoji and hashtags, which X labels "und".
UNDETERMINED_SHARE = 0.02
SENTIMENTS = ("positive", "neutral", "negative")
SENTIMENT_WEIGHTS = (50, 30, 20)

# The noun that fills {pet}, {cat} and {dog} in each language. German uses
# "Kater" (tomcat) so that both nouns are masculine like in the templates.
PET_NOUNS = {
    "en": {"cat": ("cat", "kitty", "kitten"), "dog": ("dog", "pup", "puppy", "doggo")},
    "es": {"cat": ("gato",), "dog": ("perro",)},
    "pt": {"cat": ("gato",), "dog": ("cachorro",)},
    "fr": {"cat": ("chat",), "dog": ("chien",)},
    "de": {"cat": ("Kater",), "dog": ("Hund",)},
    "it": {"cat": ("gatto",), "dog": ("cane",)},
    "ja": {"cat": ("猫",), "dog": ("犬",)},
}

PET_NAMES = {
    "en": ("Biscuit", "Mochi", "Pepper", "Waffles", "Noodle", "Olive", "Pixel", "Maple", "Ziggy", "Tofu", "Juniper", "Pickles", "Dumpling", "Bean", "Clementine"),
    "es": ("Canela", "Churro", "Nube", "Pipa", "Turrón", "Chispa", "Galleta"),
    "pt": ("Paçoca", "Pipoca", "Farofa", "Bolinha", "Caju", "Quindim"),
    "fr": ("Biscotte", "Praline", "Caramel", "Noisette", "Filou", "Crêpe"),
    "de": ("Krümel", "Brezel", "Flocke", "Keks", "Socke", "Strudel"),
    "it": ("Briciola", "Pepe", "Nuvola", "Tortellino", "Polpetta"),
    "ja": ("モチ", "きなこ", "ソラ", "コタロウ", "ムギ", "あずき"),
}

# Templates by language, kind and sentiment. Kind "pet" fills {pet} with a cat
# or dog noun, "cat" and "dog" are English templates for one animal, "both"
# fills {cat} and {dog}, and "none" mentions no animal by slot. English carries
# most sentiment words, because VADER scores only English words and emoji.
TEMPLATES: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "pet": {
            "positive": (
                "{name} is the best {pet} in the world and I love them so much",
                "Absolutely adorable: {name} fell asleep in the laundry basket again",
                "Coming home to {name} is the happiest part of my day",
                "Our new {pet} {name} is perfect. So grateful we found each other",
                "LOL {name} just fell off the sofa and pretended it was on purpose",
                "This {pet} is SO cute I can't handle it!!!",
                "Proud of {name} today, the vet said they're healthy and strong",
                "Nothing beats a lazy afternoon nap with my {pet}. Pure joy",
            ),
            "neutral": (
                "{name} is sitting by the window watching birds",
                "Took {name} for a check-up this morning, weighs 4.2 kg now",
                "New bed arrived for the {pet}, we'll see if it gets used",
                "{name} has a vet appointment on Thursday",
                "Day 12 of teaching {name} to come when called",
                "Does anyone else's {pet} sleep on the stairs?",
            ),
            "negative": (
                "{name} ate my sandwich again. Terrible behaviour, zero remorse",
                "Vet bill this month is awful and poor {name} hates the cone",
                "Why does my {pet} scream at 4am. I am so tired and grumpy",
                "Sad day. {name} is sick and I'm really worried",
                "The {pet} destroyed the couch. Furious, but not surprised",
                "Ugh, {name} threw up on the new rug. Worst morning",
                "Neighbours keep complaining about my {pet}. Annoying and stressful",
            ),
        },
        "cat": {
            "positive": (
                "{name} purred for an hour straight, best therapy ever",
                "Kneading, purring, slow blinks. {name} is in a great mood",
            ),
            "neutral": (
                "{name} is in the box. The box is too small. {name} does not care",
                "Assembled the scratching post, {name} prefers the cardboard it came in",
            ),
            "negative": (
                "{name} knocked my coffee off the desk. On purpose. Awful",
                "Litter all over the hallway again, I hate this",
            ),
        },
        "dog": {
            "positive": (
                "{name} did zoomies for ten minutes straight, so much happy energy",
                "{name} finally learned to sit! Such a good pup, so proud",
            ),
            "neutral": (
                "Morning walk with {name}, 5 km",
                "{name} is waiting by the door for the walk",
            ),
            "negative": (
                "{name} barked at the delivery van for twenty minutes. Exhausting",
                "Muddy paws all over the clean floor. Terrible timing",
            ),
        },
        "both": {
            "positive": (
                "The {cat} and the {dog} are napping together and my heart is full",
                "Day 3 of the truce between the {cat} and the {dog}. Snacks were involved, everyone is happy",
                "Team {cat} or team {dog}? Why not both, I love them all",
            ),
            "neutral": (
                "Feeding time: one {cat}, one {dog}, two very different opinions",
                "The {dog} sleeps on the bed and the {cat} sleeps on the {dog}",
            ),
            "negative": (
                "The {dog} chased the {cat} up the curtains again. Chaos, I'm exhausted",
                "The {cat} and the {dog} fought over the sunny spot. Nobody is happy",
            ),
        },
        "none": {
            "positive": (
                "Adoption day at the shelter this weekend, come say hi! Lovely volunteers",
                "Sunny weekend, long walk, good coffee. Great day",
            ),
            "neutral": (
                "The shelter opens at 10 on Saturday",
                "Reminder: update the microchip details when you move",
                "Reading about how cats and dogs see colour",
            ),
            "negative": (
                "Pet food prices went up again. Ridiculous",
                "Rainy weekend, everything is cancelled. Boring",
            ),
        },
    },
    "es": {
        "pet": {
            "positive": (
                "{name} es el mejor {pet} del mundo, lo quiero muchísimo",
                "Llegar a casa y ver a {name} es lo mejor del día",
                "Qué ternura, {name} se durmió encima de la ropa limpia",
            ),
            "neutral": (
                "{name} está mirando por la ventana",
                "Mañana llevo a {name} al veterinario",
                "¿Vuestro {pet} también duerme en la escalera?",
            ),
            "negative": (
                "{name} rompió otra vez las cortinas. Qué desastre",
                "Día triste, {name} está enfermo y estoy preocupada",
                "Mi {pet} no me deja dormir, estoy agotado",
            ),
        },
        "both": {
            "positive": ("El {cat} y el {dog} por fin duermen juntos, qué felicidad",),
            "neutral": ("Hora de comer: un {cat}, un {dog} y dos opiniones distintas",),
            "negative": ("El {dog} persiguió al {cat} por toda la casa. Caos total",),
        },
        "none": {
            "positive": ("Jornada de adopción este sábado en el refugio, ¡os esperamos!",),
            "neutral": ("El refugio abre a las 10 el domingo",),
            "negative": ("Otra vez subió el precio del pienso. Increíble",),
        },
    },
    "pt": {
        "pet": {
            "positive": (
                "{name} é o melhor {pet} do mundo, amo demais",
                "Chegar em casa e ver o {name} é a melhor parte do dia",
                "Que fofura, {name} dormiu em cima da roupa limpa",
            ),
            "neutral": (
                "{name} está olhando pela janela",
                "Amanhã levo o {name} ao veterinário",
                "O {pet} de vocês também dorme na escada?",
            ),
            "negative": (
                "{name} destruiu o sofá de novo. Que raiva",
                "Dia triste, {name} está doente e estou preocupada",
                "Meu {pet} não me deixa dormir, estou exausto",
            ),
        },
        "both": {
            "positive": ("O {cat} e o {dog} finalmente dormiram juntos, que alegria",),
            "neutral": ("Hora da ração: um {cat}, um {dog} e duas opiniões diferentes",),
            "negative": ("O {dog} correu atrás do {cat} pela casa toda. Caos total",),
        },
        "none": {
            "positive": ("Feira de adoção neste sábado, venham conhecer os bichinhos!",),
            "neutral": ("O abrigo abre às 10 no domingo",),
            "negative": ("A ração subiu de preço de novo. Absurdo",),
        },
    },
    "fr": {
        "pet": {
            "positive": (
                "{name} est le meilleur {pet} du monde, je l'adore",
                "Rentrer à la maison et retrouver {name}, le meilleur moment de la journée",
                "Trop mignon, {name} s'est endormi sur le linge propre",
            ),
            "neutral": (
                "{name} regarde les oiseaux par la fenêtre",
                "Demain, rendez-vous chez le vétérinaire pour {name}",
                "Votre {pet} dort aussi dans l'escalier ?",
            ),
            "negative": (
                "{name} a encore déchiré les rideaux. Quelle catastrophe",
                "Triste journée, {name} est malade et je suis inquiète",
                "Mon {pet} m'empêche de dormir, je suis épuisé",
            ),
        },
        "both": {
            "positive": ("Le {cat} et le {dog} dorment enfin ensemble, quel bonheur",),
            "neutral": ("L'heure du repas : un {cat}, un {dog} et deux avis différents",),
            "negative": ("Le {dog} a poursuivi le {cat} dans toute la maison. Le chaos",),
        },
        "none": {
            "positive": ("Journée adoption au refuge samedi, venez nombreux !",),
            "neutral": ("Le refuge ouvre à 10 h dimanche",),
            "negative": ("Les croquettes ont encore augmenté. Ridicule",),
        },
    },
    "de": {
        "pet": {
            "positive": (
                "{name} ist der beste {pet} der Welt, ich liebe ihn so sehr",
                "Nach Hause kommen und {name} wartet schon, schönster Moment des Tages",
                "Wie süß, {name} ist auf der frischen Wäsche eingeschlafen",
            ),
            "neutral": (
                "{name} schaut aus dem Fenster den Vögeln zu",
                "Morgen geht es mit {name} zum Tierarzt",
                "Schläft euer {pet} auch auf der Treppe?",
            ),
            "negative": (
                "{name} hat schon wieder die Vorhänge zerrissen. Was für ein Chaos",
                "Trauriger Tag, {name} ist krank und ich mache mir Sorgen",
                "Unser {pet} lässt mich nicht schlafen, ich bin völlig fertig",
            ),
        },
        "both": {
            "positive": ("Der {cat} und der {dog} schlafen endlich zusammen, so schön",),
            "neutral": ("Fütterungszeit: ein {cat}, ein {dog} und zwei Meinungen",),
            "negative": ("Der {dog} hat den {cat} durchs ganze Haus gejagt. Totales Chaos",),
        },
        "none": {
            "positive": ("Tag der offenen Tür im Tierheim am Samstag, kommt vorbei!",),
            "neutral": ("Das Tierheim öffnet am Sonntag um 10 Uhr",),
            "negative": ("Das Futter ist schon wieder teurer geworden. Ärgerlich",),
        },
    },
    "it": {
        "pet": {
            "positive": (
                "{name} è il {pet} più bello del mondo, lo adoro",
                "Che tenerezza, {name} si è addormentato sul bucato pulito",
            ),
            "neutral": (
                "{name} guarda gli uccelli dalla finestra",
                "Domani porto {name} dal veterinario",
            ),
            "negative": (
                "{name} ha distrutto di nuovo il divano. Che disastro",
                "Giornata triste, {name} sta male e sono preoccupata",
            ),
        },
        "both": {
            "positive": ("Il {cat} e il {dog} finalmente dormono insieme, che gioia",),
            "neutral": ("Ora di pranzo: un {cat}, un {dog} e due opinioni diverse",),
            "negative": ("Il {dog} ha inseguito il {cat} per tutta la casa. Caos totale",),
        },
        "none": {
            "positive": ("Giornata delle adozioni al rifugio sabato, vi aspettiamo!",),
            "neutral": ("Il rifugio apre alle 10 domenica",),
            "negative": ("Il prezzo delle crocchette è aumentato ancora. Assurdo",),
        },
    },
    "ja": {
        "pet": {
            "positive": (
                "うちの{pet}の{name}、今日も世界一かわいい",
                "{name}が洗濯物の上で寝てた。癒される",
                "帰ったら{name}が玄関で待っててくれた。幸せ",
            ),
            "neutral": (
                "{name}は窓から鳥を見てる",
                "明日は{name}の動物病院の日",
                "みんなの{pet}も階段で寝る？",
            ),
            "negative": (
                "{name}がまたカーテンを破った…最悪",
                "{name}が体調を崩して心配。早く良くなってね",
                "朝4時に{pet}に起こされてつらい",
            ),
        },
        "both": {
            "positive": ("{cat}と{dog}がやっと一緒に寝てくれた。嬉しい",),
            "neutral": ("ごはんの時間。{cat}一匹、{dog}一匹、意見は二つ",),
            "negative": ("{dog}が{cat}を追いかけ回して家中大騒ぎ",),
        },
        "none": {
            "positive": ("今週末は保護施設の譲渡会です。ぜひ来てください",),
            "neutral": ("保護施設は日曜10時から開いています",),
            "negative": ("ペットフードがまた値上がり。困る",),
        },
    },
}

# Emoji by animal and sentiment. Some are several code points (a ZWJ sequence
# or a variation selector), which shifts the hashtag offsets after them.
ANIMAL_EMOJI = {
    "cat": ("🐱", "🐈", "😺", "😻", "🐈\u200d⬛"),
    "dog": ("🐶", "🐕", "🦮", "🐕\u200d🦺", "🐾"),
    "none": ("🐾", "🏡", "📣"),
}
SENTIMENT_EMOJI = {
    "positive": ("❤️", "😍", "🥰", "✨", "😂"),
    "neutral": ("🤔", "📸", "☕"),
    "negative": ("😤", "😭", "🙄", "💔"),
}

# Syllables for invented display names.
NAME_SYLLABLES = ("ka", "lo", "mi", "ren", "ta", "vo", "zu", "bel", "dri", "fen", "gor", "hal", "ix", "jun", "mar", "nel", "os", "pra", "quil", "sen", "tov", "ul", "wen", "yra")
NAME_WORDS = ("Paws", "Whiskers", "Tails", "Kibble", "Sofa", "Sunbeam", "Fetch", "Purr", "Leash", "Snout", "Mittens", "Zoomies")
# X limits usernames to 15 characters, so the marker is short.
USERNAME_PREFIX = "syn_"
USERNAME_MAX_LENGTH = 15


# ---------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """An invented account with the language it usually writes in."""

    id: str
    name: str
    username: str
    lang: str


def make_users(rng: random.Random, count: int) -> list[User]:
    """Invent ``count`` users with unique ids and usernames."""
    languages = list(LANGUAGE_WEIGHTS)
    language_weights = list(LANGUAGE_WEIGHTS.values())
    used_ids: set[str] = set()
    used_usernames: set[str] = set()
    users = []
    while len(users) < count:
        user_id = make_user_id(rng)
        if user_id in used_ids:
            continue
        handle, name = make_user_name(rng)
        username = f"{USERNAME_PREFIX}{handle}"[:USERNAME_MAX_LENGTH]
        while username in used_usernames:
            suffix = str(rng.randrange(10, 1000))
            username = f"{USERNAME_PREFIX}{handle}"[: USERNAME_MAX_LENGTH - len(suffix)] + suffix
        used_ids.add(user_id)
        used_usernames.add(username)
        lang = rng.choices(languages, language_weights)[0]
        users.append(User(id=user_id, name=name, username=username, lang=lang))
    return users


def make_user_id(rng: random.Random) -> str:
    """Return a user id of 8 to 10 digits like older accounts, or a snowflake like newer ones."""
    if rng.random() < 0.15:
        return str(rng.randrange(10_000_000, 2_000_000_000))
    created_ms = rng.randrange(1_420_070_400_000, 1_735_689_600_000)  # 2015 to 2024
    return str(snowflake(created_ms, rng.randrange(1024), 0))


def make_user_name(rng: random.Random) -> tuple[str, str]:
    """Return an invented (handle, display name) pair."""
    first = "".join(rng.choice(NAME_SYLLABLES) for _ in range(rng.randint(2, 3)))
    style = rng.random()
    if style < 0.4:
        last = "".join(rng.choice(NAME_SYLLABLES) for _ in range(2))
        return f"{first}{last[:3]}", f"{first.title()} {last.title()}"
    if style < 0.8:
        word = rng.choice(NAME_WORDS)
        return f"{first}_{word.lower()}", f"{first.title()} {word}"
    number = rng.randrange(1, 100)
    return f"{first}{number}", f"{first.title()}{number}"


def make_author_cumulative_weights(count: int) -> list[float]:
    """Return cumulative Zipf-like posting weights, so a few accounts post far more than most."""
    return list(itertools.accumulate(1.0 / (rank + 10) for rank in range(count)))


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """Tweet times in milliseconds since the Unix epoch, strictly increasing, and the viral peak."""

    times_ms: list[int]
    viral_center_ms: int


def make_timeline(rng: random.Random, count: int, start_ms: int, minutes: int) -> Timeline:
    """Draw ``count`` tweet times from a rate that varies over the window.

    The rate per second is a slow wave with a 60-minute period (amplitude 35%),
    times a random factor per minute. One viral burst about a minute wide adds
    5 times the base rate at its peak, and three smaller bursts add 1.5 times.
    """
    seconds = minutes * 60
    phase = rng.uniform(0, 2 * math.pi)
    minute_factors = [rng.lognormvariate(0, 0.15) for _ in range(minutes)]
    viral_center = rng.uniform(0.25, 0.75) * seconds
    small_bursts = [rng.uniform(0.05, 0.95) * seconds for _ in range(3)]

    cumulative_weights = []
    total = 0.0
    for second in range(seconds):
        rate = (1 + 0.35 * math.sin(2 * math.pi * second / 3600 + phase)) * minute_factors[second // 60]
        rate += 5.0 * math.exp(-0.5 * ((second - viral_center) / 30) ** 2)
        for center in small_bursts:
            rate += 1.5 * math.exp(-0.5 * ((second - center) / 20) ** 2)
        total += rate
        cumulative_weights.append(total)

    chosen_seconds = rng.choices(range(seconds), cum_weights=cumulative_weights, k=count)
    times_ms = sorted(start_ms + second * 1000 + rng.randrange(1000) for second in chosen_seconds)
    # Distinct milliseconds make the snowflake ids strictly increasing.
    for index in range(1, len(times_ms)):
        if times_ms[index] <= times_ms[index - 1]:
            times_ms[index] = times_ms[index - 1] + 1
    return Timeline(times_ms=times_ms, viral_center_ms=start_ms + round(viral_center * 1000))


def snowflake(time_ms: int, worker: int, sequence: int) -> int:
    """Build a Twitter snowflake id from its time, worker and sequence fields."""
    return ((time_ms - SNOWFLAKE_EPOCH_MS) << 22) | (worker << 12) | sequence


def format_created_at(time_ms: int) -> str:
    """Format like X's ``created_at``, which always has ``.000`` milliseconds."""
    moment = datetime.fromtimestamp(time_ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# ---------------------------------------------------------------------------
# Tweet content
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Hashtag:
    """A hashtag inside the tweet text; ``tag`` is written without '#', in its display case."""

    tag: str


Piece = str | Hashtag


@dataclass(frozen=True)
class Content:
    """The text, hashtag entities and matching rules of one tweet."""

    text: str
    hashtags: list[dict[str, object]]
    rules: list[Rule]


def vary_case(rng: random.Random, tag: str) -> str:
    """Return the tag mostly as is, sometimes Title or UPPER case as people type it."""
    roll = rng.random()
    if roll < 0.10:
        return tag[:1].upper() + tag[1:]
    if roll < 0.15:
        return tag.upper()
    return tag


def weighted_choice(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def pick_vocabulary_tags(rng: random.Random, animal: str) -> list[str]:
    """Pick one or two vocabulary hashtags for the animal, rarely the same one twice."""
    vocabulary = CAT_VOCABULARY if animal == "cat" else DOG_VOCABULARY
    first = weighted_choice(rng, vocabulary)
    roll = rng.random()
    if roll < 0.22:
        second = weighted_choice(rng, vocabulary)
        if second != first:
            return [first, second]
    elif roll < 0.23:
        return [first, first]
    return [first]


def pick_extra_tags(rng: random.Random, category: str, lang: str, viral: bool) -> list[str]:
    """Pick hashtags outside the vocabulary that fit the category and language."""
    pool: list[str] = list(GENERAL_EXTRA_TAGS)
    if category in ("cat", "both"):
        pool += CAT_EXTRA_TAGS + LOCAL_CAT_TAGS.get(lang, ())
    if category in ("dog", "both"):
        pool += DOG_EXTRA_TAGS + LOCAL_DOG_TAGS.get(lang, ())
    if category == "both":
        pool += BOTH_EXTRA_TAGS
    if category == "none":
        pool += NONE_EXTRA_TAGS
    pool += LOCAL_GENERAL_TAGS.get(lang, ())

    count = rng.choices((0, 1, 2), (45, 35, 20))[0]
    tags = []
    for _ in range(count):
        tag = rng.choice(pool)
        if tag not in tags:
            tags.append(tag)
    if viral and category in ("dog", "both") and rng.random() < 0.6:
        tags.append(VIRAL_TAG)
    return tags


def choose_template(rng: random.Random, lang: str, kind: str, sentiment: str) -> str:
    """Pick a template. English tweets about one animal also draw from that animal's own templates."""
    by_kind = TEMPLATES[lang]
    if kind in ("cat", "dog"):
        candidates = list(by_kind["pet"][sentiment]) + list(by_kind.get(kind, {}).get(sentiment, ()))
    else:
        candidates = list(by_kind[kind][sentiment])
    return rng.choice(candidates)


def fill_template(template: str, values: dict[str, Piece]) -> list[Piece]:
    """Split a str.format template into literal text and slot values, so slots can be hashtags."""
    pieces: list[Piece] = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        if literal:
            pieces.append(literal)
        if field is not None:
            pieces.append(values[field])
    return pieces


def render(pieces: list[Piece]) -> tuple[str, list[dict[str, object]]]:
    """Join the pieces into the tweet text and its hashtag entities.

    Offsets count code points, as X does and as Python indexes str, so
    ``text[start:end] == "#" + tag`` for every entity.
    """
    parts = []
    entities: list[dict[str, object]] = []
    position = 0
    for piece in pieces:
        if isinstance(piece, Hashtag):
            part = "#" + piece.tag
            entities.append({"start": position, "end": position + len(part), "tag": piece.tag})
        else:
            part = piece
        parts.append(part)
        position += len(part)
    return "".join(parts), entities


def join_hashtags(tags: list[str]) -> list[Piece]:
    pieces: list[Piece] = []
    for index, tag in enumerate(tags):
        if index:
            pieces.append(" ")
        pieces.append(Hashtag(tag))
    return pieces


def match_rules(category_signals: set[str], hashtags: list[str]) -> list[Rule]:
    """Return the rules that a tweet matches, in rule order. Every tweet matches at least one."""
    lowered = {tag.lower() for tag in hashtags}
    matched = set()
    if "cat" in category_signals:
        matched.add(CATS_RULE)
    if "dog" in category_signals:
        matched.add(DOGS_RULE)
    if lowered & PETS_RULE_TAGS:
        matched.add(PETS_RULE)
    if lowered & ADOPTION_RULE_TAGS:
        matched.add(ADOPTION_RULE)
    if lowered & LOCAL_RULE_TAGS:
        matched.add(LOCAL_RULE)
    if not matched:
        # The "pets" rule also matches keywords, which is how a tweet without
        # any of these hashtags reaches the stream.
        matched.add(PETS_RULE)
    return [rule for rule in RULES if rule in matched]


def make_content(rng: random.Random, category: str, lang: str, viral: bool) -> Content:
    """Write a tweet of the given category in the given language ("und": emoji and hashtags only).

    A cat or dog tweet usually carries a vocabulary hashtag, and always matches
    the "cats" or "dogs" rule. About one in eight has no vocabulary hashtag for
    that animal and is of the category only through the rule tag.
    """
    animals = {"cat": ["cat"], "dog": ["dog"], "both": ["cat", "dog"], "none": []}[category]
    by_hashtag = [animal for animal in animals if lang == "und" or rng.random() >= 0.12]
    sentiment = rng.choices(SENTIMENTS, SENTIMENT_WEIGHTS)[0]

    # English templates can carry the hashtag in place of the noun: "my #cat".
    inline: dict[str, str] = {}
    if lang == "en":
        for animal in by_hashtag:
            if rng.random() < 0.25:
                inline_tags = CAT_INLINE_TAGS if animal == "cat" else DOG_INLINE_TAGS
                inline[animal] = vary_case(rng, rng.choice(inline_tags))

    tail_tags = []
    for animal in by_hashtag:
        if animal in inline:
            if rng.random() < 0.2:
                tail_tags.append(vary_case(rng, weighted_choice(rng, CAT_VOCABULARY if animal == "cat" else DOG_VOCABULARY)))
        else:
            tail_tags += [vary_case(rng, tag) for tag in pick_vocabulary_tags(rng, animal)]
    content_lang = "en" if lang == "und" else lang
    extra_tags = pick_extra_tags(rng, category, content_lang, viral)
    tail_tags += [vary_case(rng, tag) if tag.islower() else tag for tag in extra_tags]
    rng.shuffle(tail_tags)

    if lang == "und":
        pieces = make_undetermined_pieces(rng, category, sentiment, tail_tags)
    else:
        pieces = make_text_pieces(rng, category, lang, sentiment, inline, tail_tags)
    text, entities = render(pieces)
    rules = match_rules(set(animals), [str(entity["tag"]) for entity in entities])
    return Content(text=text, hashtags=entities, rules=rules)


def make_undetermined_pieces(rng: random.Random, category: str, sentiment: str, tags: list[str]) -> list[Piece]:
    if not tags:
        tags = [rng.choice(GENERAL_EXTRA_TAGS)]
    if category == "both":
        animal_key = rng.choice(("cat", "dog"))
    else:
        animal_key = category
    emoji = rng.choice(ANIMAL_EMOJI[animal_key]) * rng.randint(1, 3) + rng.choice(SENTIMENT_EMOJI[sentiment])
    return [emoji, " ", *join_hashtags(tags)]


def make_text_pieces(
    rng: random.Random,
    category: str,
    lang: str,
    sentiment: str,
    inline: dict[str, str],
    tail_tags: list[str],
) -> list[Piece]:
    """Fill a template and place the remaining hashtags after it (mostly) or before it."""
    template = choose_template(rng, lang, category, sentiment)
    nouns = PET_NOUNS[lang]
    values: dict[str, Piece] = {
        "name": rng.choice(PET_NAMES[lang]),
        "cat": Hashtag(inline["cat"]) if "cat" in inline else rng.choice(nouns["cat"]),
        "dog": Hashtag(inline["dog"]) if "dog" in inline else rng.choice(nouns["dog"]),
    }
    if category in ("cat", "dog"):
        values["pet"] = values[category]
    body = fill_template(template, values)

    # A slot the template lacks leaves its inline hashtag unused, so move it to the end.
    used_hashtags = {piece.tag for piece in body if isinstance(piece, Hashtag)}
    tail_tags = [tag for tag in inline.values() if tag not in used_hashtags] + tail_tags

    if rng.random() < 0.35:
        emoji_key = category if category in ("cat", "dog", "none") else rng.choice(("cat", "dog"))
        pool = ANIMAL_EMOJI[emoji_key] + SENTIMENT_EMOJI[sentiment]
        body = [*body, " ", rng.choice(pool)]

    if not tail_tags:
        return body
    tags = join_hashtags(tail_tags)
    layout = rng.random()
    if layout < 0.10:
        return [*tags, " ", *body]
    separator = "\n\n" if layout < 0.25 else " "
    # Punctuation right after a hashtag ends it and is not part of the entity.
    closing = ["!"] if rng.random() < 0.04 else []
    return [*body, separator, *tags, *closing]


# ---------------------------------------------------------------------------
# Engagement
# ---------------------------------------------------------------------------


def scale_count(rng: random.Random, base: int, median_ratio: float) -> int:
    """Return about ``base * ratio`` for a lognormal ratio, rounded at random to an integer."""
    value = base * rng.lognormvariate(math.log(median_ratio), 0.6)
    whole = int(value)
    return whole + (1 if rng.random() < value - whole else 0)


def make_public_metrics(rng: random.Random, boost: bool = False) -> dict[str, int]:
    """Draw heavy-tailed engagement: most tweets get 0-5 likes, a few get thousands.

    97% of like counts are lognormal (median about 1), 3% Pareto with alpha 1.2
    and minimum 20, capped at 250,000. Retweets, replies, quotes, bookmarks and
    impressions scale with likes. ``boost`` gives the tweet that starts the viral burst 20,000 to
    60,000 likes.
    """
    if boost:
        likes = rng.randrange(20_000, 60_000)
    elif rng.random() < 0.03:
        likes = min(int(20 * rng.paretovariate(1.2)), 250_000)
    else:
        likes = int(rng.lognormvariate(0.3, 1.1))
    return {
        "retweet_count": scale_count(rng, likes, 0.15),
        "reply_count": scale_count(rng, likes, 0.06),
        "like_count": likes,
        "quote_count": scale_count(rng, likes, 0.02),
        "bookmark_count": scale_count(rng, likes, 0.05),
        "impression_count": scale_count(rng, likes + 1, 40.0) + rng.randrange(30),
    }


# ---------------------------------------------------------------------------
# Assembly and output
# ---------------------------------------------------------------------------


def make_message(tweet_id: str, created_at: str, user: User, lang: str, content: Content, metrics: dict[str, int]) -> dict[str, object]:
    """Build one filtered-stream message, with keys in the order X sends them."""
    data: dict[str, object] = {
        "id": tweet_id,
        "text": content.text,
        "edit_history_tweet_ids": [tweet_id],
        "created_at": created_at,
        "author_id": user.id,
        "lang": lang,
        "public_metrics": metrics,
    }
    if content.hashtags:
        data["entities"] = {"hashtags": content.hashtags}
    return {
        "data": data,
        "includes": {"users": [{"id": user.id, "name": user.name, "username": user.username}]},
        "matching_rules": [{"id": rule.id, "tag": rule.tag} for rule in content.rules],
    }


@dataclass
class Summary:
    """Categories, languages and authors of the generated tweets, for the sidecar file."""

    categories: Counter[str]
    languages: Counter[str]
    authors: set[str]
    first_created_at: str = ""
    last_created_at: str = ""


def generate_messages(
    count: int, minutes: int, seed: int, start: datetime, user_count: int, summary: Summary
) -> list[dict[str, object]]:
    """Generate ``count`` messages in time order and record their categories in ``summary``."""
    rng = random.Random(seed)
    users = make_users(rng, user_count)
    author_cumulative_weights = make_author_cumulative_weights(user_count)
    timeline = make_timeline(rng, count, int(start.timestamp() * 1000), minutes)
    languages = list(LANGUAGE_WEIGHTS)
    language_weights = list(LANGUAGE_WEIGHTS.values())
    viral_boost_pending = True

    messages = []
    for time_ms in timeline.times_ms:
        viral = abs(time_ms - timeline.viral_center_ms) <= VIRAL_HALF_WIDTH_SECONDS * 1000
        category = rng.choices(CATEGORIES, VIRAL_CATEGORY_WEIGHTS if viral else CATEGORY_WEIGHTS)[0]
        user = rng.choices(users, cum_weights=author_cumulative_weights)[0]
        roll = rng.random()
        if roll < UNDETERMINED_SHARE:
            lang = "und"
        elif roll < 0.10:
            lang = rng.choices(languages, language_weights)[0]
        else:
            lang = user.lang

        content = make_content(rng, category, lang, viral)
        boost = viral and viral_boost_pending and category == "dog"
        if boost:
            viral_boost_pending = False
        metrics = make_public_metrics(rng, boost)
        tweet_id = str(snowflake(time_ms, rng.randrange(1024), rng.randrange(8)))
        created_at = format_created_at(time_ms)
        messages.append(make_message(tweet_id, created_at, user, lang, content, metrics))

        summary.categories[category] += 1
        summary.languages[lang] += 1
        summary.authors.add(user.id)
    summary.first_created_at = format_created_at(timeline.times_ms[0])
    summary.last_created_at = format_created_at(timeline.times_ms[-1])
    return messages


def sidecar_path(output: Path) -> Path:
    """Return ``x.counts.json`` for ``x.jsonl.gz`` (or ``<name>.counts.json`` for other names)."""
    name = output.name
    stem = name.removesuffix(".jsonl.gz") if name.endswith(".jsonl.gz") else name
    return output.with_name(f"{stem}.counts.json")


def write_gzip_lines(path: Path, lines: list[str]) -> None:
    """Write lines to a gzip file with an empty file name and mtime 0, replacing it atomically."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as compressed:
        for line in lines:
            compressed.write(line.encode("utf-8"))
            compressed.write(b"\n")
    os.replace(temporary, path)


def build_counts(arguments: argparse.Namespace, summary: Summary, total: int) -> dict[str, object]:
    return {
        "generator": {
            "count": arguments.count,
            "minutes": arguments.minutes,
            "seed": arguments.seed,
            "start": arguments.start,
            "users": arguments.users,
        },
        "total": total,
        "categories": {category: summary.categories[category] for category in CATEGORIES},
        "languages": dict(sorted(summary.languages.items())),
        "authors": len(summary.authors),
        "first_created_at": summary.first_created_at,
        "last_created_at": summary.last_created_at,
    }


def parse_start(value: str) -> datetime:
    """Parse an ISO 8601 time with a UTC offset or Z, e.g. 2025-03-15T17:00:00Z."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"invalid start time {value!r}: expected ISO 8601, e.g. {DEFAULT_START}") from error
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"start time {value!r} has no UTC offset: add Z or +00:00")
    return moment


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"invalid value {value!r}: expected an integer of at least 1")
    return number


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Generate the synthetic X API v2 filtered-stream recording used for replays.")
    parser.add_argument("--count", type=positive_int, default=DEFAULT_COUNT, help=f"number of tweets (default {DEFAULT_COUNT})")
    parser.add_argument("--minutes", type=positive_int, default=DEFAULT_MINUTES, help=f"length of the time window in minutes (default {DEFAULT_MINUTES})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed of the random generator (default {DEFAULT_SEED})")
    parser.add_argument("--start", default=DEFAULT_START, help=f"start of the time window, ISO 8601 with UTC offset (default {DEFAULT_START})")
    parser.add_argument("--users", type=positive_int, default=DEFAULT_USERS, help=f"number of invented accounts (default {DEFAULT_USERS})")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output .jsonl.gz file; the sidecar .counts.json goes next to it (default: replay_data/cats_v_dogs.jsonl.gz)")
    arguments = parser.parse_args(argv)
    try:
        arguments.start_time = parse_start(arguments.start)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    return arguments


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    arguments = parse_arguments(argv)
    summary = Summary(categories=Counter(), languages=Counter(), authors=set())
    messages = generate_messages(arguments.count, arguments.minutes, arguments.seed, arguments.start_time, arguments.users, summary)
    lines = [json.dumps(message, ensure_ascii=False, separators=(",", ":")) for message in messages]

    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    write_gzip_lines(arguments.output, lines)
    counts = build_counts(arguments, summary, len(lines))
    counts_path = sidecar_path(arguments.output)
    counts_path.write_text(json.dumps(counts, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    logger.info(
        "wrote %d tweets (%s to %s) to %s (%d bytes) and counts to %s",
        len(lines),
        summary.first_created_at,
        summary.last_created_at,
        arguments.output,
        arguments.output.stat().st_size,
        counts_path,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
