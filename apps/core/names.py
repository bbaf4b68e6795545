"""The one rule for names people give things (machines, volumes, SSH keys, API
tokens): something visible, and no control or invisible characters.

A name is shown on pages, in lists and logs, and sent to the cloud: ESC or BEL
would reach terminals, a newline would forge log lines, U+202E (right-to-left
override) would show "exe.txt" for "txt.exe", and a name of only U+200B (zero
width space) looks empty. The same rule serves the services (`name_clean`, which
every page and API path goes through), the forms and serializers
(`name_validator`) and the OpenAPI schema (`NAME_PATTERN`, which drf-spectacular
reads from the validator).
"""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from .errors import ApplicationError

# Control characters (C0, DEL, C1), the soft hyphen, invisible format characters
# (Arabic letter mark, Mongolian vowel separator, zero-width space/joiners and
# marks, line and paragraph separators, bidi embeddings, overrides and isolates,
# word joiner and invisible operators, the byte order mark, interlinear
# annotations). Escapes, not the characters, so the pattern reads the same in
# Python and in the schema's JSON Schema (ECMA 262) dialect.
_REFUSED = r"\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
# The spaces left (not `\s`: Python's also matches some control characters).
_SPACES = r" \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
#: Something visible first (after any spaces), then nothing refused.
NAME_PATTERN = rf"^[{_SPACES}]*[^{_REFUSED}{_SPACES}][^{_REFUSED}]*$"
# Lone surrogates (a JSON body may carry "\ud800") too; not in the pattern, which
# generators of test data cannot use with them.
_REFUSED_CHAR = re.compile(rf"[{_REFUSED}\ud800-\udfff]")
NAME_RULE = "No control or invisible characters, and something visible."


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a name, in words for the person who typed it; None if it can."""
    found = _REFUSED_CHAR.search(name)
    if found:
        char = found.group()
        label = unicodedata.name(char, "") if not 0xD800 <= ord(char) <= 0xDFFF else ""
        shown = f"U+{ord(char):04X}" + (f" {label}" if label else "")
        return f"Remove the control or invisible character {shown}: names may have neither."
    if not name.strip():
        return "Give it a name with something visible in it."
    return None


class NameValidator(RegexValidator):
    """For forms and serializers: `name_problem`'s message. A RegexValidator so
    drf-spectacular puts NAME_PATTERN in the schema (Python's `$` would also let
    a trailing newline through; `name_problem` does not)."""

    def __init__(self) -> None:
        super().__init__(NAME_PATTERN, message=NAME_RULE, code="invalid_name")

    def __call__(self, value: object) -> None:
        problem = name_problem(str(value))
        if problem:
            raise ValidationError(problem, code=self.code)


name_validator = NameValidator()


def name_clean(
    name: str | None, *, max_length: int, error: type[ApplicationError] = ApplicationError, what: str = "name"
) -> str:
    """`name` without surrounding spaces, or `error` with a field message under `name`."""
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > max_length:
        raise error(
            f"A {what} of 1 to {max_length} characters is needed.", fields={"name": [f"1 to {max_length} characters."]}
        )
    problem = name_problem(cleaned)
    if problem:
        raise error(f"That {what} cannot be used: {problem}", fields={"name": [problem]})
    return cleaned
