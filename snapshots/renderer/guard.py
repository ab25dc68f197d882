"""The address guard: may the renderer connect to this host?

The rule (docs/snapshots.md, "Security"): the renderer never reaches private, loopback, link-local,
multicast or reserved addresses. The decision is made on the *resolved* IP, never on the spelling
of the host, so ``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]`` or a DNS name pointing at
``10.0.0.1`` are all caught. The guard proxy (``proxy.py``) resolves each host once through
:func:`check_host` and connects to exactly the IPs it returned, which is what makes DNS rebinding
useless: there is no second lookup between the check and the connect.

Tests reach their own local server only through ``settings.SNAPSHOT_ALLOWED_NETWORKS``.
"""

from __future__ import annotations

import ipaddress
import socket
import string
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = {"http": 80, "https": 443}


class BlockedAddress(Exception):
    """The host resolves to an address the renderer must not reach."""

    def __init__(self, host: str, ip: str | None, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.ip = ip
        self.reason = reason


class ResolutionFailed(Exception):
    """The host could not be resolved (DNS failure, or a host no browser would accept)."""

    def __init__(self, host: str, detail: str = "") -> None:
        super().__init__(f"cannot resolve {host}: {detail}" if detail else f"cannot resolve {host}")
        self.host = host
        self.detail = detail


def _networks(table: Sequence[tuple[str, str]]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(cidr), label) for cidr, label in table)


