"""`time_tag`: what `|date:'c'` and `|date:shown` gave, in the current time zone."""

from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.utils import timezone

MOMENT = datetime(2026, 3, 4, 23, 6, 7, tzinfo=UTC)


@pytest.mark.parametrize("shown", ["Y-m-d H:i", "Y-m-d H:i:s", "H:i:s", "j M Y, P"])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_it_shows_what_two_date_filters_showed(shown, zone):
    both = Template(f"""<time datetime="{{{{ at|date:'c' }}}}">{{{{ at|date:"{shown}" }}}}</time>""")
    one = Template(f'{{% load moments %}}{{{{ at|time_tag:"{shown}" }}}}')
    with timezone.override(zone):
        assert one.render(Context({"at": MOMENT})) == both.render(Context({"at": MOMENT}))


def test_the_default_is_the_lists_minutes_and_nothing_shows_nothing():
    template = Template("{% load moments %}{{ at|time_tag }}|{{ none|time_tag }}")
    with timezone.override("UTC"):
        shown = template.render(Context({"at": MOMENT, "none": None}))
    assert shown == '<time datetime="2026-03-04T23:06:07+00:00">2026-03-04 23:06</time>|'
