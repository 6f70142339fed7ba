"""``python -m devtools``: a local devnet to try the gateway on, until Ctrl-C (or SIGTERM).

Starts anvil with the Tether-like test token, gives the buyer (account 0, unlocked on
anvil) 1000 test USDT, mines a block every second so that payments gain confirmations,
and writes the shell variables to use (RPC, TOKEN, BUYER) to ``--env-file`` (or stdout).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from devtools.devnet import Devnet

USDT = 10**6


def main() -> None:
    """Run the devnet until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m devtools", description=__doc__)
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--env-file", type=Path, help="write RPC=, TOKEN=, BUYER= here")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Devnet.start(args.port) as devnet:
        token = devnet.deploy_token()
        buyer = devnet.accounts[0].address
        devnet.mint(token, buyer, 1000 * USDT)
        # shell syntax: `. ./devnet.env` exports them to the programs started afterwards
        variables = f"export RPC={devnet.rpc_url}\nexport TOKEN={token}\nexport BUYER={buyer}\n"
        if args.env_file:
            # written whole at once: a reader waiting for the file never sees half of it
            partial = args.env_file.with_suffix(".partial")
            partial.write_text(variables)
            partial.replace(args.env_file)
        else:
            sys.stdout.write(variables)
            sys.stdout.flush()
        try:
            while not stop.wait(1.0):
                devnet.mine(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
