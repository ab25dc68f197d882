from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional. Used only for password resets.")
    share_for_training = forms.BooleanField(
        required=False,
        label="Let my tags help train the shared tag model",
        help_text=(
            "Off by default. When on, the tags you set and the suggestions you accept or reject "
            "are used to train the model that suggests tags to everyone. You can change this at "
            "any time in your account settings."
        ),
    )

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        model = get_user_model()
        fields = ("username", "email")


class ConsentForm(forms.Form):
    share_for_training = forms.BooleanField(
        required=False, label="Let my tags help train the shared tag model"
    )


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, label="Token name", initial="My script")
