"""Account pages: sign-up, settings (training consent, API tokens, bookmarklet)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from linkhub.typing import AuthedRequest

from . import selectors, services
from .forms import ConsentForm, SignupForm, TokenCreateForm
from .models import ConsentChange, TrainingConsent

CONSENT_SAVED = {
    TrainingConsent.NONE: "Your links and decisions no longer train any model.",
    TrainingConsent.OWN: "Your links and decisions now train your personal model only.",
    TrainingConsent.SHARED: "Your links and decisions now train your personal model and the shared model.",
}


def signup(request: HttpRequest) -> HttpResponse:
    if not settings.SIGNUP_OPEN:
        raise Http404("Sign-up is closed on this server.")
    if request.user.is_authenticated:
        return redirect("links:list")
    form = SignupForm(request.POST or None, initial={"training_consent": settings.DEFAULT_TRAINING_CONSENT})
    if request.method == "POST" and form.is_valid():
        user = services.user_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data.get("email", ""),
            password=form.cleaned_data["password1"],
            training_consent=form.cleaned_data["training_consent"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome to LinkHub. Save your first link below.")
        return redirect("links:create")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def account(request: AuthedRequest) -> HttpResponse:
    consent = selectors.training_consent_get(user=request.user)
    new_key = request.session.pop("new_token_key", None)
    return render(
        request,
        "accounts/account.html",
        {
            "consent_form": ConsentForm(initial={"training_consent": consent}),
            "consent": consent,
            "consent_label": TrainingConsent(consent).label,
            "token_form": TokenCreateForm(),
            "tokens": selectors.api_token_list(user=request.user),
            "new_key": new_key,
            "bookmarklet_base": request.build_absolute_uri("/links/new/"),
        },
    )


@login_required
@require_POST
def consent_update(request: AuthedRequest) -> HttpResponse:
    form = ConsentForm(request.POST)
    if form.is_valid():
        value = form.cleaned_data["training_consent"]
        services.training_consent_set(
            user=request.user, actor=request.user, consent=value, source=ConsentChange.Source.UI
        )
        messages.success(request, CONSENT_SAVED[value])
    return redirect("accounts:settings")


@login_required
@require_POST
def token_create(request: AuthedRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if form.is_valid():
        _, key = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        # Shown once on the next page, then gone.
        request.session["new_token_key"] = key
    else:
        messages.error(request, "Give the token a name of at most 100 characters.")
    return redirect("accounts:settings")


@login_required
@require_POST
def token_revoke(request: AuthedRequest, token_id: int) -> HttpResponse:
    token = services.api_token_revoke(user=request.user, token_id=token_id)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("accounts:settings")
