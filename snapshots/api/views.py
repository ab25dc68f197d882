"""Snapshots over REST: request, list versions, upload, retry, diff, and owner-only artifacts."""

from __future__ import annotations

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from linkhub.converters import ID_REGEX
from linkhub.links import selectors as link_selectors
from linkhub.parsers import FormParser, MultiPartParser

from .. import selectors, services
from ..models import Snapshot, SnapshotArtifact
from ..serving import artifact_response
from .serializers import ScheduleSerializer, SnapshotSerializer, SnapshotUploadSerializer


class LinkSnapshotRequestView(APIView):
    @extend_schema(request=None, responses={202: SnapshotSerializer})
    def post(self, request, pk: int):
        link = link_selectors.link_get(owner=request.user, pk=pk)
        snapshot = services.snapshot_request(link=link, source=Snapshot.Source.MANUAL, actor=request.user)
        return Response(
            SnapshotSerializer(snapshot, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class LinkSnapshotListView(APIView):
    @extend_schema(responses=SnapshotSerializer(many=True))
    def get(self, request, pk: int):
        link = link_selectors.link_get(owner=request.user, pk=pk)
        rows = selectors.snapshot_list(link=link)
        return Response(SnapshotSerializer(rows, many=True, context={"request": request}).data)


class LinkSnapshotUploadView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=SnapshotUploadSerializer, responses={202: SnapshotSerializer})
    def post(self, request, pk: int):
        link = link_selectors.link_get(owner=request.user, pk=pk)
        data = SnapshotUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        snapshot = services.snapshot_upload(link=link, actor=request.user, upload=data.validated_data["file"])
        return Response(
            SnapshotSerializer(snapshot, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class LinkSnapshotScheduleView(APIView):
    @extend_schema(request=ScheduleSerializer, responses=ScheduleSerializer)
    def put(self, request, pk: int):
        link = link_selectors.link_get(owner=request.user, pk=pk)
        data = ScheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        schedule = services.snapshot_schedule_set(link=link, every_days=data.validated_data["every_days"])
        return Response({"every_days": schedule.every_days if schedule else None})


class SnapshotDetailView(APIView):
    @extend_schema(responses=SnapshotSerializer)
    def get(self, request, pk: int):
        snapshot = selectors.snapshot_get(owner=request.user, pk=pk)
        return Response(SnapshotSerializer(snapshot, context={"request": request}).data)


class SnapshotRetryView(APIView):
    @extend_schema(request=None, responses={202: SnapshotSerializer})
    def post(self, request, pk: int):
        snapshot = services.snapshot_retry(
            snapshot=selectors.snapshot_get(owner=request.user, pk=pk), actor=request.user
        )
        return Response(
            SnapshotSerializer(snapshot, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class SnapshotDiffView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("other", int, required=True)], responses={200: OpenApiTypes.OBJECT}
    )
    def get(self, request, pk: int):
        a = selectors.snapshot_get(owner=request.user, pk=pk)
        other = request.query_params.get("other", "")
        if not re.fullmatch(ID_REGEX, other):
            raise ValidationError({"other": "Give the id of the snapshot to compare with."})
        b = selectors.snapshot_get(owner=request.user, pk=int(other))
        if a.link_id != b.link_id:
            raise ValidationError({"other": "Both snapshots must be versions of the same link."})
        lines = selectors.snapshot_text_diff(a, b)
        return Response(
            {
                "from": {"id": a.pk, "version": a.version},
                "to": {"id": b.pk, "version": b.version},
                "added": sum(1 for x in lines if x.kind == "added"),
                "removed": sum(1 for x in lines if x.kind == "removed"),
                "lines": [{"kind": x.kind, "text": x.text} for x in lines],
            }
        )


class SnapshotArtifactView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "name",
                str,
                OpenApiParameter.PATH,
                enum=[n for n in SnapshotArtifact.Name.values if n != SnapshotArtifact.Name.UPLOAD],
            ),
            OpenApiParameter("download", str, description="1: send the file as an attachment"),
        ],
        # The artifact's own type: image/png, application/pdf, text/html, text/plain, ...
        responses={(200, "*/*"): OpenApiTypes.BINARY},
    )
    def get(self, request, pk: int, name: str):
        snapshot = selectors.snapshot_get(owner=request.user, pk=pk)
        return artifact_response(
            snapshot=snapshot, name=name, download=request.query_params.get("download") == "1"
        )
