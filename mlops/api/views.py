"""The tag model over REST: suggestions and decisions per link, and the model registry.

Links: the owner, or a reviewer (DESIGN.md, "Decision rights"); anyone else gets a 404.
Registry writes (train, promote, roll back): model owners only (403 for others).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from linkhub.accounts.roles import is_model_owner, is_reviewer
from linkhub.api import Pagination
from linkhub.converters import ID_REGEX
from linkhub.links.models import Link, TagDecision
from linkhub.schema import errors

from .. import selectors
from ..models import AlertEvent, AlertRule, DriftRun, MetricPoint, ModelVersion, Suggestion, TrainingRun
from ..services import registry
from ..services.alerts import AlertStateError, alert_acknowledge, alert_rule_save, alert_timings
from ..services.decisions import decide
from ..services.drift import drift_request
from ..services.training import training_request
from ..training import designs
from .serializers import (
    AlertEventSerializer,
    AlertRuleInSerializer,
    AlertRuleSerializer,
    AlertTimingsSerializer,
    DecisionInSerializer,
    DecisionSerializer,
    DriftRunSerializer,
    MetricPointSerializer,
    ModelVersionSerializer,
    PersonalStatusSerializer,
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
    version = ModelVersion.objects.shared().filter(number=number).first()
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
        numbers: dict[int, int] = {}
        if (version_id := decision.model_version_id) is not None:
            numbers = dict(ModelVersion.objects.filter(pk=int(version_id)).values_list("pk", "number"))
        return Response(
            DecisionSerializer(decision, context={"version_numbers": numbers}).data,
            status=status.HTTP_201_CREATED,
        )


class ModelListView(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: ModelVersionSerializer(many=True), **errors(403)})
    def get(self, request):
        if not _can_read_models(request.user):
            raise PermissionDenied("Only model owners, reviewers and staff see the model registry.")
        rows = (
            ModelVersion.objects.shared()
            .select_related("parent")
            .prefetch_related("stage_events")
            .order_by("-number")
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(ModelVersionSerializer(page, many=True).data)


class ModelDetailView(APIView):
    @extend_schema(responses={200: ModelVersionSerializer, **errors(403)})
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
            if design not in designs.available_designs():
                raise ValidationError({"design": f"Unknown or unavailable design {design!r}."})
        run = training_request(trigger=TrainingRun.Trigger.API, actor=request.user, design=design)
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class TrainingRunView(APIView):
    @extend_schema(responses={200: TrainingRunSerializer, **errors(403)})
    def get(self, request, pk: int):
        if not _can_read_models(request.user):
            raise PermissionDenied("Only model owners, reviewers and staff see training runs.")
        run = TrainingRun.objects.filter(pk=pk, owner__isnull=True).select_related("version").first()
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
        responses={200: MetricPointSerializer(many=True), **errors(403)},
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
            if not re.fullmatch(ID_REGEX, params["version"]):
                raise ValidationError({"version": "A version number, e.g. 3."})
            rows = rows.filter(model_version__number=int(params["version"]))
        since = _since(params)
        if since is not None:
            rows = rows.filter(recorded_at__gte=since)
        return Response(MetricPointSerializer(rows[:5000], many=True).data)


# --- drift and alerts -----------------------------------------------------------------------------
# Reads: model owners, reviewers and staff. Drift checks and rule edits: model owners.
# Acknowledging an alert: model owners and reviewers.


def _readers_only(user, what: str) -> None:
    if not _can_read_models(user):
        raise PermissionDenied(f"Only model owners, reviewers and staff see {what}.")


def _since(params) -> datetime | None:
    if not params.get("since"):
        return None
    try:
        since = parse_datetime(params["since"])
        if since is not None:
            # In UTC: PostgreSQL refuses offsets past ±15:59, which Python allows (up to ±23:59).
            if timezone.is_naive(since):
                since = timezone.make_aware(since)
            since = since.astimezone(UTC)
    except (ValueError, OverflowError):  # well formed but impossible: a month 13, the year 10000
        since = None
    if since is None:
        raise ValidationError({"since": "An ISO 8601 date and time, e.g. 2026-11-01T00:00:00Z."})
    return since


class DriftListView(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: DriftRunSerializer(many=True), **errors(403)})
    def get(self, request):
        """Drift checks, newest first, each with its per-feature results."""
        _readers_only(request.user, "drift checks")
        rows = (
            DriftRun.objects.select_related("reference_version", "requested_by")
            .prefetch_related("results")
            .order_by("-created_at", "-id")
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(DriftRunSerializer(page, many=True).data)


class DriftDetailView(APIView):
    @extend_schema(responses={200: DriftRunSerializer, **errors(403)})
    def get(self, request, pk: int):
        _readers_only(request.user, "drift checks")
        run = (
            DriftRun.objects.select_related("reference_version", "requested_by")
            .prefetch_related("results")
            .filter(pk=pk)
            .first()
        )
        if run is None:
            raise Http404("No such drift check.")
        return Response(DriftRunSerializer(run).data)


class DriftRunView(APIView):
    @extend_schema(request=None, responses={202: DriftRunSerializer})
    def post(self, request):
        """Queue a drift check now (the one already running, if any, is returned)."""
        _owner_only(request.user)
        run = drift_request(trigger=DriftRun.Trigger.API, actor=request.user)
        return Response(DriftRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class AlertListView(APIView):
    pagination_class = Pagination
    STATES = (*AlertEvent.State.values, "open")

    @extend_schema(
        responses={200: AlertEventSerializer(many=True), **errors(403)},
        parameters=[
            OpenApiParameter(
                "state",
                OpenApiTypes.STR,
                description="firing, acknowledged, resolved, or open (not resolved)",
            )
        ],
    )
    def get(self, request):
        """Alert events, newest first."""
        _readers_only(request.user, "alerts")
        rows = AlertEvent.objects.select_related("rule", "acknowledged_by").order_by("-fired_at", "-id")
        state = request.query_params.get("state")
        if state:
            if state not in self.STATES:
                raise ValidationError({"state": f"Use one of: {', '.join(self.STATES)}."})
            rows = rows.filter(state__in=AlertEvent.OPEN) if state == "open" else rows.filter(state=state)
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(AlertEventSerializer(page, many=True).data)


class AlertAckView(APIView):
    @extend_schema(request=None, responses={200: AlertEventSerializer, **errors(409)})
    def post(self, request, pk: int):
        """Acknowledge an alert (model owners and reviewers); a resolved one is a 409."""
        if not (is_model_owner(request.user) or is_reviewer(request.user) or request.user.is_superuser):
            raise PermissionDenied("Only model owners and reviewers acknowledge alerts.")
        event = AlertEvent.objects.filter(pk=pk).first()
        if event is None:
            raise Http404("No such alert.")
        try:
            event = alert_acknowledge(event=event, actor=request.user)
        except AlertStateError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(AlertEventSerializer(event).data)


class AlertTimingsView(APIView):
    @extend_schema(
        responses={200: AlertTimingsSerializer, **errors(403)},
        parameters=[OpenApiParameter("since", OpenApiTypes.DATETIME, description="events fired since")],
    )
    def get(self, request):
        """Mean time to detect, acknowledge and resolve, in seconds."""
        _readers_only(request.user, "alerts")
        return Response(AlertTimingsSerializer(alert_timings(since=_since(request.query_params))).data)


def _rule_changes(request) -> tuple[dict, str]:
    data = AlertRuleInSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    values = dict(data.validated_data)
    reason = values.pop("reason", "")
    # Only what the client sent: a form post leaves out booleans it means to keep.
    return {k: v for k, v in values.items() if k in request.data}, reason


class AlertRuleListView(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: AlertRuleSerializer(many=True), **errors(403)})
    def get(self, request):
        _readers_only(request.user, "alert rules")
        rows = AlertRule.objects.select_related("updated_by").order_by("name")
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(AlertRuleSerializer(page, many=True).data)

    @extend_schema(request=AlertRuleInSerializer, responses={201: AlertRuleSerializer})
    def post(self, request):
        """A new rule (model owners)."""
        _owner_only(request.user)
        changes, reason = _rule_changes(request)
        rule = alert_rule_save(actor=request.user, changes=changes, reason=reason)
        return Response(AlertRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class AlertRuleDetailView(APIView):
    def _rule(self, pk: int) -> AlertRule:
        rule = AlertRule.objects.select_related("updated_by").filter(pk=pk).first()
        if rule is None:
            raise Http404("No such alert rule.")
        return rule

    @extend_schema(responses={200: AlertRuleSerializer, **errors(403)})
    def get(self, request, pk: int):
        _readers_only(request.user, "alert rules")
        return Response(AlertRuleSerializer(self._rule(pk)).data)

    @extend_schema(request=AlertRuleInSerializer, responses=AlertRuleSerializer)
    def patch(self, request, pk: int):
        """Change a rule (model owners): thresholds, ``enabled`` to disable, ``snoozed_until`` to
        snooze (null wakes it up)."""
        _owner_only(request.user)
        rule = self._rule(pk)
        changes, reason = _rule_changes(request)
        rule = alert_rule_save(actor=request.user, rule=rule, changes=changes, reason=reason)
        return Response(AlertRuleSerializer(self._rule(rule.pk)).data)


class PersonalModelView(APIView):
    """The requesting user's personal model: where their suggestions come from now."""

    @extend_schema(responses=PersonalStatusSerializer)
    def get(self, request):
        return Response(PersonalStatusSerializer(selectors.personal_status(user=request.user)).data)
