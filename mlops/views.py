"""Web pages of the tag model: decisions on suggestion chips, the model list with training and
stage changes, model cards, and the dashboard (charts of the model's metrics, drift, stage
changes and alerts, drawn in the browser from one JSON view). Parse, call a selector or a
service, render.

The chip buttons post here with ``fetch`` (JSON back, with the link's chips re-rendered) or, when
JavaScript is off, as a plain form (a redirect back, with a message). The model pages are for
model owners; other staff may look but not act; everyone else gets a 404. The dashboard is
also open to reviewers, who may acknowledge alerts; only model owners snooze them.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from linkhub.links import selectors as link_selectors
from linkhub.links.models import TagDecision
from linkhub.typing import AuthedRequest

from . import dashboard as dashboard_selectors
from . import selectors
from .models import TrainingRun
from .services import alerts, decisions, registry, training
from .templatetags.mlops_tags import chips_context

VERSIONS_PER_PAGE = 50
SNOOZE = timedelta(hours=1)
DONE: dict[str, str] = {
    TagDecision.Action.ACCEPT.value: "Accepted “{tag}”.",
    TagDecision.Action.REJECT.value: "Rejected “{tag}”; it will not be suggested for this link again.",
    TagDecision.Action.ADD.value: "Kept “{tag}”.",
    TagDecision.Action.REMOVE.value: "Removed “{tag}”.",
}


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(request: HttpRequest, default: str) -> HttpResponse:
    nxt = request.POST.get("next") or request.GET.get("next")
    if nxt and url_has_allowed_host_and_scheme(
        nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(nxt)
    return HttpResponseRedirect(default)


def _message(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "You may not do this."


# --- suggestion chips -------------------------------------------------------------------------


@login_required
@require_POST
def suggestion_decide(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    """Accept or reject a suggestion (or confirm or remove a tag the model applied) on one of
    the user's own links; another user's link is a 404."""
    link = link_selectors.link_get(owner=request.user, pk=pk)
    tag = request.POST.get("tag", "")[:200]
    try:
        decision = decisions.decide(
            link=link,
            tag=tag,
            action=action,
            actor=request.user,
            reason=request.POST.get("reason", "")[:2000],
            source=TagDecision.Source.UI,
        )
    except (ValidationError, PermissionDenied) as exc:
        text = _message(exc)
        if _wants_json(request):
            return JsonResponse({"detail": text}, status=403 if isinstance(exc, PermissionDenied) else 400)
        messages.error(request, text)
        return _back(request, reverse("links:detail", args=[pk]))
    text = DONE.get(decision.action, "Saved.").format(tag=decision.tag_name)
    if _wants_json(request):
        link = link_selectors.link_get(owner=request.user, pk=pk)  # its tags as they are now
        chips = selectors.suggestions_open(link_ids=[link.pk])[link.pk]
        html = render_to_string(
            "mlops/chips.html",
            chips_context(link, chips, detail=request.POST.get("view") == "detail"),
            request=request,
        )
        return JsonResponse(
            {"detail": text, "tag": decision.tag_name, "action": decision.action, "html": html}
        )
    messages.success(request, text)
    return _back(request, reverse("links:detail", args=[pk]))


# --- model pages ------------------------------------------------------------------------------


@login_required
@require_GET
def model_list(request: AuthedRequest) -> HttpResponse:
    access = selectors.models_access(request.user)
    page = Paginator(selectors.model_version_list(), VERSIONS_PER_PAGE).get_page(request.GET.get("page"))
    selectors.versions_attach_actions(page.object_list)
    return render(
        request,
        "mlops/model_list.html",
        {
            "page": page,
            "can_manage": access == "manage",
            "policy": registry.policy_get(),
            "runs": selectors.training_run_list(),
        },
    )


@login_required
@require_GET
def model_card(request: AuthedRequest, number: int) -> HttpResponse:
    access = selectors.models_access(request.user)
    version = selectors.model_version_get(number=number)
    selectors.versions_attach_actions([version])
    context = selectors.model_card(version, policy=registry.policy_get())
    return render(request, "mlops/model_card.html", {**context, "can_manage": access == "manage"})


@login_required
@require_GET
def model_card_markdown(request: AuthedRequest, number: int) -> HttpResponse:
    selectors.models_access(request.user)
    version = selectors.model_version_get(number=number)
    text = render_to_string(
        "mlops/model_card.md", selectors.model_card(version, policy=registry.policy_get())
    )
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="v{version.number}.md"'
    return response


@login_required
@require_POST
def train_now(request: AuthedRequest) -> HttpResponse:
    selectors.models_access(request.user)
    asked = timezone.now()
    try:
        run = training.training_request(trigger=TrainingRun.Trigger.MANUAL, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _message(exc))
    else:
        if run.created_at >= asked:
            messages.success(request, f"Training run {run.pk} is queued.")
        else:
            messages.info(request, f"Training run {run.pk} is already {run.get_status_display()}.")
    return _back(request, reverse("mlops:models"))


@login_required
@require_GET
def training_progress(request: AuthedRequest, pk: int) -> JsonResponse:
    """A training run's progress for the page's progress bar."""
    selectors.models_access(request.user)
    run = selectors.training_run_get(pk=pk)
    return JsonResponse(
        {
            "id": run.pk,
            "status": run.status,
            "status_label": run.get_status_display(),
            "finished": run.is_finished,
            "done": run.done,
            "total": run.total,
            "message": run.message,
            "version": run.version.number if run.version is not None else None,
        }
    )


@login_required
@require_POST
def stage_change(request: AuthedRequest, number: int) -> HttpResponse:
    selectors.models_access(request.user)
    version = selectors.model_version_get(number=number)
    to_stage = request.POST.get("stage", "")
    try:
        registry.stage_change(
            version=version, to_stage=to_stage, actor=request.user, reason=request.POST.get("reason", "")
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(request, f"v{version.number} is now {to_stage}.")
    return _back(request, reverse("mlops:models"))


@login_required
@require_POST
def rollback(request: AuthedRequest, number: int) -> HttpResponse:
    selectors.models_access(request.user)
    version = selectors.model_version_get(number=number)
    try:
        serving = registry.rollback(
            version=version, actor=request.user, reason=request.POST.get("reason", "")
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _message(exc))
    else:
        if serving.pk == version.pk:
            messages.success(request, f"v{version.number} was rolled back; it is now {serving.stage}.")
        else:
            messages.success(
                request, f"v{version.number} was rolled back; v{serving.number} is in production again."
            )
    return _back(request, reverse("mlops:models"))


# --- the dashboard ----------------------------------------------------------------------------


@login_required
@require_GET
def dashboard(request: AuthedRequest) -> HttpResponse:
    """The page: the charts' frames (``dashboard.js`` fills them from ``dashboard_data``) and the
    open alerts, with their buttons for those who may use them."""
    access = selectors.dashboard_access(request.user)
    return render(
        request,
        "mlops/dashboard.html",
        {
            "alerts": dashboard_selectors.alerts_open(),
            "can_acknowledge": selectors.may_acknowledge_alerts(access),
            "can_snooze": selectors.may_snooze_alerts(access),
            "can_see_versions": selectors.can_see_models(request.user),
            "online_metrics": dashboard_selectors.ONLINE_METRICS,
            "window_days": dashboard_selectors.WINDOW_DAYS,
            "snooze_minutes": int(SNOOZE.total_seconds() // 60),
            "now": timezone.now(),
        },
    )


@login_required
@require_GET
@never_cache
def dashboard_data(request: AuthedRequest) -> JsonResponse:
    """Every series the dashboard's charts draw (see ``mlops.dashboard.dashboard_data``)."""
    selectors.dashboard_access(request.user)
    return JsonResponse(dashboard_selectors.dashboard_data())


