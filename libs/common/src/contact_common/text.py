"""Free text a request may carry, as every service stores it.

PostgreSQL's text holds no NUL and UTF-8 no unpaired surrogate (JSON can spell both, as
`\\u0000` and `\\ud800`): a request carrying one is refused as bad input (422) rather than failing
on insert with a 500. A single-line value (a name, an email address, a reason) refuses every
control character; free text (a description, notes) keeps line breaks and tabs.
"""

from __future__ import annotations

import unicodedata

from pydantic import AfterValidator


def storable(value: str) -> str:
    """The value, if PostgreSQL's text and UTF-8 can hold it."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if any(unicodedata.category(c) == "Cs" for c in value):
        raise ValueError("must not contain unpaired surrogates")
    return value


def single_line(value: str) -> str:
    """The value, if it holds no control character (and so no line break)."""
    storable(value)
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    return value


Storable = AfterValidator(storable)
SingleLine = AfterValidator(single_line)
