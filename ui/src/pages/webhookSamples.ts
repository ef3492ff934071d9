// Sample payloads for "send sample payload", one per signature preset, shaped like what each
// provider sends. The page lets the user edit them before sending.

export const SAMPLES: Record<string, unknown> = {
  github: {
    ref: "refs/heads/main",
    repository: { full_name: "acme/shop", private: false },
    pusher: { name: "ada", email: "ada@example.com" },
    commits: [{ id: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", message: "Fix totals", author: { name: "Ada" } }],
  },
  stripe: {
    id: "evt_1NG8Du2eZvKYlo2CUI79vXWy",
    object: "event",
    type: "payment_intent.succeeded",
    data: { object: { id: "pi_3NG8Du2eZvKYlo2C1", amount: 2000, currency: "eur", status: "succeeded" } },
  },
  slack: {
    type: "event_callback",
    team_id: "T061EG9R6",
    event: { type: "message", channel: "C2147483705", user: "U2147483697", text: "New order A-17", ts: "1355517523.000005" },
  },
  shopify: {
    id: 820982911946154500,
    email: "jon@example.com",
    total_price: "199.65",
    currency: "USD",
    line_items: [{ title: "IPod Nano - 8GB", quantity: 1, price: "199.00" }],
  },
  generic: { event: "order.created", data: { id: "A-17", qty: 3, price: 4.5 } },
  none: { event: "order.created", data: { id: "A-17", qty: 3, price: 4.5 } },
};

export function sampleFor(signature: string): string {
  return JSON.stringify(SAMPLES[signature] ?? SAMPLES.none, null, 2);
}
