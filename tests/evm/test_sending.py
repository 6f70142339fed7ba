"""EvmDriver's send side against anvil: what the conformance kit does not cover."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
import rlp
from eth_account import Account
from web3 import Web3

from devtools.devnet import CHAIN_ID, Devnet
from plugins.base import DriverError, RateLimited, Rejected, TxState
from plugins.evm.driver import EvmDriver
from plugins.evm.sending import REVERTING_TRANSFER_GAS
from tests.support.faultproxy import FaultProxy

MakeDriver = Callable[..., EvmDriver]
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture
def payer(devnet: Devnet, evm_snapshot: str) -> tuple[str, bytes]:
    """anvil's account 1 with tokens: (address, key)."""
    account = devnet.accounts[1]
    devnet.mint(devnet.usdt, account.address, 10**12)
    return account.address, bytes.fromhex(account.private_key[2:])


def transfer_call(devnet: Devnet, to: str, amount: int) -> str:
    return devnet.token(devnet.usdt).encode_abi("transfer", args=[to, amount])


def legacy(devnet: Devnet, key: bytes, **changes: object) -> str:
    """A legacy transfer of 5 to account 2, signed by ``key`` (EIP-155 unless told)."""
    tx = {
        "chainId": CHAIN_ID,
        "nonce": devnet.w3.eth.get_transaction_count(Account.from_key(key).address, "pending"),
        "to": devnet.usdt,
        "value": 0,
        "data": transfer_call(devnet, devnet.accounts[2].address, 5),
        "gas": 100_000,
        "gasPrice": 10 * 10**9,
        **changes,
    }
    tx = {k: v for k, v in tx.items() if v is not None}
    return Web3.to_hex(Account.sign_transaction(tx, key).raw_transaction)


def test_a_legacy_eip155_transfer_is_decoded_and_sent(
    evm_driver: EvmDriver, devnet: Devnet, payer: tuple[str, bytes]
) -> None:
    sender, key = payer
    signed = evm_driver.decode(legacy(devnet, key))
    assert (signed.transfer.sender, signed.transfer.amount) == (sender, 5)
    assert signed.transfer.fields["max_fee_per_gas"] == 10 * 10**9
    assert signed.transfer.max_fee == 100_000 * 10 * 10**9
    evm_driver.broadcast(signed)
    assert evm_driver.transaction_status(signed.tx_hash).state is TxState.MINED


def test_decode_refuses_what_is_not_a_transfer_of_this_token_on_this_chain(
    evm_driver: EvmDriver, devnet: Devnet, payer: tuple[str, bytes]
) -> None:
    _, key = payer
    refused = [
        legacy(devnet, key, chainId=None),  # no replay protection
        legacy(devnet, key, chainId=1),
        legacy(devnet, key, value=1),
        legacy(devnet, key, to=None, data="0x6000"),  # contract creation
        legacy(devnet, key, to=devnet.accounts[3].address),
        legacy(devnet, key, data=transfer_call(devnet, devnet.accounts[2].address, 5) + "00"),
    ]
    type1 = {
        "type": 1,
        "chainId": CHAIN_ID,
        "nonce": 0,
        "to": devnet.usdt,
        "value": 0,
        "data": transfer_call(devnet, devnet.accounts[2].address, 5),
        "gas": 100_000,
        "gasPrice": 10**10,
        "accessList": [],
    }
    refused.append(Web3.to_hex(Account.sign_transaction(type1, key).raw_transaction))
    for raw in refused:
        with pytest.raises(ValueError):
            evm_driver.decode(raw)


def test_decode_refuses_a_high_s_signature(evm_driver: EvmDriver, payer: tuple[str, bytes]) -> None:
    sender, key = payer
    signed = evm_driver.sign(evm_driver.build_transfer(sender, sender, 1), key)
    items = rlp.decode(bytes.fromhex(signed.raw[2:])[1:])
    items[9] = b"" if items[9] else b"\x01"  # the other y parity ...
    items[11] = (SECP256K1_N - int.from_bytes(items[11], "big")).to_bytes(32, "big")  # ... high s
    malleated = "0x02" + rlp.encode(items).hex()
    with pytest.raises(ValueError, match="canonical"):
        evm_driver.decode(malleated)


def test_build_takes_the_nonce_and_bumps_both_caps(
    evm_driver: EvmDriver, devnet: Devnet, payer: tuple[str, bytes]
) -> None:
    sender, _ = payer
    to = devnet.accounts[2].address
    plain = evm_driver.build_transfer(sender, to, 1, nonce=41)
    bumped = evm_driver.build_transfer(sender, to, 1, nonce=41, fee_bump=12)
    assert plain.fields["nonce"] == bumped.fields["nonce"] == 41
    for cap in ("max_fee_per_gas", "max_priority_fee_per_gas"):
        assert bumped.fields[cap] >= plain.fields[cap] * 112 // 100
    assert plain.max_fee == plain.fields["gas"] * plain.fields["max_fee_per_gas"]
    assert plain.unsigned["type"] == 2 and plain.unsigned["chainId"] == CHAIN_ID


def test_a_transfer_the_node_says_reverts_gets_a_fixed_gas_limit(
    evm_driver: EvmDriver, devnet: Devnet
) -> None:
    empty = devnet.accounts[7].address  # never holds tokens
    built = evm_driver.build_transfer(empty, devnet.accounts[2].address, 1)
    assert built.fields["gas"] == REVERTING_TRANSFER_GAS


def test_no_ether_for_gas_is_rejected(evm_driver: EvmDriver, devnet: Devnet) -> None:
    key = secrets.token_bytes(32)
    sender = Account.from_key(key).address
    devnet.mint(devnet.usdt, sender, 100)
    signed = evm_driver.sign(evm_driver.build_transfer(sender, devnet.accounts[2].address, 5), key)
    with pytest.raises(Rejected, match=r"(?i)insufficient funds"):
        evm_driver.broadcast(signed)
    assert evm_driver.transaction_status(signed.tx_hash).state is TxState.UNKNOWN


def test_provider_trouble_on_broadcast_is_retryable(
    make_evm_driver: MakeDriver, evm_proxy: FaultProxy, payer: tuple[str, bytes]
) -> None:
    sender, key = payer
    driver = make_evm_driver(rpc_url=evm_proxy.url)
    signed = driver.sign(driver.build_transfer(sender, sender, 1), key)
    evm_proxy.rate_limit(10, retry_after="0")
    with pytest.raises(RateLimited):
        driver.broadcast(signed)
    evm_proxy.reset()
    evm_proxy.unavailable(10)
    with pytest.raises(DriverError) as caught:
        driver.broadcast(signed)
    assert not isinstance(caught.value, Rejected)
    evm_proxy.reset()
    driver.broadcast(signed)  # the same bytes, once the provider is back
    assert driver.transaction_status(signed.tx_hash).state is TxState.MINED
