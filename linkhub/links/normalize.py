"""URL validation and normalisation, so that the same page saved twice is one link.

What changes: scheme and host case, IDNA hosts, default ports, dot segments, empty paths,
fragments (except single-page-app routes: ``#!/…`` and ``#/…``), percent-encoding (w3lib),
query parameter order, and common tracking parameters.
What does not: path case, trailing slashes (``/a`` and ``/a/`` can be different pages).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from w3lib.url import canonicalize_url

from .models import URL_MAX_LENGTH

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that only say where a click came from. Matched case-insensitively.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "rb_clickid",
        "s_cid",
        "ref_src",
        "ref_url",
        "__s",
        "_ga",
        "_gl",
        "si",
        "spm",
        "wt.mc_id",
        "srsltid",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "itm_")
_HOST_RE = re.compile(r"^[a-z0-9._~!$&'()*+,;=%-]+$", re.IGNORECASE)


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _clean_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host:
        raise ValidationError("The URL has no host name.")
    if ":" in host:  # urlsplit gives IPv6 hosts without their brackets
        try:
            return f"[{ipaddress.IPv6Address(host.strip('[]')).compressed}]"
        except ValueError:
            raise ValidationError("The URL's IPv6 address is not valid.") from None
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError("The URL's host name is not a valid domain name.") from None
    if not _HOST_RE.match(host) or ".." in host or len(host) > 253:
        raise ValidationError("The URL's host name is not a valid domain name.")
    return host


def normalize_url(raw: str) -> str:
    """Return the canonical form of ``raw``, or raise ValidationError with a readable message."""
    if not isinstance(raw, str):
        raise ValidationError("Enter the URL as text.")
    url = raw.strip()
    if not url:
        raise ValidationError("Enter a URL.")
    if any(ch in url for ch in "\x00\r\n\t") or any(ord(ch) < 32 for ch in url):
        raise ValidationError("The URL contains control characters.")
    if len(url) > URL_MAX_LENGTH:
        raise ValidationError(f"The URL is longer than {URL_MAX_LENGTH} characters.")
    if "://" not in url and not url.lower().startswith(("javascript:", "data:", "mailto:", "file:")):
        # "example.com/page" is what people paste; treat it as https.
        if re.match(r"^[\w.-]+\.[a-z]{2,}(?:[:/?#]|$)", url, re.IGNORECASE | re.UNICODE) or re.match(
            r"^[\w.-]+:\d{1,5}(?:[/?#]|$)", url, re.UNICODE
        ):
            url = "https://" + url
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValidationError(f"The URL is malformed: {exc}.") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValidationError("Enter a full URL that starts with http:// or https://.")
    if scheme not in ALLOWED_SCHEMES:
        shown = scheme or "none"
        raise ValidationError(f"Only http and https URLs can be saved (this one's scheme is {shown}).")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("URLs with a user name or password in them cannot be saved.")
    try:
        port = parts.port
    except ValueError:
        raise ValidationError("The URL's port is not a number between 0 and 65535.") from None
    host = _clean_host(parts.hostname or "")
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"

    path = parts.path or "/"
    if "/." in path:
        trailing = path.endswith("/") or path.endswith("/.") or path.endswith("/..")
        path = posixpath.normpath(path)
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        if trailing and path != "/":
            path += "/"
    query = (
        urlencode(
            [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)],
            doseq=True,
        )
        if parts.query
        else ""
    )
    # Fragments only scroll within a page, except "#!/route" and "#/route" in single-page apps.
    fragment = parts.fragment if parts.fragment.startswith(("!", "/")) else ""
    result = canonicalize_url(urlunsplit((scheme, netloc, path, query, "")))
    if fragment:
        result += "#" + quote(fragment, safe="/!?&=:@$'()*+,;-._~%")
    if len(result) > URL_MAX_LENGTH:
        raise ValidationError(f"The URL is longer than {URL_MAX_LENGTH} characters once encoded.")
    return result


def url_domain(url: str) -> str:
    """The host of a normalised URL, without a leading ``www.``."""
    host = urlsplit(url).hostname or ""
    return host[4:] if host.startswith("www.") else host
