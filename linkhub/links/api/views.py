"""Links, tags, imports and export over REST. Parse, call a selector or service, serialize."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from linkhub.converters import ID_REGEX
from linkhub.parsers import FormParser, MultiPartParser
from linkhub.schema import errors

from .. import selectors, services
from ..bookmarks import render_json, render_netscape
from ..exporting import export_items
from .serializers import (
    ImportJobSerializer,
    ImportUploadSerializer,
    LinkBulkSerializer,
    LinkCreateSerializer,
    LinkReplaceSerializer,
    LinkSerializer,
    LinkUpdateSerializer,
    TagMergeSerializer,
    TagRenameSerializer,
    TagSerializer,
    link_row_data,
)

LIST_PARAMETERS = [
    OpenApiParameter(
        "q", str, description="Full-text search: title, description, URL, notes, snapshot text."
    ),
    OpenApiParameter(
        "tag", str, many=True, description="Only links with all of these tags (repeat the parameter)."
    ),
    OpenApiParameter("sort", str, enum=[*selectors.SORTS, selectors.SORT_RELEVANCE]),
    OpenApiParameter("is_read", bool),
    OpenApiParameter("domain", str),
    OpenApiParameter("untagged", bool),
    OpenApiParameter("page_size", int),
]

_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _bool_param(request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return _BOOL[raw.lower()]
    except KeyError:
        raise ValidationError({name: "Use true or false."}) from None


def link_filters_from_request(request) -> selectors.LinkFilters:
    params = request.query_params
    sort = params.get("sort") or ("relevance" if params.get("q") else "newest")
    if sort not in selectors.SORTS and sort != selectors.SORT_RELEVANCE:
        raise ValidationError(
            {"sort": f"Unknown sort; use one of {', '.join([*selectors.SORTS, 'relevance'])}."}
        )
    q = params.get("q", "")
    if len(q) > 500:
        raise ValidationError({"q": "The search is longer than 500 characters."})
    return selectors.LinkFilters(
        q=q,
        tags=params.getlist("tag"),
        sort=sort,
        is_read=_bool_param(request, "is_read"),
        domain=params.get("domain", ""),
        untagged=bool(_bool_param(request, "untagged")),
    )


@extend_schema_view(
    list=extend_schema(parameters=LIST_PARAMETERS),
    create=extend_schema(request=LinkCreateSerializer, responses={201: LinkSerializer, 200: LinkSerializer}),
    partial_update=extend_schema(request=LinkUpdateSerializer, responses=LinkSerializer),
    update=extend_schema(request=LinkReplaceSerializer, responses=LinkSerializer),
)
class LinkViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = LinkSerializer
    lookup_value_converter = "id"
    lookup_value_regex = ID_REGEX

    def get_queryset(self):
        return selectors.link_list(owner=self.request.user, filters=link_filters_from_request(self.request))

    def get_object(self):
        return selectors.link_get(owner=self.request.user, pk=self.kwargs["pk"])

    def list(self, request):
        # Rows, not model instances: building 100 Links and their tags was most of the cost.
        rows = self.paginate_queryset(self.get_queryset().values(*selectors.LIST_FIELDS))
        selectors.link_rows_attach_tags(rows)
        return self.get_paginated_response([link_row_data(row) for row in rows])

    def create(self, request):
        data = LinkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link, created = services.link_create(owner=request.user, **data.validated_data)
        link = selectors.link_get(owner=request.user, pk=link.pk)
        return Response(
            LinkSerializer(link).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def update(self, request, pk=None):
        """PUT replaces the whole link: ``url`` is required, and what is left out is reset to
        empty (no tags, not read, not private)."""
        return self._save(request, LinkReplaceSerializer(data=request.data))

    def partial_update(self, request, pk=None):
        """PATCH changes only the fields sent."""
        return self._save(request, LinkUpdateSerializer(data=request.data, partial=True))

    def _save(self, request, data):
        link = self.get_object()  # another user's link is a 404 before its body is looked at
        data.is_valid(raise_exception=True)
        link = services.link_update(link=link, **data.validated_data)
        return Response(LinkSerializer(selectors.link_get(owner=request.user, pk=link.pk)).data)

    def destroy(self, request, pk=None):
        services.link_delete(link=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=LinkBulkSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        data = LinkBulkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        count = services.links_bulk_update(
            owner=request.user,
            link_ids=data.validated_data["ids"],
            action=data.validated_data["action"],
            tags=data.validated_data["tags"],
        )
        return Response({"updated": count})


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("q", str, description="Tags whose name contains this.")]),
    partial_update=extend_schema(request=TagRenameSerializer, responses=TagSerializer),
)
class TagViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TagSerializer
    lookup_value_converter = "id"
    lookup_value_regex = ID_REGEX

    def get_queryset(self):
        return selectors.tag_list(owner=self.request.user, q=self.request.query_params.get("q", ""))

    def partial_update(self, request, pk=None):
        """Rename a tag. Renaming to a name the user already has merges the two."""
        data = TagRenameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = services.tag_rename(
            tag=selectors.tag_get(owner=request.user, pk=pk), name=data.validated_data["name"]
        )
        return Response(TagSerializer(self.get_queryset().get(pk=tag.pk)).data)

    def destroy(self, request, pk=None):
        services.tag_delete(tag=selectors.tag_get(owner=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=TagMergeSerializer, responses={200: TagSerializer, **errors(404)})
    @action(detail=False, methods=["post"])
    def merge(self, request):
        data = TagMergeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sources = [selectors.tag_get(owner=request.user, pk=pk) for pk in data.validated_data["sources"]]
        target = services.tag_merge(
            owner=request.user, sources=sources, target_name=data.validated_data["target"]
        )
        return Response(TagSerializer(self.get_queryset().get(pk=target.pk)).data)


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser]
    lookup_value_converter = "id"
    lookup_value_regex = ID_REGEX

    def get_queryset(self):
        return selectors.import_job_list(owner=self.request.user)

    def get_object(self):
        return selectors.import_job_get(owner=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=ImportUploadSerializer, responses={202: ImportJobSerializer})
    def create(self, request):
        data = ImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.import_start(owner=request.user, upload=data.validated_data["file"])
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ExportView(APIView):
    def perform_content_negotiation(self, request, force=False):
        # ?format= picks the export format here, not one of DRF's renderers.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["netscape", "json"]), *LIST_PARAMETERS[:5]],
        responses={(200, "text/html"): OpenApiTypes.STR, (200, "application/json"): OpenApiTypes.OBJECT},
    )
    def get(self, request):
        return export_response(
            request, request.query_params.get("format", "netscape"), link_filters_from_request(request)
        )


def export_response(request, fmt: str, filters: selectors.LinkFilters) -> StreamingHttpResponse:
    if fmt not in ("netscape", "json"):
        raise ValidationError({"format": "Use netscape or json."})
    items = export_items(owner=request.user, filters=filters)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    if fmt == "json":
        body, ctype, name = (
            render_json(items, exported_at=timezone.now()),
            "application/json",
            f"linkhub-{stamp}.json",
        )
    else:
        body, ctype, name = render_netscape(items), "text/html; charset=utf-8", f"linkhub-{stamp}.html"
    response = StreamingHttpResponse(body, content_type=ctype)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
