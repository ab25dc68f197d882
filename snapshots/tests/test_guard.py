"""The address guard: odd IP spellings, transition addresses, mixed answers, the allow-list setting.

No test here sends a packet: IP literals are parsed without DNS, and names go to a fake resolver
patched in at ``guard.lookup`` (the guard's only call to the system resolver).
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured

from snapshots.renderer import guard

REAL_LOOKUP = guard.lookup


class FakeDNS:
    """Answers from a table, records every question, and fails like NXDOMAIN for anything else."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.answers:
            raise guard.ResolutionFailed(host, "no such name (fake DNS)")
        return list(self.answers[host])


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch, settings) -> FakeDNS:
    """No test may ask the real DNS (this machine's resolver is not on loopback)."""
    settings.SNAPSHOT_ALLOWED_NETWORKS = []
    dns = FakeDNS()
    monkeypatch.setattr(guard, "lookup", dns)
    return dns


# (host as written in a URL, the IP it means, the narrowest network that allows it)
ODD_SPELLINGS = [
    ("2130706433", "127.0.0.1", "127.0.0.0/8"),
    ("0177.0.0.1", "127.0.0.1", "127.0.0.0/8"),
    ("0x7f.0.0.1", "127.0.0.1", "127.0.0.0/8"),
    ("0x7f000001", "127.0.0.1", "127.0.0.0/8"),
    ("017700000001", "127.0.0.1", "127.0.0.0/8"),
    ("127.1", "127.0.0.1", "127.0.0.0/8"),
    ("127.0.1", "127.0.0.1", "127.0.0.0/8"),
    ("127.0.0.1.", "127.0.0.1", "127.0.0.0/8"),
    ("0x7F.1", "127.0.0.1", "127.0.0.0/8"),
    ("[::1]", "::1", "::1/128"),
    ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "127.0.0.0/8"),
    ("[::ffff:7f00:1]", "::ffff:127.0.0.1", "127.0.0.0/8"),
    ("[::127.0.0.1]", "::127.0.0.1", "::/96"),
    ("[64:ff9b::a00:1]", "64:ff9b::a00:1", "64:ff9b::/96"),
    ("[64:ff9b:1::a00:1]", "64:ff9b:1::a00:1", "64:ff9b:1::/48"),
    ("[2002:7f00:1::]", "2002:7f00:1::", "2002::/16"),
    ("[2001:0:4136:e378:8000:63bf:f5ff:fffe]", "2001:0:4136:e378:8000:63bf:f5ff:fffe", "2001::/32"),
    ("0.0.0.0", "0.0.0.0", "0.0.0.0/32"),  # noqa: S104 (an address to block, not to bind)
    ("0", "0.0.0.0", "0.0.0.0/32"),  # noqa: S104
    ("[::]", "::", "::/128"),
    ("100.64.0.1", "100.64.0.1", "100.64.0.0/10"),
    ("169.254.169.254", "169.254.169.254", "169.254.0.0/16"),
    ("[fd00:ec2::254]", "fd00:ec2::254", "fd00::/8"),
    ("[fe80::1]", "fe80::1", "fe80::/10"),
    ("10.0.0.1", "10.0.0.1", "10.0.0.0/8"),
    ("172.31.255.1", "172.31.255.1", "172.16.0.0/12"),
    ("192.168.1.1", "192.168.1.1", "192.168.0.0/16"),
    ("255.255.255.255", "255.255.255.255", "255.255.255.255/32"),
    ("0xffffffff", "255.255.255.255", "255.255.255.255/32"),
    ("198.18.0.1", "198.18.0.1", "198.18.0.0/15"),
    ("224.0.0.1", "224.0.0.1", "224.0.0.0/4"),
    ("[ff02::1]", "ff02::1", "ff00::/8"),
    ("240.0.0.1", "240.0.0.1", "240.0.0.0/4"),
    ("192.0.2.1", "192.0.2.1", "192.0.2.0/24"),
    ("[2001:db8::1]", "2001:db8::1", "2001:db8::/32"),
    ("[fec0::1]", "fec0::1", "fec0::/10"),
    ("[4000::1]", "4000::1", "4000::/3"),
]
IDS = [host for host, _, _ in ODD_SPELLINGS]


@pytest.mark.parametrize(("host", "ip", "network"), ODD_SPELLINGS, ids=IDS)
def test_odd_spellings_resolve_to_the_ip_a_browser_means(fake_dns, host, ip, network):
    assert guard.resolve(host, 80) == [str(ipaddress.ip_address(ip))]
    assert fake_dns.calls == [], "an IP literal must never become a DNS query"


