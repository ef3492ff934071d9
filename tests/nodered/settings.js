// Node-RED for `cargo xtask bench webhooks`: the flow in flows.json (http in → change →
// http response, the same as Switchyard's Webhook → Set), no editor, port from NODE_RED_PORT.
module.exports = {
  uiHost: "127.0.0.1",
  uiPort: Number(process.env.NODE_RED_PORT || 1880),
  flowFile: process.env.NODE_RED_FLOWS || "flows.json",
  httpAdminRoot: false,
  disableEditor: true,
  credentialSecret: false,
  logging: { console: { level: "warn", metrics: false, audit: false } },
};
