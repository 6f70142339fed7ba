"""A webhook receiver for the USDT Gateway in Python: Flask and the off-the-shelf Standard
Webhooks library (PyPI ``standardwebhooks``), which checks the signature and the 5-minute
timestamp tolerance.

    WEBHOOK_SECRET=whsec_... flask --app app run --port 8001
"""

from __future__ import annotations

import os

from flask import Flask, request
from standardwebhooks import Webhook, WebhookVerificationError

app = Flask(__name__)
webhook = Webhook(os.environ["WEBHOOK_SECRET"])
seen: set[str] = set()  # use your database: deliveries are at least once


@app.post("/webhooks")
def receive():
    """Verify the raw body against its headers, then take the event once."""
    try:
        event = webhook.verify(request.get_data(), dict(request.headers))
    except WebhookVerificationError as exc:
        print(f"rejected: {exc}", flush=True)
        return {"error": "invalid signature"}, 400
    message_id = request.headers["webhook-id"]
    if message_id in seen:
        return {"received": message_id, "duplicate": True}
    seen.add(message_id)
    # answer fast; do the work (mark the order paid, ...) after answering or in a queue
    print(f"accepted {event['type']} {message_id}", flush=True)
    return {"received": message_id}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8001")))
