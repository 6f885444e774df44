"""Which webhook destinations notify refuses (SSRF): every refused range, IPv4 and IPv6, the
IPv6 forms that carry an IPv4 address, hosts written as integers, and the opt-ins."""

from __future__ import annotations

import ipaddress

import pytest

from services.notify.domain.destinations import (
    DestinationPolicy,
    DestinationRefused,
    check_addresses,
    literal_address,
    numeric_ipv4,
    parse_networks,
    refusal,
    target,
)

REFUSED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "shared address space"),
    ("100.127.255.254", "shared address space"),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("169.254.169.254", "link-local"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.10", "documentation"),
    ("192.88.99.1", "reserved"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("febf::1", "link-local"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("100::1", "discard-only"),
    ("fec0::1", "site-local"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    # IPv6 forms that carry an IPv4 address are judged by it.
    ("::ffff:127.0.0.1", "carries 127.0.0.1, loopback"),
    ("::ffff:7f00:1", "carries 127.0.0.1, loopback"),
    ("::ffff:169.254.169.254", "carries 169.254.169.254, link-local"),
    ("::ffff:10.0.0.1", "carries 10.0.0.1, private"),
    ("::127.0.0.1", "carries 127.0.0.1, loopback"),
    ("::10.1.2.3", "carries 10.1.2.3, private"),
    ("::8.8.8.8", "IPv4-compatible"),
    ("2002:7f00:1::1", "carries 127.0.0.1, loopback"),
    ("2002:a9fe:a9fe::", "carries 169.254.169.254, link-local"),
    ("64:ff9b::127.0.0.1", "carries 127.0.0.1, loopback"),
    ("64:ff9b::a00:1", "carries 10.0.0.1, private"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "carries 127.0.0.1, loopback"),  # Teredo
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "reserved"),  # Teredo, client 8.8.8.8
]
ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.169.0.1",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_addresses_say_why(address: str, reason: str) -> None:
    why = refusal(ipaddress.ip_address(address))
    assert why is not None and reason in why, (address, why)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(("address", "_reason"), REFUSED)
def test_allow_private_allows_everything(address: str, _reason: str) -> None:
    assert refusal(ipaddress.ip_address(address), DestinationPolicy(allow_private=True)) is None


def test_allowed_networks_allow_only_themselves() -> None:
    policy = DestinationPolicy(allowed=parse_networks("10.20.0.0/16, fd00:1::/64"))
    assert refusal(ipaddress.ip_address("10.20.3.4"), policy) is None
    assert refusal(ipaddress.ip_address("fd00:1::5"), policy) is None
    assert refusal(ipaddress.ip_address("::ffff:10.20.3.4"), policy) is None
    assert refusal(ipaddress.ip_address("10.21.0.1"), policy) is not None
    assert refusal(ipaddress.ip_address("127.0.0.1"), policy) is not None


def test_a_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match="'10.0.0.0/33'"):
        parse_networks("10.0.0.0/8,10.0.0.0/33")


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("167772161", "10.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("8.8.8.8", "8.8.8.8"),
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
    ],
)
def test_hosts_written_as_numbers_are_read_as_addresses(host: str, address: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "hooks.example.com", "localhost", "1e5", "a.1"])
def test_host_names_are_not_numbers(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize("host", ["4294967296", "256.1.1.1", "1.2.3.4.5", "0x1.0x100.1"])
def test_numbers_that_are_no_address_are_refused(host: str) -> None:
    with pytest.raises(DestinationRefused, match="not a valid IPv4 address"):
        numeric_ipv4(host)


def test_every_address_of_a_host_must_be_allowed() -> None:
    public, loopback = ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("127.0.0.1")
    check_addresses("hooks.example.com", [public], DestinationPolicy())
    with pytest.raises(DestinationRefused, match=r"'rebind.example' resolves to 127\.0\.0\.1"):
        check_addresses("rebind.example", [public, loopback], DestinationPolicy())
    with pytest.raises(DestinationRefused, match="does not resolve"):
        check_addresses("nowhere.invalid", [], DestinationPolicy())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/x", "scheme 'ftp'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("http:///x", "no host"),
        ("http://hooks.example.com:99999/", "not a valid URL"),
    ],
)
def test_urls_notify_does_not_send_to(url: str, message: str) -> None:
    with pytest.raises(DestinationRefused, match=message):
        target(url)


def test_production_sends_https_only() -> None:
    production = DestinationPolicy(https_only=True)
    assert target("https://hooks.example.com/x", production).port == 443
    assert target("http://hooks.example.com:8080/x").port == 8080
    with pytest.raises(DestinationRefused, match="plain http"):
        target("http://hooks.example.com/x", production)
