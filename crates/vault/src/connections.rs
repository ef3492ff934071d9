//! The built-in connection types: a generic HTTP type per auth kind, and OAuth2 presets for
//! GitHub, Slack and Google (whose accounts may go to the service's API hosts from the start;
//! a generic account starts with the host of its test URL), and chat model servers with
//! presets for the usual ones.

use switchyard_model::connection::{AuthKind, ConnectionField as F, ConnectionPreset, ConnectionType, TestRequest};

fn test_url() -> F {
    F::text("testUrl", "Test URL").optional().describe("\"Test connection\" sends an authenticated GET here.")
}

fn oauth_code_fields(auth_url: &str, token_url: &str, scopes: &str, auth_params: &str, revoke_url: &str) -> Vec<F> {
    vec![
        F::text("clientId", "Client ID"),
        F::secret("clientSecret", "Client secret").optional().describe("Leave empty for a public (PKCE-only) client."),
        F::text("authUrl", "Authorization URL").default_value(auth_url),
        F::text("tokenUrl", "Token URL").default_value(token_url),
        F::text("scopes", "Scopes").optional().default_value(scopes).describe("Separated by spaces."),
        F::text("authParams", "Extra authorization parameters")
            .optional()
            .default_value(auth_params)
            .describe("Added to the authorization URL, as a query string (e.g. prompt=consent)."),
        F::text("revokeUrl", "Revocation URL")
            .optional()
            .default_value(revoke_url)
            .describe("Tokens are revoked here when the account is removed."),
    ]
}

fn kind(id: &str, name: &str, description: &str, auth: AuthKind, fields: Vec<F>, test: Option<&str>) -> ConnectionType {
    ConnectionType {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        auth,
        fields,
        test: test.map(|url| TestRequest { method: "GET".into(), url: url.into() }),
        hosts: Vec::new(),
        presets: Vec::new(),
    }
}

/// A service's type: its accounts may go to these hosts from the start.
fn service(mut ty: ConnectionType, hosts: &[&str]) -> ConnectionType {
    ty.hosts = hosts.iter().map(|h| h.to_string()).collect();
    ty
}

/// A database server: where it is, who logs in, and how the connection is encrypted. Its
/// accounts may connect to their own `host:port` from the start.
fn database(id: &str, name: &str, description: &str, port: &str) -> ConnectionType {
    kind(
        id,
        name,
        description,
        AuthKind::Database,
        vec![
            F::text("host", "Host").default_value("127.0.0.1"),
            F::text("port", "Port").default_value(port),
            F::text("database", "Database"),
            F::text("user", "User"),
            F::secret("password", "Password").optional(),
            F::text("tls", "TLS")
                .default_value("prefer")
                .describe("disable, prefer (TLS when the server offers it), require, or verify-full (check the certificate and host name)."),
            ca_file(),
        ],
        None,
    )
}

fn ca_file() -> F {
    F::text("caFile", "CA certificate file")
        .optional()
        .describe("A PEM file to trust instead of the system's certificates (for a server with a private CA).")
}

