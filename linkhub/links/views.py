"""Web pages for links, tags, import and export. Parse, call a selector or service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from linkhub.pagination import DeferredJoinPaginator
from linkhub.typing import AuthedRequest

from . import selectors, services
from .api.views import export_response
from .forms import BulkForm, ImportForm, LinkForm, TagMergeForm, TagRenameForm, split_tags

PAGE_SIZE = 50


def _errors_to_form(form, exc: ValidationError) -> None:
    if hasattr(exc, "message_dict"):
        for field, msgs in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, msgs)
    else:
        form.add_error(None, exc.messages)


def _filters(request: HttpRequest) -> selectors.LinkFilters:
    read = request.GET.get("read", "")
    sort = request.GET.get("sort") or ("relevance" if request.GET.get("q") else "newest")
    if sort not in selectors.SORTS and sort != selectors.SORT_RELEVANCE:
        sort = "newest"
    return selectors.LinkFilters(
        q=request.GET.get("q", "")[:500],
        tags=request.GET.getlist("tag"),
        sort=sort,
        is_read={"read": True, "unread": False}.get(read),
        domain=request.GET.get("domain", ""),
        untagged=request.GET.get("untagged") == "1",
    )


@login_required
def link_list(request: AuthedRequest) -> HttpResponse:
    filters = _filters(request)
    page = DeferredJoinPaginator(
        selectors.link_list(owner=request.user, filters=filters), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    page.object_list = selectors.links_attach_tags(list(page.object_list))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "links/list.html",
        {
            "page": page,
            "filters": filters,
            "querystring": params.urlencode(),
            "top_tags": selectors.tag_list(owner=request.user).order_by("-link_count", "name")[:30],
            "sorts": [*selectors.SORTS, selectors.SORT_RELEVANCE],
        },
    )


@login_required
def link_create(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        form = LinkForm(request.POST)
        if form.is_valid():
            try:
                link, created = services.link_create(owner=request.user, **form.cleaned_data)
            except ValidationError as exc:
                _errors_to_form(form, exc)
            else:
                if request.POST.get("return_to_page") == "1":
                    # From the bookmarklet: straight back to the page just saved (an http(s)
                    # URL), with no message left to surprise the user on their next visit.
                    return HttpResponseRedirect(link.url)
                if created:
                    messages.success(request, "Link saved.")
                else:
                    messages.info(
                        request,
                        f"You saved this link before, on {link.created_at:%Y-%m-%d}. "
                        "Any new tags were added to it.",
                    )
                return redirect("links:detail", pk=link.pk)
    else:
        form = LinkForm(
            initial={
                "url": request.GET.get("url", ""),
                "title": request.GET.get("title", "")[:512],
                "description": request.GET.get("description", "")[:2000],
            }
        )
    return render(
        request,
        "links/form.html",
        {
            "form": form,
            "creating": True,
            "from_bookmarklet": request.GET.get("bookmarklet") == "1"
            or request.POST.get("return_to_page") == "1",
            "tag_options": selectors.tag_list(owner=request.user).values_list("name", flat=True)[:500],
        },
    )


@login_required
def link_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    link = selectors.link_get(owner=request.user, pk=pk)
    return render(request, "links/detail.html", {"link": link})


@login_required
def link_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    link = selectors.link_get(owner=request.user, pk=pk)
    if request.method == "POST":
        form = LinkForm(request.POST)
        if form.is_valid():
            try:
                services.link_update(link=link, **form.cleaned_data)
            except ValidationError as exc:
                _errors_to_form(form, exc)
            else:
                messages.success(request, "Link updated.")
                return redirect("links:detail", pk=link.pk)
    else:
        form = LinkForm(
            initial={
                "url": link.url,
                "title": link.title,
                "description": link.description,
                "notes": link.notes,
                "is_read": link.is_read,
                "is_private": link.is_private,
                "tags": ", ".join(t.name for t in link.tag_list),
            }
        )
    return render(
        request,
        "links/form.html",
        {
            "form": form,
            "link": link,
            "creating": False,
            "tag_options": selectors.tag_list(owner=request.user).values_list("name", flat=True)[:500],
        },
    )


@login_required
def link_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    link = selectors.link_get(owner=request.user, pk=pk)
    if request.method == "POST":
        services.link_delete(link=link)
        messages.success(request, "Link deleted.")
        return redirect("links:list")
    return render(request, "links/confirm_delete.html", {"link": link})


@login_required
@require_POST
def link_toggle_read(request: AuthedRequest, pk: int) -> HttpResponse:
    link = selectors.link_get(owner=request.user, pk=pk)
    services.link_update(link=link, is_read=not link.is_read)
    return _back(request, reverse("links:detail", args=[pk]))


def _back(request: HttpRequest, default: str) -> HttpResponse:
    nxt = request.POST.get("next") or request.GET.get("next")
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return HttpResponseRedirect(nxt)
    return HttpResponseRedirect(default)


@login_required
@require_POST
def links_bulk(request: AuthedRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Select at least one link and an action.")
        return _back(request, reverse("links:list"))
    try:
        count = services.links_bulk_update(
            owner=request.user,
            link_ids=form.cleaned_data["ids"],
            action=form.cleaned_data["action"],
            tags=split_tags(form.cleaned_data["tags"]),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{count} link{'s' if count != 1 else ''} updated.")
    return _back(request, reverse("links:list"))


@login_required
def tag_list(request: AuthedRequest) -> HttpResponse:
    return render(
        request,
        "links/tags.html",
        {
            "tags": selectors.tag_list(owner=request.user, q=request.GET.get("q", "")),
            "q": request.GET.get("q", ""),
        },
    )


@login_required
@require_POST
def tag_rename(request: AuthedRequest, pk: int) -> HttpResponse:
    tag = selectors.tag_get(owner=request.user, pk=pk)
    form = TagRenameForm(request.POST)
    if form.is_valid():
        old = tag.name
        try:
            result = services.tag_rename(tag=tag, name=form.cleaned_data["name"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"“{old}” is now “{result.name}”.")
    else:
        messages.error(request, "Enter a new name of at most 100 characters.")
    return redirect("links:tags")


@login_required
@require_POST
def tag_merge(request: AuthedRequest) -> HttpResponse:
    form = TagMergeForm(request.POST)
    if form.is_valid():
        sources = [selectors.tag_get(owner=request.user, pk=pk) for pk in form.cleaned_data["sources"]]
        try:
            target = services.tag_merge(
                owner=request.user, sources=sources, target_name=form.cleaned_data["target"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Merged {len(sources)} tag(s) into “{target.name}”.")
    else:
        messages.error(request, "Select the tags to merge and name the tag to merge them into.")
    return redirect("links:tags")


@login_required
@require_POST
def tag_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    tag = selectors.tag_get(owner=request.user, pk=pk)
    services.tag_delete(tag=tag)
    messages.success(request, f"Tag “{tag.name}” deleted; its links were kept.")
    return redirect("links:tags")


@login_required
def import_page(request: AuthedRequest) -> HttpResponse:
    form = ImportForm()
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = services.import_start(owner=request.user, upload=form.cleaned_data["file"])
            except ValidationError as exc:
                _errors_to_form(form, exc)
            else:
                messages.success(request, f"Importing {job.total} bookmarks from {job.source_name}.")
                return redirect("links:import")
    return render(
        request,
        "links/import.html",
        {"form": form, "jobs": selectors.import_job_list(owner=request.user)[:20]},
    )


@login_required
def export(request: AuthedRequest) -> HttpResponseBase:
    fmt = request.GET.get("format", "netscape")
    if fmt not in ("netscape", "json"):
        return HttpResponseBadRequest("Unknown export format; use netscape or json.")
    return export_response(request, fmt, _filters(request))
