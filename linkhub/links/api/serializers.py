"""Serializers only parse and render; services do the writes."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from linkhub.converters import ID_MAX

from ..models import (
    DESCRIPTION_MAX_LENGTH,
    NOTES_MAX_LENGTH,
    TAG_MAX_LENGTH,
    TAGS_PER_LINK_MAX,
    TITLE_MAX_LENGTH,
    URL_MAX_LENGTH,
    ImportJob,
    Link,
    Tag,
)
from ..selectors import LIST_FIELDS
from ..services import BULK_ACTIONS


class TagNameField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=TAG_MAX_LENGTH, allow_blank=False, trim_whitespace=True, **kwargs)


class LinkTagSerializer(serializers.Serializer):
    name = serializers.CharField()
    origin = serializers.CharField()


class LinkSerializer(serializers.ModelSerializer):
    """Output: a link with its tags. Built by hand for the list's speed (no per-field lookups)."""

    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    tag_details = LinkTagSerializer(many=True, read_only=True)

    class Meta:
        model = Link
        fields = (
            "id",
            "url",
            "domain",
            "title",
            "description",
            "notes",
            "tags",
            "tag_details",
            "is_read",
            "is_private",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def to_representation(self, obj: Link) -> dict:
        row = {name: getattr(obj, name) for name in LIST_FIELDS}
        row["tag_list"] = obj.tag_list  # set by selectors.links_attach_tags
        return link_row_data(row)


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def link_row_data(row: dict[str, Any]) -> dict[str, Any]:
    """A link as the API shows it, from a row of ``values(*LIST_FIELDS)`` plus its tag_list.
    Written out by hand because the list is the hottest path of the API (bench/api.py)."""
    items = row["tag_list"]
    return {
        "id": row["id"],
        "url": row["url"],
        "domain": row["domain"],
        "title": row["title"],
        "description": row["description"],
        "notes": row["notes"],
        "tags": [i.name for i in items],
        "tag_details": [{"name": i.name, "origin": i.origin} for i in items],
        "is_read": row["is_read"],
        "is_private": row["is_private"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
    }


class LinkCreateSerializer(serializers.Serializer):
    # A CharField, not a URLField: the service's normaliser gives the better message.
    url = serializers.CharField(max_length=URL_MAX_LENGTH, trim_whitespace=True)
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, required=False, allow_blank=True, default="")
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    notes = serializers.CharField(max_length=NOTES_MAX_LENGTH, required=False, allow_blank=True, default="")
    tags = serializers.ListField(
        child=TagNameField(), required=False, default=list, max_length=TAGS_PER_LINK_MAX
    )
    is_read = serializers.BooleanField(required=False, default=False)
    is_private = serializers.BooleanField(required=False, default=False)


class LinkReplaceSerializer(LinkCreateSerializer):
    """PUT: the whole link. ``url`` is required; every field left out is reset to its default."""


class LinkUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=URL_MAX_LENGTH, required=False)
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, required=False, allow_blank=True)
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=NOTES_MAX_LENGTH, required=False, allow_blank=True)
    tags = serializers.ListField(child=TagNameField(), required=False, max_length=TAGS_PER_LINK_MAX)
    is_read = serializers.BooleanField(required=False)
    is_private = serializers.BooleanField(required=False)


class LinkBulkSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX), min_length=1, max_length=5000
    )
    action = serializers.ChoiceField(choices=BULK_ACTIONS)
    tags = serializers.ListField(
        child=TagNameField(), required=False, default=list, max_length=TAGS_PER_LINK_MAX
    )


class TagSerializer(serializers.ModelSerializer):
    count = serializers.IntegerField(source="link_count", read_only=True)
    # A Unicode slug: the model's SlugField would be described by the ASCII-only pattern [-\w]+.
    slug = serializers.CharField(read_only=True)

    class Meta:
        model = Tag
        fields = ("id", "name", "slug", "count", "created_at")
        read_only_fields = ("id", "slug", "count", "created_at")


class TagRenameSerializer(serializers.Serializer):
    name = TagNameField()


class TagMergeSerializer(serializers.Serializer):
    sources = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX), min_length=1, max_length=1000
    )
    target = TagNameField()


class ImportJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportJob
        fields = (
            "id",
            "status",
            "source_name",
            "total",
            "done",
            "created",
            "existing",
            "failed",
            "percent",
            "errors",
            "message",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