@pytest.mark.parametrize(("host", "ip", "network"), ODD_SPELLINGS, ids=IDS)
def test_odd_spellings_are_blocked_by_default(host, ip, network):
    with pytest.raises(guard.BlockedAddress) as caught:
        guard.check_url(f"http://{host}/")
    assert caught.value.ip == str(ipaddress.ip_address(ip))
    assert caught.value.reason.startswith(caught.value.ip + " is ")


@pytest.mark.parametrize(("host", "ip", "network"), ODD_SPELLINGS, ids=IDS)
def test_odd_spellings_are_allowed_only_when_their_network_is_listed(settings, host, ip, network):
    settings.SNAPSHOT_ALLOWED_NETWORKS = ["203.0.113.0/24", network]
    guard.check_url(f"https://{host}:8443/path")
    assert guard.check_host(host, 443) == [str(ipaddress.ip_address(ip))]


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "127.0.1", "0xffffffff", "1.2.3"],
)
def test_ipv4_parser_agrees_with_getaddrinfo(host):
    """getaddrinfo reads browser spellings the same way (numeric only: this sends no DNS query)."""
    infos = socket.getaddrinfo(host, 80, socket.AF_INET, socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    assert str(guard.parse_ipv4(host)) == infos[0][4][0]


def test_trailing_dot_is_normalised_where_getaddrinfo_would_ask_dns():
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("127.0.0.1.", 80, flags=socket.AI_NUMERICHOST)
    assert guard.parse_ipv4("127.0.0.1.") == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize(
    "host", ["08.0.0.1", "1.2.3.256", "256.0.0.1", "1.2.3.4.5", "0x7g.0.0.1", "4294967296"]
)
def test_invalid_numeric_hosts_fail_without_a_dns_query(fake_dns, host):
    with pytest.raises(guard.ResolutionFailed):
        guard.check_url(f"http://{host}/")
    assert fake_dns.calls == []


def test_full_width_digits_are_read_as_ipv4():
    assert guard.resolve("１２７。０。０。１", 80) == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("ip", "words"),
    [
        ("10.0.0.1", ["10.0.0.1 is a private address"]),
        ("169.254.169.254", ["cloud metadata"]),
        ("fd00:ec2::254", ["cloud metadata"]),
        ("100.64.12.34", ["carrier-grade NAT"]),
        ("::ffff:127.0.0.1", ["IPv4-mapped", "127.0.0.1", "loopback"]),
        ("64:ff9b::a00:1", ["NAT64", "10.0.0.1", "private"]),
        ("2002:7f00:1::", ["6to4", "127.0.0.1", "loopback"]),
        # Teredo stores the client address inverted; f5ff:fffe is 10.0.0.1.
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", ["Teredo", "10.0.0.1", "private"]),
        ("224.0.0.251", ["multicast"]),
        ("255.255.255.255", ["broadcast"]),
        ("198.19.1.1", ["benchmarking"]),
    ],
)
def test_block_reasons_are_readable(ip, words):
    reason = guard.ip_block_reason(ip)
    assert reason is not None
    for word in words:
        assert word in reason


