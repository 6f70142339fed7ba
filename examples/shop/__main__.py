"""Run the example shop: ``python -m examples.shop`` (configured by the environment), or
``python -m examples.shop --demo`` beside the demo gateway on a local devnet, where a
devnet buyer pays each order the shop creates."""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from gateway_client import Gateway
from werkzeug.serving import make_server

from examples.shop.app import create_app


def serve(app, port: int):
    """The shop on a real threaded server on 127.0.0.1."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def devnet_buyer(gateway: Gateway, stack, delay: float) -> None:
    """Pay every new order from the funded devnet account, ``delay`` seconds after it is
    created (so its checkout page can be watched turning paid): the buyer's wallet."""
    from gateway.cli.demo import say

    for event in gateway.events.stream(type="order.created"):
        order = event["data"]
        time.sleep(delay)
        tx = stack.pay(order["address"], int(order["amount_base_units"]))
        say(f"devnet buyer paid {order['amount']} USDT for {order['reference']} in {tx}")


def run_beside_the_demo(port: int, delay: float) -> None:
    """The demo's gateway, the shop registered as its webhook endpoint, and a buyer."""
    from gateway.cli.demo import hold, say, stack

    with stack() as gw:
        gateway = Gateway(gw.base_url, gw.key)
        url = f"http://127.0.0.1:{port}"
        endpoint = gateway.webhook_endpoints.create(
            f"{url}/webhooks/usdt", ["order.paid"], description="example shop"
        )
        database = Path(tempfile.mkdtemp(prefix="shop-")) / "shop.db"
        shop = create_app(
            {
                "SHOP_DATABASE": str(database),
                "GATEWAY_URL": gw.base_url,
                "GATEWAY_API_KEY": gw.key,
                "GATEWAY_WEBHOOK_SECRET": endpoint["secret"],
                "GATEWAY_CHAIN": "devnet",
            }
        )
        server = serve(shop, port)
        buyer = threading.Thread(target=devnet_buyer, args=(gateway, gw, delay), daemon=True)
        buyer.start()
        say(f"shop at {url}: add to cart, 'Pay with USDT'; the devnet buyer pays in {delay:g} s")
        say(f"after paying, {url}/return shows the shop's order")
        try:
            hold("the shop and the gateway keep running")
        finally:
            server.shutdown()


def main() -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(prog="python -m examples.shop", description=__doc__)
    parser.add_argument("--demo", action="store_true", help="run beside the demo gateway")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SHOP_PORT", "8000")))
    parser.add_argument("--pay-after", type=float, default=3.0, help="devnet buyer's delay (s)")
    args = parser.parse_args()
    if args.demo:
        run_beside_the_demo(args.port, args.pay_after)
        return
    server = serve(create_app(), args.port)
    print(f"shop at http://127.0.0.1:{args.port}", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
