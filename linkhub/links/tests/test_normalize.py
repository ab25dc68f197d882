"""URL normalisation: the same page saved twice must be one link; bad URLs get a clear reason."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from linkhub.links.normalize import normalize_url, url_domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM/", "http://example.com/"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("https://example.com/a#section", "https://example.com/a"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a/b/", "https://example.com/a/b/"),
        ("https://example.com/Path/Case", "https://example.com/Path/Case"),
        ("https://example.com/?b=2&a=1", "https://example.com/?a=1&b=2"),
        ("https://example.com/?utm_source=x&utm_medium=y&id=3", "https://example.com/?id=3"),
        ("https://example.com/?fbclid=abc&gclid=def", "https://example.com/"),
        ("https://example.com/?UTM_Campaign=x&q=1", "https://example.com/?q=1"),
        ("https://example.com/?q=a%20b", "https://example.com/?q=a+b"),
        ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
        ("  https://example.com/  ", "https://example.com/"),
        ("example.com/page", "https://example.com/page"),
        ("https://example.com./", "https://example.com/"),
        ("http://[0:0:0:0:0:0:0:1]:8080/x", "http://[::1]:8080/x"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/"),
        ("localhost:8000/admin", "https://localhost:8000/admin"),
        ("https://app.example/#!/inbox/3", "https://app.example/#!/inbox/3"),
        ("https://app.example/#/settings?tab=2", "https://app.example/#/settings?tab=2"),
        ("https://app.example/page#heading", "https://app.example/page"),
    ],
)
def test_normalize(raw, expected):
    assert normalize_url(raw) == expected


def test_equivalent_spellings_normalise_to_one_url():
    spellings = [
        "https://www.example.com/docs/",
        "HTTPS://WWW.EXAMPLE.COM:443/docs/",
        "https://www.example.com/docs/#intro",
        "https://www.example.com/docs/?utm_source=newsletter",
        "https://www.example.com/./docs/",
    ]
    assert len({normalize_url(u) for u in spellings}) == 1


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("javascript:alert(document.cookie)", "http and https"),
        ("JaVaScRiPt:alert(1)", "http and https"),
        ("data:text/html;base64,PHNjcmlwdD4=", "http and https"),
        ("file:///etc/passwd", "http and https"),
        ("ftp://example.com/", "http and https"),
        ("mailto:a@example.com", "http and https"),
        ("not a url", "http"),
        ("", "Enter a URL"),
        ("   ", "Enter a URL"),
        ("http://", "no host"),
        ("http:///path", "no host"),
        ("https://exa mple.com/", "not a valid domain"),
        ("https://exa<mple.com/", "not a valid domain"),
        ("https://a..b/", "not a valid domain"),
        ("https://example.com:70000/", "port"),
        ("https://example.com:abc/", "port"),
        ("https://user:pass@example.com/", "user name or password"),
        ("https://example.com/\r\nSet-Cookie: x=1", "control characters"),
        ("https://example.com/\x00", "control characters"),
        ("http://[::g]/", "malformed"),
        ("https://example.com/" + "x" * 2100, "longer than"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(raw, fragment):
    with pytest.raises(ValidationError) as exc:
        normalize_url(raw)
    assert fragment.lower() in " ".join(exc.value.messages).lower()


def test_non_string_is_refused():
    with pytest.raises(ValidationError):
        normalize_url(None)  # type: ignore[arg-type]


def test_url_domain_drops_www():
    assert url_domain("https://www.example.com/a") == "example.com"
    assert url_domain("https://docs.python.org/3/") == "docs.python.org"
