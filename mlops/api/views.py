"""The tag model over REST: suggestions and decisions per link, and the model registry.

Links: the owner, or a reviewer (DESIGN.md, "Decision rights"); anyone else gets a 404.
Registry writes (train, promote, roll back): model owners only (403 for others).
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from linkhub.accounts.roles import is_model_owner, is_reviewer
from linkhub.api import Pagination
from linkhub.links.models import Link

from ..models import MetricPoint, ModelVersion, Suggestion, TagDecision, TrainingRun
from ..services import registry
from ..services.decisions import decide
from ..services.training import training_request
from .serializers import (
    DecisionInSerializer,
    DecisionSerializer,
    MetricPointSerializer,
    ModelVersionSerializer,
    PromoteSerializer,
    RollbackSerializer,
    SuggestionSerializer,
    TrainingRunSerializer,
    TrainSerializer,
)


def _link_for(user, pk: int) -> Link:
    """The link if the user owns it or reviews; otherwise it does not exist for them."""
    link = Link.objects.filter(pk=pk).first()
    if link is None or (link.owner_id != user.pk and not (is_reviewer(user) or user.is_superuser)):
        raise Http404("No such link.")
    return link


def _owner_only(user) -> None:
    if not (is_model_owner(user) or user.is_superuser):
        raise PermissionDenied("Only model owners may do this.")


def _can_read_models(user) -> bool:
    return is_model_owner(user) or is_reviewer(user) or user.is_staff


def _version(number: int) -> ModelVersion:
    version = ModelVersion.objects.filter(number=number).first()
    if version is None:
        raise Http404("No such model version.")
    return version


class LinkSuggestionsView(APIView):
    @extend_schema(
        responses=SuggestionSerializer(many=True),
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, description="e.g. proposed; default: all")],
    )
    def get(self, request, pk: int):
        link = _link_for(request.user, pk)
        rows = Suggestion.objects.filter(link=link, visible=True).select_related("model_version")
        if request.query_params.get("status"):
            rows = rows.filter(status=request.query_params["status"])
        return Response(SuggestionSerializer(rows.order_by("-score"), many=True).data)


class LinkDecisionsView(APIView):
    @extend_schema(responses=DecisionSerializer(many=True))
    def get(self, request, pk: int):
        """The audit trail of the link's tags, newest first."""
        link = _link_for(request.user, pk)
        rows = list(TagDecision.objects.filter(link_id=link.pk).order_by("-at", "-id")[:500])
        numbers = dict(
            ModelVersion.objects.filter(
                pk__in={r.model_version_id for r in rows if r.model_version_id}
            ).values_list("pk", "number")
        )
        return Response(DecisionSerializer(rows, many=True, context={"version_numbers": numbers}).data)

    @extend_schema(request=DecisionInSerializer, responses={201: DecisionSerializer})
    def post(self, request, pk: int):
        link = _link_for(request.user, pk)
        data = DecisionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = decide(
            link=link,
            tag=data.validated_data["tag"],
            action=data.validated_data["action"],
            actor=request.user,
            reason=data.validated_data["reason"],
            source="api",
        )
        version = decision.model_version if decision.model_version_id else None
        numbers = {version.pk: version.number} if version is not None else {}
        return Response(
            DecisionSerializer(decision, context={"version_numbers": numbers}).data,
            status=status.HTTP_201_CREATED,
        )


class ModelListView(APIView):
    pagination_class = Pagination

    @extend_schema(responses=ModelVersionSerializer(many=True))
    def get(self, request):
        if not _can_read_models(request.user):
            raise PermissionDenied("Only model owners, reviewers and staff see the model registry.")
        rows = (
            ModelVersion.objects.select_related("parent").prefetch_related("stage_events").order_by("-number")
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(ModelVersionSerializer(page, many=True).data)


class ModelDetailView(APIView):
    @extend_schema(responses=ModelVersionSerializer)
    def get(self, request, number: int):
        if not _can_read_models(request.user):
            raise PermissionDenied("Only model owners, reviewers and staff see the model registry.")
        return Response(ModelVersionSerializer(_version(number)).data)


class ModelTrainView(APIView):
    @extend_schema(request=TrainSerializer, responses={202: TrainingRunSerializer})
    def post(self, request):
        _owner_only(request.user)
        data = TrainSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        design = data.validated_data["design"]
        if design:
            from ..training import designs  # the design names; scikit-learn stays in mlops/training

            if design not in designs.available_designs():
                raise ValidationError({"design": f"Unknown or unavailable design {design!r}."})
        run = training_request(trigger=TrainingRun.Trigger.API, actor=request.user, design=design)
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class TrainingRunView(APIView):
    @extend_schema(responses=TrainingRunSerializer)
    def get(self, request, pk: int):
        if not _can_read_models(request.user):
            raise PermissionDenied("Only model owners, reviewers and staff see training runs.")
        run = TrainingRun.objects.filter(pk=pk).select_related("version").first()
        if run is None:
            raise Http404("No such training run.")
        return Response(TrainingRunSerializer(run).data)


class ModelPromoteView(APIView):
    @extend_schema(request=PromoteSerializer, responses=ModelVersionSerializer)
    def post(self, request, number: int):
        _owner_only(request.user)
        data = PromoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = registry.stage_change(
            version=_version(number),
            to_stage=data.validated_data["stage"],
            actor=request.user,
            reason=data.validated_data["reason"],
        )
        return Response(ModelVersionSerializer(_version(version.number)).data)


class ModelRollbackView(APIView):
    @extend_schema(request=RollbackSerializer, responses=ModelVersionSerializer)
    def post(self, request, number: int):
        _owner_only(request.user)
        data = RollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = _version(number)
        registry.rollback(version=version, actor=request.user, reason=data.validated_data["reason"])
        return Response(ModelVersionSerializer(_version(number)).data)


class MetricsView(APIView):
    @extend_schema(
        responses=MetricPointSerializer(many=True),
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR),
            OpenApiParameter("version", OpenApiTypes.INT),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
        ],
    )
    def get(self, request):
        if not _can_read_models(request.user):
            raise PermissionDenied("Only model owners, reviewers and staff see model metrics.")
        rows = MetricPoint.objects.select_related("model_version").order_by("recorded_at", "id")
        params = request.query_params
        if params.get("name"):
            rows = rows.filter(name=params["name"])
        if params.get("version"):
            if not params["version"].isdigit():
                raise ValidationError({"version": "A version number, e.g. 3."})
            rows = rows.filter(model_version__number=int(params["version"]))
        if params.get("since"):
            since: datetime | None = parse_datetime(params["since"])
            if since is None:
                raise ValidationError({"since": "An ISO 8601 date and time, e.g. 2026-11-01T00:00:00Z."})
            rows = rows.filter(recorded_at__gte=since)
        return Response(MetricPointSerializer(rows[:5000], many=True).data)