@login_required
@require_POST
def alert_acknowledge(request: AuthedRequest, pk: int) -> HttpResponse:
    access = selectors.dashboard_access(request.user)
    event = dashboard_selectors.alert_event_get(pk=pk)
    if not selectors.may_acknowledge_alerts(access):
        messages.error(request, "Only model owners and reviewers may acknowledge alerts.")
        return _back(request, reverse("mlops:dashboard"))
    try:
        alerts.alert_acknowledge(event=event, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _message(exc))
    except alerts.AlertStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Acknowledged the alert of “{event.rule.name}”.")
    return _back(request, reverse("mlops:dashboard"))


@login_required
@require_POST
def alert_snooze(request: AuthedRequest, pk: int) -> HttpResponse:
    """Snooze an alert rule for an hour (``SNOOZE``)."""
    access = selectors.dashboard_access(request.user)
    rule = dashboard_selectors.alert_rule_get(pk=pk)
    if not selectors.may_snooze_alerts(access):
        messages.error(request, "Only model owners may snooze alert rules.")
        return _back(request, reverse("mlops:dashboard"))
    until = timezone.now() + SNOOZE
    try:
        alerts.alert_snooze(
            rule=rule, until=until, actor=request.user, reason="Snoozed for an hour on the dashboard."
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _message(exc))
    else:
        local = timezone.localtime(until)
        messages.success(request, f"Snoozed “{rule.name}” until {local:%Y-%m-%d %H:%M}.")
    return _back(request, reverse("mlops:dashboard"))
