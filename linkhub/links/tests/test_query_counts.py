"""The link list costs the same number of queries for 5 links as for 500."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from linkhub.links.models import Link, Tag, TaggedLink

pytestmark = pytest.mark.django_db


def _seed(owner, n: int) -> None:
    tags = [Tag.objects.create(owner=owner, name=f"tag{i}", slug=f"tag{i}") for i in range(5)]
    links = Link.objects.bulk_create(
        [
            Link(owner=owner, url=f"https://example.com/{i}", domain="example.com", title=f"L{i}")
            for i in range(n)
        ]
    )
    TaggedLink.objects.bulk_create(
        [TaggedLink(content_object=link, tag=tags[i % 5]) for i, link in enumerate(links)]
        + [TaggedLink(content_object=link, tag=tags[(i + 1) % 5]) for i, link in enumerate(links)]
    )


def _count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "path",
    [
        "/api/links/?page_size=500",
        "/api/links/?tag=tag1&page_size=500",
        "/api/links/?q=L&page_size=500",
        "/api/tags/",
    ],
)
def test_api_list_query_count_is_constant(make_user, api_client_for, path):
    small, large = make_user("small"), make_user("large")
    _seed(small, 5)
    _seed(large, 500)
    counts = []
    for user in (small, large):
        client = api_client_for(user)
        r = None

        def call(client=client):
            nonlocal r
            r = client.get(path)

        counts.append(_count(call))
        assert r.status_code == 200
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("path", ["/links/", "/links/?tag=tag1", "/tags/", "/export/?format=json"])
def test_page_query_count_is_constant(client, make_user, path):
    small, large = make_user("small"), make_user("large")
    _seed(small, 5)
    _seed(large, 500)
    counts = []
    for user in (small, large):
        client.force_login(user)

        def call():
            r = client.get(path)
            assert r.status_code == 200
            if r.streaming:
                b"".join(r.streaming_content)

        counts.append(_count(call))
    assert counts[0] == counts[1], counts
