"""SSRF guard: webhook targets must be public addresses unless the operator allows private ones.

The check runs twice: when an endpoint is registered (a friendly 422), and on the socket
itself at send time, against the address actually connected to, so that a name which
resolves to a public address at registration and to 127.0.0.1 later (DNS rebinding)
is still refused.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from webhooks import deadline

SCHEMES = ("http", "https")


class TargetRefused(ValueError):
    """The URL is not an acceptable webhook target; ``code`` is stable for API clients."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# IPv6 prefixes that carry an IPv4 address, which a translator or tunnel may reach: the
# embedded address decides (Python's is_global calls the prefixes themselves public).
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 (SIIT)
# Refused whatever the Python version's idea of is_global: the blocks the IANA special-
# purpose registries (IPv4 and IPv6) mark not globally reachable, newer ones included; and
# IPv6 forms that embed IPv4 in ways a translator may follow (local-use NAT64 RFC 8215,
# IPv4-compatible ::/96, Teredo). None is a legitimate webhook target.
REFUSED = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/29",
        "192.0.0.8/32",
        "192.0.0.170/31",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "100:0:0:1::/64",
        "2001::/32",
        "2001:2::/48",
        "2001:10::/28",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
    )
)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, translated, NAT64, 6to4)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64 or ip in IPV4_TRANSLATED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    """Whether ``address`` is a globally routable unicast IP, looking through IPv6 forms
    that embed an IPv4 address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in network for network in REFUSED if network.version == 6):
            return False
        inner = embedded_ipv4(ip)
        if inner is not None:
            ip = inner
    if any(ip in network for network in REFUSED if network.version == ip.version):
        return False
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to; empty when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})


def check_url(url: str, allow_private: bool = False) -> None:
    """Raise TargetRefused unless ``url`` is http(s) with a host that resolves to public IPs.

    A name that does not resolve (yet) is accepted: the send-time guard still applies.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("url_invalid", "not a valid URL") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise TargetRefused("url_invalid", "must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise TargetRefused("url_invalid", "must not contain credentials")
    if allow_private:
        return
    for address in resolve(parts.hostname, port):
        if not is_public(address):
            raise TargetRefused(
                "url_not_allowed", "the host resolves to a private, loopback or reserved address"
            )


class PeerRefused(requests.ConnectionError):
    """The connection reached a non-public address (the DNS answer changed since the check)."""


def _check_peer(sock: socket.socket) -> None:
    peer = sock.getpeername()[0]
    if not is_public(peer):
        sock.close()
        raise PeerRefused(f"refused to send to non-public address {peer}")


class _Watched:
    """Connection behaviour: check the peer (when ``guard``), obey the attempt deadline."""

    guard = True

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if self.guard:
            _check_peer(sock)
        deadline.watch(sock)
        return sock

    def request(self, *args, **kwargs):
        if self.sock is not None:  # a kept-alive connection: its socket is reused
            deadline.watch(self.sock)
        return super().request(*args, **kwargs)


def _connections(guard: bool) -> dict[str, type]:
    """Pool classes whose connections are _Watched, guarded or not."""

    class Connection(_Watched, HTTPConnection):
        pass

    class SecureConnection(_Watched, HTTPSConnection):
        pass

    Connection.guard = SecureConnection.guard = guard

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    return {"http": Pool, "https": SecurePool}


class _Adapter(HTTPAdapter):
    def __init__(self, guard: bool) -> None:
        self._pools = _connections(guard)
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools


def http_session(allow_private: bool = False) -> requests.Session:
    """A requests session that ignores proxy settings and, unless allowed, private peers;
    its sockets obey the attempt deadline (webhooks.deadline)."""
    session = requests.Session()
    # a proxy from the environment would hide the real peer from the guard
    session.trust_env = False
    adapter = _Adapter(guard=not allow_private)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
