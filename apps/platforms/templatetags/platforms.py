from django import template
from django.utils.safestring import SafeString

from ..text import markdown_html

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    """`{{ ptype.description|markdown }}`: Markdown as safe HTML (raw HTML escaped)."""
    return markdown_html(text)