# Explicit tables, because what ``ipaddress`` calls private or global changed between Python patch
# releases (3.11.7 still calls 2002::/16 and 64:ff9b:1::/48 global). First match names the reason;
# from the IANA special-purpose registries, plus the cloud metadata endpoints called out by name.
_V4_BLOCKED = _networks(
    [
        ("169.254.169.254/32", "a cloud metadata address"),
        ("100.100.100.200/32", "a cloud metadata address"),
        ("0.0.0.0/8", 'an unspecified ("this network") address'),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol assignment address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay anycast address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
    ]
)
_V6_BLOCKED = _networks(
    [
        ("fd00:ec2::254/128", "a cloud metadata address"),
        ("::/128", "the unspecified address"),
        ("::1/128", "the loopback address"),
        ("::ffff:0:0:0/96", "an IPv4-translated address"),
        ("::/96", "a deprecated IPv4-compatible address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001::/32", "a Teredo address"),
        ("2001:db8::/32", "a documentation address"),
        ("2001::/23", "an IETF protocol assignment address"),
        ("2002::/16", "a 6to4 address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "a segment routing (SRv6) address"),
        ("fc00::/7", "a unique local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a deprecated site-local address"),
        ("ff00::/8", "a multicast address"),
    ]
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Only 2000::/3 is allocated for global unicast; NAT64's well-known prefix is handled before this.
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


def allowed_networks() -> list[IPNetwork]:
    """The networks tests may reach despite the rules, from ``settings.SNAPSHOT_ALLOWED_NETWORKS``.

    Read on every call, so ``override_settings`` and the pytest ``settings`` fixture take effect.
    """
    raw = getattr(settings, "SNAPSHOT_ALLOWED_NETWORKS", None) or []
    if isinstance(raw, str):
        raw = raw.split(",")
    networks: list[IPNetwork] = []
    for item in raw:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"SNAPSHOT_ALLOWED_NETWORKS: {text!r} is not a valid CIDR network ({exc})"
            ) from exc
    return networks


def _as_ip(ip: str | IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    text = ip.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return ipaddress.ip_address(text)


def _is_allowed(addr: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    # An IPv4-mapped address *is* the IPv4 address on a dual-stack socket, so it is allowed
    # exactly when its IPv4 form is. NAT64, 6to4 and Teredo go through a gateway: not the same host.
    candidates: list[IPAddress] = [addr]
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        candidates.append(addr.ipv4_mapped)
    return any(a.version == net.version and a in net for a in candidates for net in allowed)


def _table_reason(addr: IPAddress) -> str | None:
    table = _V4_BLOCKED if isinstance(addr, ipaddress.IPv4Address) else _V6_BLOCKED
    for network, label in table:
        if addr.version == network.version and addr in network:
            return label
    return None


def _property_reason(addr: IPAddress) -> str | None:
    """A safety net behind the tables, from the standard library's own classification."""
    checks = [
        (addr.is_unspecified, "an unspecified address"),
        (addr.is_loopback, "a loopback address"),
        (addr.is_link_local, "a link-local address"),
        (addr.is_multicast, "a multicast address"),
        (addr.is_private, "a private address"),
        (addr.is_reserved, "a reserved address"),
        (not addr.is_global, "not a global address"),
    ]
    return next((label for hit, label in checks if hit), None)


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 transition address carries, and the name of the mechanism."""
    if addr in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.sixtofour is not None:
        return "6to4", addr.sixtofour
    if addr.teredo is not None:
        # ipaddress already undoes Teredo's obfuscation (the client address is stored inverted).
        return "Teredo", addr.teredo[1]
    return None


def _block_reason(addr: IPAddress) -> str | None:
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            inner = _block_reason(addr.ipv4_mapped)
            return f"an IPv4-mapped form of {addr.ipv4_mapped}, {inner}" if inner else None
        embedded = _embedded_ipv4(addr)
        if embedded is not None:
            mechanism, v4 = embedded
            inner = _block_reason(v4)
            if inner:
                return f"a {mechanism} address embedding {v4}, {inner}"
            if mechanism == "NAT64":
                # The well-known NAT64 prefix is how IPv6-only networks reach public IPv4 sites.
                return None
        reason = _table_reason(addr)
        if reason is None and addr not in _V6_GLOBAL_UNICAST:
            reason = "outside the global unicast range"
        return reason or _property_reason(addr)
    return _table_reason(addr) or _property_reason(addr)


def ip_block_reason(ip: str | IPAddress, allowed: Sequence[IPNetwork] | None = None) -> str | None:
    """Why the renderer must not connect to ``ip``, or None when it may.

    ``allowed`` defaults to :func:`allowed_networks`; pass it to avoid re-reading settings in a loop.
    Raises ValueError when ``ip`` is not an IP address.
    """
    addr = _as_ip(ip)
    if allowed is None:
        allowed = allowed_networks()
    if _is_allowed(addr, allowed):
        return None
    reason = _block_reason(addr)
    return f"{addr} is {reason}" if reason else None


# --- host parsing -----------------------------------------------------------------------------


def _canonical_host(host: str) -> str:
    """The host as a browser would hand it to the network: unbracketed, lower case, ASCII (IDNA)."""
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if not name:
        raise ResolutionFailed(host, "empty host")
    if not name.isascii():
        # IDNA mapping also folds full-width digits and dots, so "１２７。０。０。１" is 127.0.0.1.
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ResolutionFailed(host, f"invalid international name ({exc})") from exc
    return name.lower()


def _ends_in_number(parts: list[str]) -> bool:
    last = parts[-1]
    if last and all(c in string.digits for c in last):
        return True
    return last[:2] in ("0x", "0X") and all(c in string.hexdigits for c in last[2:])


def _ipv4_number(part: str) -> int | None:
    """One dotted part the way the WHATWG URL standard reads it: decimal, 0x hex, or 0 octal."""
    if not part:
        return None
    radix = 10
    if part[:2] in ("0x", "0X"):
        radix, part = 16, part[2:]
    elif len(part) > 1 and part[0] == "0":
        radix, part = 8, part[1:]
    if not part:
        return 0
    try:
        return int(part, radix) if part.isalnum() and part.isascii() else None
    except ValueError:
        return None


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Browser-style IPv4 parsing (``127.1``, ``0x7f.0.0.1``, ``2130706433``, ``127.0.0.1.``).

    Returns None when the host is a name. A host that ends in a number but is not a valid IPv4
    address (``08.0.0.1``, ``1.2.3.256``) is an invalid URL for a browser; it raises ResolutionFailed
    instead of being sent to DNS. ``getaddrinfo`` agrees with this parser on every valid spelling
    (glibc's inet_aton) except the trailing dot, which it would look up as a DNS name.
    """
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _ends_in_number(parts):
        return None
    numbers = [_ipv4_number(part) for part in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise ResolutionFailed(host, "not a valid IPv4 address")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise ResolutionFailed(host, "IPv4 address out of range")
    value = values[-1]
    for index, number in enumerate(values[:-1]):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def _ip_literal(name: str) -> IPAddress | None:
    if ":" in name:
        try:
            return ipaddress.IPv6Address(name)
        except ValueError as exc:
            raise ResolutionFailed(name, "not a valid IPv6 address") from exc
    return parse_ipv4(name)


def normalise_host(host: str) -> str:
    """A host's canonical spelling, to compare hosts; never raises.

    ``[::FFFF:7f00:1]`` becomes ``::ffff:7f00:1``, ``0x7f.1`` becomes ``127.0.0.1``, and names become
    lower-case ASCII (IDNA), which is how Chromium writes hosts in URLs and CONNECT requests.
    """
    try:
        name = _canonical_host(host)
        literal = _ip_literal(name)
    except ResolutionFailed:
        return host.strip().strip("[]").lower()
    return str(literal) if literal is not None else name


def lookup(host: str, port: int) -> list[str]:
    """Ask the system resolver (DNS, /etc/hosts) for a name. Tests patch this to simulate DNS."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolutionFailed(host, str(exc)) from exc
    ips = [str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
    return list(dict.fromkeys(ips))


def resolve(host: str, port: int) -> list[str]:
    """Every IP ``host`` stands for, in resolver order. The one resolution function all code uses.

    IP literals in any spelling are parsed here, without a DNS query; names go to :func:`lookup`.
    """
    name = _canonical_host(host)
    literal = _ip_literal(name)
    if literal is not None:
        return [str(literal)]
    return lookup(name, port)


def check_host(host: str, port: int) -> list[str]:
    """The IPs to connect to for ``host``, if every one of them is allowed.

    A name that resolves to a public and a private address is blocked as a whole: which of the two
    a client would use is not ours to predict.
    """
    ips = resolve(host, port)
    if not ips:
        raise ResolutionFailed(host, "no addresses")
    allowed = allowed_networks()
    for ip in ips:
        reason = ip_block_reason(ip, allowed)
        if reason is not None:
            raise BlockedAddress(host, ip, reason)
    return ips


def _browser_prepare(url: str) -> str:
    # Browsers strip surrounding controls and spaces, drop tabs and newlines anywhere, and read "\"
    # as "/" in http(s) URLs; urlsplit does none of that, so "http://127.0.0.1\@example.com/" would
    # otherwise be checked as example.com while a browser goes to 127.0.0.1.
    cleaned = url.strip("".join(chr(c) for c in range(0x21)))
    cleaned = cleaned.replace("\t", "").replace("\n", "").replace("\r", "")
    return cleaned.replace("\\", "/")


def check_url(url: str) -> None:
    """Raise unless the renderer may fetch ``url``: ValueError, BlockedAddress or ResolutionFailed.

    A pre-flight check for a friendly early error; the proxy enforces the rule on every request.
    """
    parts = urlsplit(_browser_prepare(url))
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"only http and https URLs can be rendered, not {scheme or 'a relative URL'!r}")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    port = parts.port or DEFAULT_PORTS[scheme]
    check_host(unquote(parts.hostname), port)
