"""Every interface string is in Russian and Kazakh: the catalogues are complete and current.

Our catalogues are timeline/locale/{ru,kk}/LC_MESSAGES/django.po. A string added to the code
without a translation fails here (the catalogue lacks it, or has it untranslated), as does a
fuzzy entry, a missing plural form, or a translation that loses or invents a placeholder.
timeline/packages/locale/ holds Kazakh (and a few Russian) words of Django and the packages we
use that their own catalogues lack; every word of theirs must be in both languages, theirs or ours.
"""

import contextlib
import gettext
import importlib
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from django.conf import global_settings
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import override_settings
from django.utils import translation

from timeline import languages

from .factories import EventFactory
from .processes import ROOT

pytestmark = pytest.mark.django_db

APP = ROOT / "timeline"
OURS = APP / "locale"
PACKAGES = APP / "packages" / "locale"
TRANSLATED = (languages.RUSSIAN, languages.KAZAKH)
# Every catalogue we keep: (language, folder of locales, domain).
CATALOGUES = {
    "ru": (languages.RUSSIAN, OURS, "django"),
    "kk": (languages.KAZAKH, OURS, "django"),
    "ru-packages": (languages.RUSSIAN, PACKAGES, "django"),
    "kk-packages": (languages.KAZAKH, PACKAGES, "django"),
    "kk-packages-js": (languages.KAZAKH, PACKAGES, "djangojs"),
}
# The packages whose words editors and readers meet: (domain, module whose locale/ holds them).
PACKAGE_WORDS = [
    ("django", "django.conf"),
    ("django", "django.contrib.admin"),
    ("djangojs", "django.contrib.admin"),
    ("django", "django.contrib.auth"),
    ("django", "django.contrib.contenttypes"),
    ("django", "django.contrib.sessions"),
    ("django", "reversion"),
    ("django", "django_countries"),
]
# Names of the languages Django knows: no page of ours shows them (ours are in languages.NAMES).
LANGUAGE_NAMES = set(dict(global_settings.LANGUAGES).values())
# %(name)s, %s, %d …, not %%; and {name} or {} (str.format), not {{ }}.
PERCENT = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[sdifr]")
BRACES = re.compile(r"(?<!\{)\{(\w*)\}(?!\})")
TAGS = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)")
# Numbers the plural rule is tried on, to see which form serves which.
SAMPLE_NUMBERS = range(0, 1001)


def po_path(language: str, root: Path = OURS, domain: str = "django") -> Path:
    return root / language / "LC_MESSAGES" / f"{domain}.po"


def catalogue(language: str, root: Path = OURS, domain: str = "django") -> Catalog:
    with po_path(language, root, domain).open("rb") as stream:
        return read_po(stream)


def entries(cat: Catalog) -> list[Message]:
    return [message for message in cat if message.id]


def key(message: Message) -> tuple[str | None, object]:
    return (message.context, message.id)


def translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(s.strip() for s in strings)


def placeholders(text: str, message: Message) -> Counter[str]:
    """Return the format placeholders in *text*, by the format the message is used with."""
    if "python-brace-format" in message.flags:
        return Counter(name or "{}" for name in BRACES.findall(text))
    if "python-format" in message.flags:
        return Counter(match.group(1) or match.group()[-1] for match in PERCENT.finditer(text))
    return Counter()


