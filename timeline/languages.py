"""The languages the timeline is written in, and which one a reader falls back on."""

from collections.abc import Iterable
from typing import Final

KAZAKH: Final = "kk"
RUSSIAN: Final = "ru"
ENGLISH: Final = "en"

# In the order pages list them: the state language, the other official one, then English.
CODES: Final = (KAZAKH, RUSSIAN, ENGLISH)
NAMES: Final = {KAZAKH: "Қазақша", RUSSIAN: "Русский", ENGLISH: "English"}

# Who cannot have a text in their own language is shown the next one they likeliest read.
# A Kazakh reader reads Russian before English; a Russian reader English before Kazakh (few
# Russians outside Kazakhstan read it); an English reader Russian before Kazakh (the wider
# read of the two, and the language of most of our sources after English).
FALLBACKS: Final = {
    KAZAKH: (RUSSIAN, ENGLISH),
    RUSSIAN: (ENGLISH, KAZAKH),
    ENGLISH: (RUSSIAN, KAZAKH),
}

# Readers with no preference we can honour (no cookie, no Accept-Language we have) get English:
# the one language of the three read by visitors from anywhere else.
DEFAULT: Final = ENGLISH


def supported(code: str | None) -> str | None:
    """Return our language code for *code* ('ru', 'ru-RU', 'RU'), or None if we have none."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return base if base in CODES else None


def reading_order(language: str) -> tuple[str, ...]:
    """Return *language* and then its fallbacks, in the order a reader of it is served."""
    return (language, *FALLBACKS[language])


def choose(available: Iterable[str], language: str) -> str | None:
    """Return the language a reader of *language* is shown out of *available*, if any."""
    have = set(available)
    return next((code for code in reading_order(language) if code in have), None)