/// A chat model server speaking OpenAI's `/v1/chat/completions`, with presets for the
/// usual hosted and local servers.
fn chat_models() -> ConnectionType {
    let mut ty = kind(
        "llm.openaiCompatible",
        "Chat model (OpenAI-compatible)",
        "A chat model server speaking OpenAI's API: OpenAI, Ollama, LM Studio, llama.cpp's server, Groq, OpenRouter, \
         Mistral and others. \"Test connection\" lists its models.",
        AuthKind::Llm,
        vec![
            F::text("baseUrl", "Base URL")
                .default_value("http://127.0.0.1:11434/v1")
                .describe("Where the API starts: requests go to <base URL>/chat/completions and <base URL>/models."),
            F::secret("apiKey", "API key").optional().describe("Sent as a bearer token. Local servers need none."),
            F::text("model", "Default model")
                .optional()
                .describe("Used by AI nodes that name no model, e.g. llama3.2 or gpt-4o-mini."),
            F::text("headers", "Extra headers")
                .optional()
                .describe("One per line, as Name: value (e.g. OpenRouter's HTTP-Referer)."),
        ],
        Some("{baseUrl}/models"),
    );
    let preset = |id: &str, name: &str, base: &str, model: &str, note: &str| ConnectionPreset {
        id: id.into(),
        name: name.into(),
        fields: [("baseUrl", base), ("model", model)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        note: note.into(),
    };
    ty.presets = vec![
        preset(
            "openai",
            "OpenAI",
            "https://api.openai.com/v1",
            "gpt-4o-mini",
            "Needs an API key (platform.openai.com).",
        ),
        preset(
            "ollama",
            "Ollama",
            "http://127.0.0.1:11434/v1",
            "llama3.2",
            "Start Ollama first; `ollama pull llama3.2` fetches the model. No key.",
        ),
        preset("lmstudio", "LM Studio", "http://127.0.0.1:1234/v1", "", "Start LM Studio's local server. No key."),
        preset(
            "llamacpp",
            "llama.cpp server",
            "http://127.0.0.1:8080/v1",
            "",
            "Start llama-server with a model (-m model.gguf). No key.",
        ),
        preset(
            "groq",
            "Groq",
            "https://api.groq.com/openai/v1",
            "llama-3.1-8b-instant",
            "Needs an API key (console.groq.com).",
        ),
        preset(
            "openrouter",
            "OpenRouter",
            "https://openrouter.ai/api/v1",
            "openai/gpt-4o-mini",
            "Needs an API key (openrouter.ai).",
        ),
        preset(
            "mistral",
            "Mistral",
            "https://api.mistral.ai/v1",
            "mistral-small-latest",
            "Needs an API key (console.mistral.ai).",
        ),
    ];
    ty
}

pub fn builtin() -> Vec<ConnectionType> {
    let mut generic_code = oauth_code_fields("", "", "", "", "");
    generic_code.push(test_url());
    vec![
        kind(
            "http.apiKeyHeader",
            "API key in a header",
            "Sends a key in a request header, e.g. X-API-Key.",
            AuthKind::ApiKeyHeader,
            vec![
                F::text("headerName", "Header name").default_value("X-API-Key"),
                F::secret("apiKey", "API key"),
                test_url(),
            ],
            Some("{testUrl}"),
        ),
        kind(
            "http.apiKeyQuery",
            "API key in the query string",
            "Adds a key to every request's query string.",
            AuthKind::ApiKeyQuery,
            vec![
                F::text("paramName", "Parameter name").default_value("api_key"),
                F::secret("apiKey", "API key"),
                test_url(),
            ],
            Some("{testUrl}"),
        ),
        kind(
            "http.bearer",
            "Bearer token",
            "Sends Authorization: Bearer <token>.",
            AuthKind::Bearer,
            vec![F::secret("token", "Token"), test_url()],
            Some("{testUrl}"),
        ),
        kind(
            "switchyard.server",
            "Switchyard server",
            "A Switchyard server (`switchyard serve`) that workflows are deployed to with \"Deploy to…\": its URL and an \
             API token made there with scope admin. The token goes only to the server's host.",
            AuthKind::Bearer,
            vec![
                F::text("baseUrl", "Server URL").describe(
                    "Where the server answers, e.g. https://automation.example.com or http://127.0.0.1:5680.",
                ),
                F::secret("token", "API token")
                    .describe("Made on the server: `switchyard tokens create --scope admin`."),
            ],
            Some("{baseUrl}/api/v1/info"),
        ),
        kind(
            "http.basic",
            "Basic auth",
            "Sends a user name and password (Authorization: Basic).",
            AuthKind::Basic,
            vec![F::text("username", "User name"), F::secret("password", "Password"), test_url()],
            Some("{testUrl}"),
        ),
        kind(
            "http.oauth2",
            "OAuth2 (sign in)",
            "Any OAuth2 provider: sign in through the browser (authorization code with PKCE); tokens refresh automatically.",
            AuthKind::OAuth2Code,
            generic_code,
            Some("{testUrl}"),
        ),
        kind(
            "http.oauth2ClientCredentials",
            "OAuth2 client credentials",
            "Machine-to-machine OAuth2: the app gets tokens with its own client ID and secret.",
            AuthKind::OAuth2ClientCredentials,
            vec![
                F::text("clientId", "Client ID"),
                F::secret("clientSecret", "Client secret"),
                F::text("tokenUrl", "Token URL"),
                F::text("scopes", "Scopes").optional(),
                test_url(),
            ],
            Some("{testUrl}"),
        ),
        database("db.postgres", "PostgreSQL", "A PostgreSQL server (9.6 or newer).", "5432"),
        database("db.mysql", "MySQL / MariaDB", "A MySQL (5.7 or newer) or MariaDB (10.3 or newer) server.", "3306"),
        kind(
            "db.sqlite",
            "SQLite",
            "A SQLite database file on this computer.",
            AuthKind::Database,
            vec![F::text("path", "Database file").describe("A full path; the file is created when missing.")],
            None,
        ),
        kind(
            "email.smtp",
            "Email (SMTP)",
            "An outgoing mail server: email is sent through it.",
            AuthKind::Mail,
            vec![
                F::text("host", "Host"),
                F::text("port", "Port").default_value("587"),
                F::text("security", "Security")
                    .default_value("starttls")
                    .describe("starttls (port 587), tls (port 465) or none (only for a server on this computer)."),
                F::text("user", "User").optional(),
                F::secret("password", "Password").optional(),
                F::text("from", "From address").describe("The sender, e.g. Reports <reports@example.com>."),
                ca_file(),
            ],
            None,
        ),
        kind(
            "email.imap",
            "Email (IMAP)",
            "A mailbox on an IMAP server: new messages start runs.",
            AuthKind::Mail,
            vec![
                F::text("host", "Host"),
                F::text("port", "Port").default_value("993"),
                F::text("security", "Security")
                    .default_value("tls")
                    .describe("tls (port 993), starttls (port 143) or none (only for a server on this computer)."),
                F::text("user", "User"),
                F::secret("password", "Password"),
                F::text("mailbox", "Mailbox").default_value("INBOX"),
                ca_file(),
            ],
            None,
        ),
        chat_models(),
        kind(
            "webhook.secret",
            "Webhook signing secret",
            "The secret a webhook sender and receiver share: incoming webhooks verify their signature with it, outgoing ones are signed with it.",
            AuthKind::SigningSecret,
            vec![F::secret("secret", "Secret")],
            None,
        ),
        service(
            kind(
                "github",
                "GitHub",
                "GitHub's REST and GraphQL APIs, signed in as you (OAuth app).",
                AuthKind::OAuth2Code,
                oauth_code_fields(
                    "https://github.com/login/oauth/authorize",
                    "https://github.com/login/oauth/access_token",
                    "repo read:user",
                    "",
                    "",
                ),
                Some("https://api.github.com/user"),
            ),
            &["api.github.com", "uploads.github.com"],
        ),
        service(
            kind(
                "slack",
                "Slack",
                "Slack's Web API, signed in to a workspace.",
                AuthKind::OAuth2Code,
                oauth_code_fields(
                    "https://slack.com/oauth/v2/authorize",
                    "https://slack.com/api/oauth.v2.access",
                    "chat:write channels:read",
                    "",
                    "https://slack.com/api/auth.revoke",
                ),
                Some("https://slack.com/api/auth.test"),
            ),
            &["slack.com", "*.slack.com"],
        ),
        service(
            kind(
                "google",
                "Google",
                "Google APIs (Sheets, Drive, Gmail, …), signed in with a Google account.",
                AuthKind::OAuth2Code,
                oauth_code_fields(
                    "https://accounts.google.com/o/oauth2/v2/auth",
                    "https://oauth2.googleapis.com/token",
                    "openid email",
                    "access_type=offline&prompt=consent",
                    "https://oauth2.googleapis.com/revoke",
                ),
                Some("https://openidconnect.googleapis.com/v1/userinfo"),
            ),
            &["*.googleapis.com"],
        ),
    ]
}
