"""The snapshot panel on a link's page (the links app knows nothing of snapshots)."""

from __future__ import annotations

from django import template

from linkhub.links.models import Link

from .. import selectors
from ..models import SnapshotSchedule

register = template.Library()


@register.inclusion_tag("snapshots/panel.html", takes_context=True)
def snapshot_panel(context, link: Link) -> dict:
    versions = list(selectors.snapshot_list(link=link))
    schedule = SnapshotSchedule.objects.filter(link=link).first()
    latest = versions[0] if versions else None
    return {
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "link": link,
        "latest": latest,
        "latest_names": {row.name for row in latest.snapshot_artifacts.all()} if latest else set(),
        "versions": versions,
        "succeeded": [v for v in versions if v.status == "succeeded"],
        "schedule": schedule,
    }


@register.simple_tag
def latest_snapshots(links) -> dict:
    """{link id: its newest snapshot} for a page of links, in one query (with ``has_thumbnail``)."""
    return selectors.snapshot_latest_for_links(link_ids=[link.pk for link in links])


@register.filter
def lookup(mapping: dict, key):
    return mapping.get(key) if mapping else None
