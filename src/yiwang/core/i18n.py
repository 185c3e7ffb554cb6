"""Translations: English message ids in code and templates, zh_CN (default) and en catalogs.

Catalogs are the ``.po`` files under ``yiwang/locale``; they are compiled in memory at
first use, so no build step is needed. The current locale lives in a context variable
set per request by the web layer (and defaults to zh_CN for commands).
"""

from __future__ import annotations

import contextvars
import functools
import io
from importlib import resources
from importlib.resources.abc import Traversable

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_LABELS = {"zh_CN": "中文", "en": "English"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("yiwang_locale", default=DEFAULT_LOCALE)


def catalog_path(locale: str) -> Traversable:
    return resources.files("yiwang") / "locale" / locale / "LC_MESSAGES" / "messages.po"


@functools.cache
def translations(locale: str) -> NullTranslations:
    path = catalog_path(locale)
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def set_locale(locale: str) -> contextvars.Token[str]:
    return _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def get_locale() -> str:
    return _current.get()


def gettext(message: str, **params: object) -> str:
    text = translations(get_locale()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = translations(get_locale()).ngettext(singular, plural, n)
    params.setdefault("num", n)
    return text % params


_ = gettext


def N_(message: str) -> str:
    """Mark a message id for extraction; it is translated later, where it is shown."""
    return message


def pick_locale(cookie: str | None) -> str:
    """The language switch (cookie) wins; otherwise Chinese, whatever the browser says."""
    if cookie in LOCALES:
        return cookie
    return DEFAULT_LOCALE
