// A webhook receiver for the USDT Gateway in Node: express and the off-the-shelf
// Standard Webhooks library (npm `standardwebhooks`), which checks the signature and the
// 5-minute timestamp tolerance.
//
//   WEBHOOK_SECRET=whsec_... PORT=8002 node server.js
"use strict";

const express = require("express");
const { Webhook } = require("standardwebhooks");

const webhook = new Webhook(process.env.WEBHOOK_SECRET);
const seen = new Set(); // use your database: deliveries are at least once
const app = express();

// the signature covers the exact bytes: read the body raw, parse only after verifying
app.post("/webhooks", express.raw({ type: "*/*" }), (req, res) => {
  let event;
  try {
    event = webhook.verify(req.body, req.headers);
  } catch (err) {
    console.log(`rejected: ${err.message}`);
    return res.status(400).json({ error: "invalid signature" });
  }
  const id = req.headers["webhook-id"];
  if (seen.has(id)) {
    return res.status(200).json({ received: id, duplicate: true });
  }
  seen.add(id);
  // answer fast; do the work (mark the order paid, ...) after answering or in a queue
  console.log(`accepted ${event.type} ${id}`);
  return res.status(200).json({ received: id });
});

const port = Number(process.env.PORT || 8002);
app.listen(port, "127.0.0.1", () => console.log(`listening on ${port}`));
