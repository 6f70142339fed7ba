"""The SSRF guard against every special-purpose block of IANA's IPv4 and IPv6 registries.

Only the validator is asked: nothing here connects anywhere.
"""

from __future__ import annotations

import ipaddress

import pytest

from webhooks import ssrf

# IANA IPv4 and IPv6 Special-Purpose Address Registries: blocks not globally reachable.
NOT_GLOBAL = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/29", "192.0.0.8/32", "192.0.0.170/32", "192.0.0.171/32",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
    "::1/128", "::/128", "64:ff9b:1::/48", "100::/64", "100:0:0:1::/64", "2001::/23",
    "2001::/32", "2001:2::/48", "2001:10::/28", "2001:db8::/32", "3fff::/20", "5f00::/16",
    "fc00::/7", "fe80::/10",
    # multicast, in no special-purpose registry but never a webhook target
    "224.0.0.0/4", "ff00::/8",
]  # fmt: skip
# Blocks that embed an IPv4 address: the embedded address decides.
EMBEDDING = {
    "::ffff:{}": "IPv4-mapped",
    "::ffff:0:{}": "IPv4-translated (SIIT)",
    "64:ff9b::{}": "NAT64 well-known prefix",
}
PRIVATE_TARGETS = ["169.254.169.254", "127.0.0.1", "10.0.0.1", "192.168.1.1", "100.64.0.1"]


def corners(block: str) -> list[str]:
    network = ipaddress.ip_network(block)
    picks = {network[0], network[-1], network[network.num_addresses // 2]}
    return [str(address) for address in sorted(picks)]


@pytest.mark.parametrize("block", NOT_GLOBAL)
def test_no_address_of_a_non_global_block_is_public(block):
    assert [a for a in corners(block) if ssrf.is_public(a)] == []


@pytest.mark.parametrize("form", sorted(EMBEDDING))
@pytest.mark.parametrize("inner", PRIVATE_TARGETS)
def test_ipv6_forms_embedding_a_private_ipv4_are_refused(form, inner):
    address = form.format(inner)
    assert not ssrf.is_public(str(ipaddress.ip_address(address))), EMBEDDING[form]


@pytest.mark.parametrize("inner", PRIVATE_TARGETS)
def test_6to4_embedding_a_private_ipv4_is_refused(inner):
    packed = ipaddress.IPv4Address(inner).packed.hex()
    assert not ssrf.is_public(f"2002:{packed[:4]}:{packed[4:]}::1")


def test_translation_prefixes_to_public_ipv4_stay_usable():
    assert ssrf.is_public("64:ff9b::808:808")
    assert ssrf.is_public("2002:808:808::1")
    assert ssrf.is_public("8.8.8.8") and ssrf.is_public("2606:4700::1111")


def test_registration_refuses_the_nat64_form_of_the_metadata_address():
    with pytest.raises(ssrf.TargetRefused) as refused:
        ssrf.check_url("http://[64:ff9b::a9fe:a9fe]/hook")
    assert refused.value.code == "url_not_allowed"
