from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from .models import TrainingConsent

CONSENT_HELP = (
    "What your links, tags and decisions may train. You can change it at any time in your "
    "account settings; going down a level takes effect at each model's next training."
)


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional. Used only for password resets.")
    training_consent = forms.ChoiceField(
        choices=TrainingConsent.choices,
        widget=forms.RadioSelect,
        label="Tag model training",
        help_text=CONSENT_HELP,
    )

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        model = get_user_model()
        fields = ("username", "email")


class ConsentForm(forms.Form):
    training_consent = forms.ChoiceField(
        choices=TrainingConsent.choices, widget=forms.RadioSelect, label="Tag model training"
    )


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, label="Token name", initial="My script")