def singular(message: Message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def describe(message: Message) -> str:
    context = f" (context {message.context!r})" if message.context else ""
    return f"{singular(message)!r}{context}"


# --- (a) complete: translated, not fuzzy, every plural form, the same placeholders ---------------
@pytest.mark.parametrize("name", CATALOGUES)
def test_every_entry_is_translated_and_none_is_fuzzy(name):
    language = CATALOGUES[name][0]
    cat = catalogue(*CATALOGUES[name])
    assert str(cat.locale) == language
    assert not cat.fuzzy, "the catalogue's header is marked fuzzy"
    untranslated = [describe(message) for message in entries(cat) if not translated(message)]
    fuzzy = [describe(message) for message in entries(cat) if message.fuzzy]
    assert not untranslated, f"untranslated in {name}: {untranslated}"
    assert not fuzzy, f"fuzzy in {name}: {fuzzy}"


def test_plural_rules_are_russian_and_kazakh():
    # Russian: one (1, 21, 101), few (2–4, 22–24), many (0, 5–20, 25–30); Kazakh: 1 and the rest.
    russian = gettext.c2py(catalogue(languages.RUSSIAN).plural_expr)
    assert catalogue(languages.RUSSIAN).num_plurals == 3
    assert [russian(n) for n in (1, 21, 101, 2, 4, 22, 0, 5, 11, 12, 14, 20, 111)] == [
        *(0, 0, 0),
        *(1, 1, 1),
        *(2, 2, 2, 2, 2, 2, 2),
    ]
    assert catalogue(*CATALOGUES["ru-packages"]).num_plurals == 3
    for name in ("kk", "kk-packages", "kk-packages-js"):
        cat = catalogue(*CATALOGUES[name])
        kazakh = gettext.c2py(cat.plural_expr)
        assert cat.num_plurals == 2
        assert [kazakh(n) for n in (1, 0, 2, 21)] == [0, 1, 1, 1]


@pytest.mark.parametrize("name", CATALOGUES)
def test_every_plural_form_is_filled(name):
    cat = catalogue(*CATALOGUES[name])
    wrong = [
        f"{describe(message)}: {len(message.string)} forms"
        for message in entries(cat)
        if message.pluralizable and len(message.string) != cat.num_plurals
    ]
    assert not wrong, f"{name} needs {cat.num_plurals} plural forms: {wrong}"
    # Babel drops surplus forms as it reads (with a warning): count them in the text itself.
    text = po_path(*CATALOGUES[name]).read_text(encoding="utf-8")
    surplus = {int(i) for i in re.findall(r"^msgstr\[(\d+)\]", text, re.M)} - set(
        range(cat.num_plurals)
    )
    assert not surplus, f"{name} has forms msgstr{sorted(surplus)}: it has {cat.num_plurals}"


@pytest.mark.parametrize("name", CATALOGUES)
def test_translations_keep_the_placeholders_and_markup(name):
    cat = catalogue(*CATALOGUES[name])
    rule = gettext.c2py(cat.plural_expr)
    # A form that serves some number other than 1 must show the number; one that serves 1 alone
    # may say it in words ("in a minute"), as the English singular does.
    for_one_only = {
        form
        for form in range(cat.num_plurals)
        if {n for n in SAMPLE_NUMBERS if rule(n) == form} == {1}
    }
    wrong = []
    for message in entries(cat):
        if message.pluralizable:
            singular, plural = message.id
            for form, text in enumerate(message.string):
                found = placeholders(text, message)
                if form in for_one_only:
                    ok = placeholders(singular, message) <= found <= placeholders(plural, message)
                else:
                    ok = set(found) == set(placeholders(plural, message))
                if not ok or sorted(TAGS.findall(text)) != sorted(TAGS.findall(plural)):
                    wrong.append(f"{describe(message)} form {form}: {text!r}")
            continue
        same = placeholders(message.string, message) == placeholders(message.id, message)
        if "python-brace-format" in message.flags and "{}" in message.id:
            # Positional fields are filled in order: the translation keeps them in order too.
            same = BRACES.findall(message.string) == BRACES.findall(message.id)
        if not same or sorted(TAGS.findall(message.string)) != sorted(TAGS.findall(message.id)):
            wrong.append(f"{describe(message)}: {message.string!r}")
    assert not wrong, f"placeholders or markup changed in {name}: {wrong}"


# --- (b) current: the code has no string the catalogues lack, and they none it lost -------------
@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Catalog:
    """Return the catalogue makemessages extracts from the code now, into a copy of the app."""
    if not shutil.which("xgettext"):
        pytest.fail("GNU gettext is missing: run bin/ensure-gettext")
    copy = tmp_path_factory.mktemp("catalogue") / "timeline"
    shutil.copytree(
        APP, copy, ignore=shutil.ignore_patterns("__pycache__", "*.po", "*.mo", "static")
    )
    with override_settings(LOCALE_PATHS=[copy / "locale"]), contextlib.chdir(copy):
        call_command("makemessages", locale=[languages.RUSSIAN], verbosity=0)
    return catalogue(languages.RUSSIAN, root=copy / "locale")


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_catalogue_holds_every_string_of_the_code(extracted, language):
    committed = {key(message) for message in entries(catalogue(language))}
    in_code = {key(message): message for message in entries(extracted)}
    missing = sorted(describe(message) for k, message in in_code.items() if k not in committed)
    assert not missing, (
        f"strings of the code missing from {language}/LC_MESSAGES/django.po: {missing}. "
        "Run `make catalogues` and translate them."
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_catalogue_holds_no_string_the_code_lost(extracted, language):
    in_code = {key(message) for message in entries(extracted)}
    stale = sorted(
        describe(message) for message in entries(catalogue(language)) if key(message) not in in_code
    )
    assert not stale, (
        f"{language}/LC_MESSAGES/django.po has strings the code no longer uses: {stale}. "
        "Run `make catalogues`."
    )


# --- (d) the packages' words: each in both languages, in their catalogue or ours ----------------
def package_catalogue(domain: str, module: str, language: str) -> Catalog | None:
    """Return a package's own catalogue for *language*, or None if it ships none."""
    root = Path(importlib.import_module(module).__file__ or "").parent / "locale"
    path = po_path(language, root, domain)
    return read_po(path.open("rb")) if path.is_file() else None


def package_words(domain: str, module: str) -> list[Message]:
    """Return every word a package has for translators: its English catalogue, made from its code
    (or, if it ships none, the first other one)."""
    for language in ("en", *TRANSLATED):
        if cat := package_catalogue(domain, module, language):
            return [m for m in entries(cat) if singular(m) not in LANGUAGE_NAMES]
    pytest.fail(f"{module} ships no catalogue for {domain}")


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize(("domain", "module"), PACKAGE_WORDS)
def test_every_word_of_the_packages_is_translated(domain, module, language):
    # One domain is one catalogue at run time: any package's translation serves all of them.
    sources = [package_catalogue(d, m, language) for d, m in PACKAGE_WORDS if d == domain] + [
        catalogue(*where)
        for where in CATALOGUES.values()
        if where[0] == language and where[2] == domain
    ]
    have = {key(m) for cat in sources if cat is not None for m in entries(cat) if translated(m)}
    missing = sorted(describe(m) for m in package_words(domain, module) if key(m) not in have)
    where = po_path(language, PACKAGES, domain).relative_to(ROOT)
    assert not missing, (
        f"{module} words with no {language} translation (add them to {where}): {missing}"
    )


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_packages_catalogue_holds_only_their_words(domain):
    words = {key(m) for d, module in PACKAGE_WORDS if d == domain for m in package_words(d, module)}
    ours = catalogue(languages.KAZAKH, PACKAGES, domain)
    stale = sorted(describe(m) for m in entries(ours) if key(m) not in words)
    assert not stale, f"no package has these words any more: {stale}"


# --- (c) pages in the reader's language -----------------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "lang", "words"),
    [
        ("ru", "ru", ["Подписка по электронной почте", "Адрес электронной почты", "Подписаться"]),
        ("kk", "kk", ["Электрондық пошта арқылы жазылу", "Электрондық пошта мекенжайы", "Жазылу"]),
        ("kk-KZ,kk;q=0.9,ru;q=0.8", "kk", ["Электрондық пошта арқылы жазылу"]),
        ("ru-RU,ru;q=0.9,en;q=0.5", "ru", ["Подписка по электронной почте"]),
        ("", "en", ["Follow by email", "Email address"]),
    ],
)
def test_pages_speak_the_language_the_reader_asks_for(client, accept, lang, words):
    page = client.get("/subscribe/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert f'<html lang="{lang}">' in page
    for word in words:
        assert word in page


def test_choices_and_labels_follow_the_language(client):
    event = EventFactory(kind="visit", status="postponed")
    page = client.get(event.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Визит" in page and "Перенесено" in page and "Источники" in page
    page = client.get(event.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="kk").content.decode()
    assert "Сапар" in page and "Кейінге қалдырылды" in page and "Дереккөздер" in page


@pytest.mark.parametrize(
    ("accept", "words"),
    [
        ("kk", ["Хроника жазбалары", "Оқиғалар", "Сайтты қарау", "Негізгі мазмұнға өту"]),
        ("ru", ["Записи хроники", "События", "Открыть сайт", "Последние действия"]),
    ],
)
def test_the_admin_speaks_the_editors_language(client, publisher, accept, words):
    # Ours (site and model names), and Django's own: in Kazakh, partly from our catalogue.
    client.force_login(publisher)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    for word in words:
        assert word in page
    form = client.get("/admin/timeline/event/add/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert ("Басталу күні" if accept == "kk" else "Дата начала") in form


@pytest.mark.parametrize(
    ("minutes", "russian", "kazakh"),
    [
        (1, "через 1 минуту.", "Бір минуттан кейін"),
        (2, "через 2 минуты.", "2 минуттан кейін"),
        (5, "через 5 минут.", "5 минуттан кейін"),
        (21, "через 21 минуту.", "21 минуттан кейін"),
        (11, "через 11 минут.", "11 минуттан кейін"),
        (24, "через 24 минуты.", "24 минуттан кейін"),
    ],
)
def test_plural_forms_follow_each_language(minutes, russian, kazakh):
    context = {"minutes": minutes}
    with translation.override(languages.RUSSIAN):
        assert russian in render_to_string("timeline/rate_limited.html", context)
    with translation.override(languages.KAZAKH):
        assert kazakh in render_to_string("timeline/rate_limited.html", context)
    with translation.override(languages.ENGLISH):
        english = render_to_string("timeline/rate_limited.html", context)
    assert ("in a minute." if minutes == 1 else f"in {minutes} minutes.") in english
