from __future__ import annotations

from django import forms

from .models import (
    DESCRIPTION_MAX_LENGTH,
    NOTES_MAX_LENGTH,
    TAG_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    URL_MAX_LENGTH,
)
from .services import BULK_ACTIONS


def split_tags(value: str) -> list[str]:
    """Tags are typed separated by commas; a tag may contain spaces."""
    return [t.strip() for t in (value or "").split(",") if t.strip()]


class LinkForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=URL_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "https://…", "autofocus": True, "inputmode": "url"}),
    )
    title = forms.CharField(max_length=TITLE_MAX_LENGTH, required=False)
    description = forms.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    tags = forms.CharField(
        required=False,
        help_text="Separate tags with commas.",
        widget=forms.TextInput(attrs={"placeholder": "reading, python, to try", "list": "tag-options"}),
    )
    notes = forms.CharField(
        max_length=NOTES_MAX_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    is_read = forms.BooleanField(required=False, label="Already read")
    is_private = forms.BooleanField(required=False, label="Private")

    def clean_tags(self) -> list[str]:
        tags = split_tags(self.cleaned_data.get("tags", ""))
        for t in tags:
            if len(t) > TAG_MAX_LENGTH:
                raise forms.ValidationError(f"Tag “{t[:30]}…” is longer than {TAG_MAX_LENGTH} characters.")
        return tags


class BulkForm(forms.Form):
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)
    action = forms.ChoiceField(choices=[(a, a) for a in BULK_ACTIONS])
    tags = forms.CharField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any integer is allowed here; the service ignores ids that are not the user's.
        self.fields["ids"].valid_value = lambda value: str(value).isdigit()  # type: ignore[attr-defined]


class TagRenameForm(forms.Form):
    name = forms.CharField(max_length=TAG_MAX_LENGTH)


class TagMergeForm(forms.Form):
    sources = forms.TypedMultipleChoiceField(coerce=int, choices=[])
    target = forms.CharField(max_length=TAG_MAX_LENGTH)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sources"].valid_value = lambda value: str(value).isdigit()  # type: ignore[attr-defined]


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Bookmark file (HTML)",
        help_text="The HTML file your browser, Pinboard or linkding exports (Netscape bookmark format).",
    )