@pytest.mark.parametrize(
    "ip", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(ip):
    assert guard.ip_block_reason(ip) is None


def test_public_transition_addresses_outside_nat64_stay_blocked():
    """6to4 and Teredo need relays we do not trust, whatever IPv4 address they carry."""
    assert "6to4" in (guard.ip_block_reason("2002:808:808::1") or "")
    assert "Teredo" in (guard.ip_block_reason("2001:0:4136:e378:8000:63bf:f7f7:f7f7") or "")


def test_ip_block_reason_accepts_objects_and_brackets_and_rejects_names():
    assert guard.ip_block_reason(ipaddress.ip_address("127.0.0.1")) is not None
    assert guard.ip_block_reason("[::1]") is not None
    assert guard.ip_block_reason("10.0.0.1", allowed=[ipaddress.ip_network("10.0.0.0/8")]) is None
    with pytest.raises(ValueError):
        guard.ip_block_reason("example.com")


def test_a_name_resolving_to_a_private_address_is_blocked(fake_dns, settings):
    fake_dns.answers["intranet.example"] = ["10.0.0.1"]
    with pytest.raises(guard.BlockedAddress) as caught:
        guard.check_url("https://intranet.example/")
    assert (caught.value.host, caught.value.ip) == ("intranet.example", "10.0.0.1")
    assert caught.value.reason == "10.0.0.1 is a private address"

    settings.SNAPSHOT_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert guard.check_host("intranet.example", 443) == ["10.0.0.1"]


@pytest.mark.parametrize(
    "answers",
    [["93.184.215.14", "10.0.0.1"], ["2606:4700::6810:84e5", "fd00::1"], ["93.184.215.14", "::ffff:7f00:1"]],
)
def test_a_name_resolving_to_public_and_private_addresses_is_blocked(fake_dns, answers):
    fake_dns.answers["mixed.example"] = answers
    with pytest.raises(guard.BlockedAddress) as caught:
        guard.check_host("mixed.example", 443)
    assert caught.value.ip == answers[1]


def test_dns_failure_raises_resolution_failed(fake_dns):
    with pytest.raises(guard.ResolutionFailed) as caught:
        guard.check_url("http://no-such-host.example/")
    assert caught.value.host == "no-such-host.example"
    fake_dns.answers["empty.example"] = []
    with pytest.raises(guard.ResolutionFailed):
        guard.check_host("empty.example", 80)


def test_lookup_turns_getaddrinfo_answers_into_unique_ips(monkeypatch):
    def fake_getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        assert host == "dual.example"
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:4700::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert REAL_LOOKUP("dual.example", 443) == ["2606:4700::1", "93.184.215.14"]


def test_lookup_turns_gaierror_into_resolution_failed(monkeypatch):
    def failing_getaddrinfo(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", failing_getaddrinfo)
    with pytest.raises(guard.ResolutionFailed, match="Name or service not known"):
        REAL_LOOKUP("gone.example", 80)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1\\@example.com/",  # browsers read "\" as "/": the host is 127.0.0.1
        "http://example.com@127.0.0.1/",
        "http://%31%32%37.0.0.1/",
        "  http://127.0.0.1/  ",
        "ht\ttp://127.0.0.1/",
        "HTTP://LOCALHOST.localdomain@[::1]:8080/",
    ],
)
def test_check_url_reads_hosts_the_way_browsers_do(url):
    with pytest.raises(guard.BlockedAddress):
        guard.check_url(url)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "/relative", "http:///nohost"]
)
def test_check_url_rejects_other_schemes_and_hostless_urls(url):
    with pytest.raises(ValueError):
        guard.check_url(url)


def test_public_url_passes(fake_dns):
    fake_dns.answers["example.com"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    guard.check_url("https://Example.COM/some/page?q=1")
    assert fake_dns.calls == ["example.com"]


@pytest.mark.parametrize(
    ("host", "canonical"),
    [
        ("0x7F.1", "127.0.0.1"),
        ("[::FFFF:127.0.0.1]", "::ffff:7f00:1"),
        ("Example.COM", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("08.0.0.1", "08.0.0.1"),
    ],
)
def test_normalise_host_gives_one_spelling_per_host(fake_dns, host, canonical):
    assert guard.normalise_host(host) == canonical
    assert fake_dns.calls == []


def test_allowed_networks_are_read_at_call_time(settings):
    settings.SNAPSHOT_ALLOWED_NETWORKS = []
    assert guard.allowed_networks() == []
    settings.SNAPSHOT_ALLOWED_NETWORKS = ["127.0.0.0/8", " ::1/128 ", ""]
    assert guard.allowed_networks() == [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1")]
    assert guard.ip_block_reason("127.0.0.1") is None


def test_allowed_networks_accept_a_comma_separated_string(settings):
    settings.SNAPSHOT_ALLOWED_NETWORKS = "127.0.0.0/8,10.0.0.0/8"
    assert len(guard.allowed_networks()) == 2


def test_invalid_allowed_network_is_a_configuration_error(settings):
    settings.SNAPSHOT_ALLOWED_NETWORKS = ["127.0.0.0/8", "localhost/8"]
    with pytest.raises(ImproperlyConfigured, match="SNAPSHOT_ALLOWED_NETWORKS: 'localhost/8'"):
        guard.check_host("127.0.0.1", 80)


def test_an_allowed_ipv4_network_does_not_open_its_nat64_or_6to4_forms(settings):
    """Those go through a gateway to somewhere else; only the IPv4-mapped form is the same host."""
    settings.SNAPSHOT_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert guard.ip_block_reason("::ffff:127.0.0.1") is None
    assert guard.ip_block_reason("64:ff9b::7f00:1") is not None
    assert guard.ip_block_reason("2002:7f00:1::") is not None
