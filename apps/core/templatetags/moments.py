from datetime import datetime
from functools import cache

from django import template
from django.utils import dateformat
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

#: Django's date format letters that mean the same, as numbers, to strftime (which is ten times
#: faster than Django's formatter); other formats go through Django's.
_STRFTIME = {"Y": "%Y", "m": "%m", "d": "%d", "H": "%H", "i": "%M", "s": "%S", " ": " ", "-": "-", ":": ":"}


@cache
def _as_strftime(shown: str) -> str | None:
    return "".join(_STRFTIME[letter] for letter in shown) if all(letter in _STRFTIME for letter in shown) else None


@register.filter(expects_localtime=True)
def time_tag(moment: datetime | None, shown: str = "Y-m-d H:i") -> SafeString | str:
    """`<time datetime="(ISO 8601)">(shown)</time>` for a moment in the current time zone, `shown` in
    Django's date format: what `|date:'c'` and `|date:shown` give, at a quarter of their cost (a list
    shows one a row, and two `date` filters were a fifth of a machine row's time)."""
    if moment is None:
        return ""
    fast = _as_strftime(shown)  # `moment` is in the current time zone already (expects_localtime)
    text = moment.strftime(fast) if fast is not None else dateformat.format(moment, shown)
    return format_html('<time datetime="{}">{}</time>', moment.isoformat(), text)
