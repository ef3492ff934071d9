// A real OpenID provider (oidc-provider) on 127.0.0.1 for the vault's OAuth2 tests.
// Prints "LISTENING <port>" once ready. Sign-in is scripted: the login step signs in the
// account named by login_hint (default "alice") and consent grants what was asked, so a
// test can follow the redirects like a browser would.
//
// Clients:
//   native-app  public native client: authorization code + PKCE (S256), loopback redirect
//               on any port (RFC 8252), refresh tokens rotated on every use.
//   machine     confidential client (secret "machine-secret"): client credentials.
// Test hooks (not part of OAuth):
//   GET  /test/counts                  successful and failed grants by grant type
//   POST /test/expire-access-tokens    forgets every issued access token (they turn 401)
import http from "node:http";
import Provider from "oidc-provider";

const stores = new Map();
function store(name) {
  if (!stores.has(name)) stores.set(name, new Map());
  return stores.get(name);
}

class MemoryAdapter {
  constructor(name) {
    this.name = name;
    this.entries = store(name);
  }
  async upsert(id, payload, expiresIn) {
    this.entries.set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : null });
  }
  async find(id) {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt && entry.expiresAt < Date.now()) {
      this.entries.delete(id);
      return undefined;
    }
    return entry.payload;
  }
  async findByUserCode(userCode) {
    for (const { payload } of this.entries.values()) if (payload.userCode === userCode) return payload;
    return undefined;
  }
  async findByUid(uid) {
    for (const { payload } of this.entries.values()) if (payload.uid === uid) return payload;
    return undefined;
  }
  async consume(id) {
    const entry = this.entries.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id) {
    this.entries.delete(id);
  }
  async revokeByGrantId(grantId) {
    for (const entries of stores.values()) {
      for (const [id, { payload }] of entries) if (payload.grantId === grantId) entries.delete(id);
    }
  }
}

const counts = {};
function count(key) {
  counts[key] = (counts[key] || 0) + 1;
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = server.address().port;
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: [
    {
      client_id: "native-app",
      application_type: "native",
      token_endpoint_auth_method: "none",
      redirect_uris: ["http://127.0.0.1/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    },
    {
      client_id: "machine",
      client_secret: "machine-secret",
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
    },
  ],
  cookies: { keys: ["switchyard-test-cookie-key"] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
  },
  scopes: ["openid", "offline_access", "api:read"],
  claims: { openid: ["sub"] },
  rotateRefreshToken: true,
  issueRefreshToken: async (ctx, client, code) =>
    client.grantTypeAllowed("refresh_token") && code.scopes.has("offline_access"),
  ttl: { AccessToken: 3600, ClientCredentials: 3600, RefreshToken: 14 * 86400, Grant: 14 * 86400 },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.proxy = false;

provider.on("grant.success", (ctx) => count(`${ctx.oidc.params.grant_type}:ok`));
provider.on("grant.error", (ctx) => count(`${ctx.oidc.params?.grant_type ?? "unknown"}:error`));

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === "login") {
    const accountId = params.login_hint || "alice";
    return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  if (prompt.details.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(" "));
    }
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
server.on("request", async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname === "/test/counts") {
      res.setHeader("content-type", "application/json");
      return res.end(JSON.stringify(counts));
    }
    if (url.pathname === "/test/expire-access-tokens" && req.method === "POST") {
      store("AccessToken").clear();
      res.statusCode = 204;
      return res.end();
    }
    if (url.pathname.startsWith("/interaction/")) return await interaction(req, res);
    return callback(req, res);
  } catch (e) {
    res.statusCode = 500;
    res.end(String(e && e.stack ? e.stack : e));
  }
});

process.stdout.write(`LISTENING ${port}\n`);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
