"""The portal's languages: one message catalogue per language (``zh-CN.json``, ``en.json`` in
this folder, flat ``"area.name": "text"`` maps, plus one part file per portal area, such as
``zh-CN.service.json``), looked up by :func:`translator`, which the templates call as
``t("area.name", **params)`` (``str.format`` placeholders, ``{name}``).

Chinese first: zh-CN is the default. A request gets English when it asks for it, in this
order: the ``lang`` query parameter (the switch in every page's header; it also sets the
``lang`` cookie), the ``lang`` cookie, then ``Accept-Language`` when the first language it
names that the portal speaks is English. Anything else (no header, ``fr``, ``zh-TW``) is zh-CN.

The browser's own verification (``static/verify.js``) takes its messages from the same
catalogue: the page embeds the ``check.*`` entries of its language (:func:`script_messages`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.requests import Request

LANGUAGES: Final = ("zh-CN", "en")
"""Every language the portal speaks, the default first."""
DEFAULT: Final = LANGUAGES[0]
COOKIE: Final = "lang"
COOKIE_MAX_AGE: Final = 365 * 24 * 3600
SCRIPT_PREFIX: Final = "check."
"""Catalogue entries the browser's script needs: embedded in the pages that run it."""
_FOLDER = Path(__file__).parent


@cache
def catalogue(language: str) -> Mapping[str, str]:
    """The messages of ``language`` (one of :data:`LANGUAGES`)."""
    if language not in LANGUAGES:
        raise KeyError(language)
    merged: dict[str, str] = {}
    for path in [_FOLDER / f"{language}.json", *sorted(_FOLDER.glob(f"{language}.*.json"))]:
        found = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
            raise ValueError(f"{path.name} is not a flat map of strings")
        twice = merged.keys() & found.keys()
        if twice:
            raise ValueError(f"{path.name} repeats keys of another part: {sorted(twice)[:5]}")
        merged.update(found)
    return merged


def translator(language: str) -> Callable[..., str]:
    """``t(key, **params)``: the message ``key`` in ``language``, its ``{placeholders}`` filled.
    A missing key is an error (tests check both catalogues hold every key the templates use)."""
    messages = catalogue(language)

    def t(key: str, **params: Any) -> str:
        text = messages[key]
        return text.format(**params) if params else text

    return t


def html_translator(language: str) -> Callable[..., Markup]:
    """``th(key, **params)``: as ``t``, for a message whose parameters are markup (a link, a
    ``<code>``): the message is escaped, and so is every parameter that is not already Markup."""
    messages = catalogue(language)

    def th(key: str, **params: Any) -> Markup:
        return Markup(escape(messages[key])).format(**params)

    return th


def normalized(value: str | None) -> str | None:
    """``value`` as one of :data:`LANGUAGES`, or None: ``en``, ``en-US`` → ``en``; ``zh``,
    ``zh-cn``, ``zh-Hans``, ``zh-Hans-CN`` → ``zh-CN``."""
    if not value:
        return None
    tag = value.strip().lower().replace("_", "-")
    if tag == "en" or tag.startswith("en-"):
        return "en"
    if tag in ("zh", "zh-cn", "zh-hans", "zh-hans-cn", "zh-sg"):
        return "zh-CN"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The language the portal speaks that ``Accept-Language`` prefers (by quality, then
    order), or None when it names none of them."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")[:32]):
        tag, _, rest = part.strip().partition(";")
        quality = 1.0
        for parameter in rest.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = normalized(tag)
        if language is not None and quality > 0:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else None


def chosen_language(request: Request) -> str:
    """The language of a page: query, cookie, ``Accept-Language``, else zh-CN."""
    return (
        normalized(request.query_params.get("lang"))
        or normalized(request.cookies.get(COOKIE))
        or from_accept_language(request.headers.get("accept-language"))
        or DEFAULT
    )


def switch_href(request: Request, language: str) -> str:
    """This page's URL in ``language`` (its other query parameters kept)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*params, ('lang', language)])}"


def script_messages(language: str) -> dict[str, str]:
    """The entries of ``language`` that the browser's script shows."""
    return {k: v for k, v in catalogue(language).items() if k.startswith(SCRIPT_PREFIX)}


def context(request: Request) -> dict[str, Any]:
    """What every template sees (a Jinja2Templates context processor): ``lang``, ``t``, the
    switch's targets."""
    language = chosen_language(request)
    return {
        "lang": language,
        "t": translator(language),
        "th": html_translator(language),
        "has": catalogue(language).__contains__,
        "languages": LANGUAGES,
        "switch_href": lambda target: switch_href(request, target),
    }


def remember(request: Request, response: Any) -> None:
    """A page asked for with ``?lang=`` sets the cookie, so the next page keeps the language;
    every page says it varies by the request's language choice."""
    asked = normalized(request.query_params.get("lang"))
    if asked is not None and asked != normalized(request.cookies.get(COOKIE)):
        response.set_cookie(COOKIE, asked, max_age=COOKIE_MAX_AGE, samesite="lax", path="/")
    response.headers["Content-Language"] = chosen_language(request)
    response.headers["Vary"] = "Accept-Language, Cookie"
