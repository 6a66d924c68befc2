"""What may be registered and where PUTs may go.

Grammar checks (absolute http/https URL, no userinfo, no fragment, length,
printable-ASCII payload) give ``BAD``. The target policy (https only, public
unicast addresses only) gives ``NO [CANNOT]`` at registration for IP
literals, and is enforced again on the address actually connected to, at
send time, by `FilteringResolver` (so DNS rebinding cannot reach loopback).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from twisted.logger import Logger
from zope.interface import directlyProvides, implementer, provider, providedBy

log = Logger()
MAX_URL = 2048
_URI_CHARS = re.compile(rb"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_PERCENT_OK = re.compile(rb"(?:[^%]|%[0-9A-Fa-f]{2})*")
MAX_PAYLOAD = 512

_NON_PUBLIC_V4 = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
)]
_NON_PUBLIC_V6 = [ipaddress.ip_network(n) for n in (
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "100::/64",
    "2001:db8::/32", "2001:10::/28", "2001::/32",
)]


class InvalidRegistration(ValueError):
    """The URL or payload breaks the grammar: ``BAD``."""


class RefusedTarget(ValueError):
    """The target is not allowed by policy: ``NO [CANNOT]``."""


def embedded_ipv4(addr: ipaddress.IPv6Address) -> Optional[ipaddress.IPv4Address]:
    """The IPv4 address inside IPv4-mapped, -compatible, NAT64, 6to4 and Teredo forms."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    packed = addr.packed
    if packed[:12] == bytes(12) and packed[12:] != bytes(4):
        return ipaddress.IPv4Address(packed[12:])  # deprecated IPv4-compatible ::a.b.c.d
    if ipaddress.ip_network("64:ff9b::/96").supernet_of(ipaddress.ip_network(f"{addr}/128")):
        return ipaddress.IPv4Address(packed[12:])
    return None


def numeric_host(host: str) -> Optional[str]:
    """The address a numeric host names, in the forms resolvers accept too
    (``127.1``, ``2130706433``, ``0x7f.1``), or None for a host name."""
    try:
        return str(ipaddress.ip_address(host.split("%")[0]))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def is_public(address: str) -> bool:
    """True for a public unicast address (never loopback, private, link-local, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public(str(inner))
        return not any(ip in net for net in _NON_PUBLIC_V6) and ip.is_global
    return not any(ip in net for net in _NON_PUBLIC_V4)


@dataclass(frozen=True)
class TargetPolicy:
    allow_http: bool = False
    allow_private: bool = False

    def check_registration(self, url: bytes, payload: bytes) -> None:
        """Raise InvalidRegistration (BAD) or RefusedTarget (NO [CANNOT])."""
        if not 1 <= len(url) <= MAX_URL:
            raise InvalidRegistration("URL must be 1 to 2048 octets")
        if len(payload) > MAX_PAYLOAD:
            raise InvalidRegistration("Payload must be at most 512 octets")
        if any(b < 0x20 or b > 0x7E for b in payload):
            raise InvalidRegistration("Payload must be printable US-ASCII")
        if any(b <= 0x20 or b >= 0x7F for b in url):
            raise InvalidRegistration("URL must be printable US-ASCII without spaces")
        if not _URI_CHARS.fullmatch(url) or not _PERCENT_OK.fullmatch(url):
            raise InvalidRegistration("URL has characters RFC 3986 does not allow (or a bad %-escape)")
        try:
            parts = urlsplit(url.decode("ascii"))
            port = parts.port
        except ValueError:
            raise InvalidRegistration("URL is not valid") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise InvalidRegistration("URL must be an absolute http:// or https:// URL")
        if "@" in parts.netloc:
            raise InvalidRegistration("URL must not contain user:password@")
        if "#" in url.decode("ascii"):
            raise InvalidRegistration("URL must not have a fragment")
        if port == 0:
            raise InvalidRegistration("URL port is not valid")
        if parts.scheme.lower() == "http" and not self.allow_http:
            raise RefusedTarget("Only https push targets are allowed")
        authority = url.split(b"://", 1)[1].split(b"/", 1)[0].split(b"?", 1)[0]
        if b"[" in authority.split(b"]")[-1] or url.count(b"[") != authority.count(b"["):
            raise InvalidRegistration("Brackets are only allowed around an IPv6 host")
        host = numeric_host(parts.hostname)
        if host is not None and not self.allow_private and not is_public(host):
            raise RefusedTarget("Push target address is not a public unicast address")

    def address_allowed(self, address: str) -> bool:
        return self.allow_private or is_public(address)


@implementer(IHostnameResolver)
class FilteringResolver:
    """Wraps a resolver and drops every address the policy refuses.

    Agent connects only to addresses this resolver hands out, so the check
    applies to the address actually connected to, after DNS.
    """

    def __init__(self, resolver, policy: TargetPolicy):
        self._resolver = resolver
        self._policy = policy
        self.refused_hosts: set[str] = set()  # names whose every address was refused

    def resolveHostName(self, receiver, hostName, portNumber=0, addressTypes=None, transportSemantics="TCP"):
        policy = self._policy
        refused_hosts = self.refused_hosts
        counts = {"allowed": 0, "refused": 0}

        @provider(IResolutionReceiver)
        class Filter:
            @staticmethod
            def resolutionBegan(resolution):
                receiver.resolutionBegan(resolution)

            @staticmethod
            def addressResolved(address):
                if policy.address_allowed(address.host):
                    counts["allowed"] += 1
                    receiver.addressResolved(address)
                else:
                    counts["refused"] += 1
                    log.warn("push target {host} resolved to refused address {address}",
                             host=hostName, address=address.host)

            @staticmethod
            def resolutionComplete():
                if counts["refused"] and not counts["allowed"]:
                    refused_hosts.add(hostName)
                else:
                    refused_hosts.discard(hostName)
                receiver.resolutionComplete()

        return self._resolver.resolveHostName(Filter, hostName, portNumber, addressTypes, transportSemantics)


class PolicyReactor:
    """A reactor proxy whose nameResolver is the filtering one (for treq's Agent).

    It declares every interface the real reactor provides, so endpoints take
    the pluggable-resolver path (and with it the filter) rather than calling
    getaddrinfo themselves.
    """

    def __init__(self, reactor, policy: TargetPolicy):
        self._reactor = reactor
        self.nameResolver = FilteringResolver(reactor.nameResolver, policy)
        directlyProvides(self, *providedBy(reactor))

    def __getattr__(self, name):
        return getattr(self._reactor, name)


def redact(url: bytes) -> str:
    """scheme://host[:port]/… — path and query carry secrets."""
    try:
        parts = urlsplit(url.decode("ascii", "replace"))
        host = parts.hostname or "?"
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}/[redacted]"
    except ValueError:
        return "[unparseable url]"
