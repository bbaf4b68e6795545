"""Text a platform type carries: Markdown (description, help, changelog, usage) rendered
to HTML, and the usage text's placeholders filled in.

Markdown goes through markdown-it-py's CommonMark renderer with raw HTML off: any HTML in
the text comes out escaped, and links to `javascript:`/`vbscript:`/`file:`/`data:` (but
images) are not made links, so a type's text cannot put script on a page.

Placeholders: `{{ outputs.NAME }}` (a Terraform output of the platform) and
`{{ params.NAME }}` (a parameter's value; secrets masked), spaces inside the braces
optional. Nothing else is evaluated; an unknown name is left as `…`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False})
PLACEHOLDER = re.compile(r"\{\{\s*(outputs|params)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
UNKNOWN = "…"


def markdown_html(text: str) -> SafeString:
    """The Markdown as HTML safe to put on a page (raw HTML escaped)."""
    html: str = _markdown.render(text or "")
    return mark_safe(html)  # noqa: S308 - html off: markdown-it escapes it


def usage_fill(text: str, *, outputs: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """The usage text with its placeholders replaced (params already masked by the caller)."""
    sources = {"outputs": outputs, "params": params}

    def fill(match: re.Match[str]) -> str:
        value = sources[match[1]].get(match[2])
        return UNKNOWN if value is None else str(value)

    return PLACEHOLDER.sub(fill, text or "")
