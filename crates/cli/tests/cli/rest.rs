//! The REST API of `switchyard serve` (issue 19), called over real HTTP from outside: token
//! scopes on every route of the OpenAPI document, revocation from a second process, rate
//! limits, the fields it refuses, a run, the docs page, and the document checked by external
//! tools (openapi-spec-validator, and schemathesis walking every route).

use super::{answering_hook, cli, repo, spawn_serve, stdout_json};
use serde_json::{Value as Json, json};
use std::io::{Read, Write};
use std::path::Path;

pub(super) struct Answer {
    pub(super) status: u16,
    /// Header lines, lowercase names.
    headers: Vec<(String, String)>,
    pub(super) body: String,
}

impl Answer {
    pub(super) fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }
}

/// One HTTP/1.1 request on its own connection.
pub(super) fn call(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<&Json>) -> Answer {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let body = body.map(Json::to_string).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let body = if headers.iter().any(|(n, v)| n == "transfer-encoding" && v == "chunked") {
        unchunk(body)
    } else {
        body.to_string()
    };
    Answer { status, headers, body }
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// A token made with `switchyard tokens create`: (id, secret).
fn token(data: &Path, name: &str, scope: &str) -> (String, String) {
    let output = cli(data).args(["tokens", "create", "--name", name, "--scope", scope, "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let created = stdout_json(&output);
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("syt_") && secret.len() == 68, "{secret}");
    (created["token"]["id"].as_str().unwrap().to_string(), secret)
}

/// A data folder with one active webhook workflow (id `hooked`) that answers with a Set node.
fn data_with_workflow() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("hooked.json");
    std::fs::write(&file, workflow_json().to_string()).unwrap();
    cli(data.path()).arg("import").arg(&file).arg("--keep-id").assert().success();
    cli(data.path()).args(["trust", "hooked", "--yes"]).assert().success();
    cli(data.path()).args(["activate", "hooked"]).assert().success();
    data
}

fn workflow_json() -> Json {
    answering_hook("hooked", "Hooked", "doubled", "{{ json.n * 2 }}")
}

/// SIGTERM, then `serve` exits 0.
pub(super) fn stop(server: &mut std::process::Child) {
    let killed = std::process::Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "serve exits 0 after SIGTERM: {status:?}");
}

const SCOPES: [&str; 3] = ["read", "run", "admin"];

#[test]
fn every_documented_route_checks_the_token_and_its_scope_and_a_revoked_token_is_refused() {
    let data = data_with_workflow();
    let secrets: Vec<(String, String)> = SCOPES.iter().map(|s| token(data.path(), &format!("{s} token"), s)).collect();
    let (mut server, _stderr, _port, addr) = spawn_serve(data.path(), &["--api-rate-limit", "10000"]);

    // The served document is the committed one (docs/api/openapi.json, checked for drift).
    let served = call(&addr, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(served.status, 200);
    let document = served.json();
    let committed: Json =
        serde_json::from_str(&std::fs::read_to_string(repo().join("docs/api/openapi.json")).unwrap()).unwrap();
    assert_eq!(document, committed);
    assert_eq!(document["openapi"], "3.1.0");

    let mut walked = 0;
    for (template, operations) in document["paths"].as_object().unwrap() {
        // Ids that name nothing: a write reached with enough scope fails as documented
        // without changing anything this test needs.
        let path = format!("/api/v1{template}")
            .replace("{version}", "1")
            .replace("{id}", "nothing-here")
            .replace("{executionId}", "nothing-here")
            .replace("{name}", "nothing-here");
        for (method, operation) in operations.as_object().unwrap() {
            let method = method.to_ascii_uppercase();
            let needed = SCOPES.iter().position(|s| operation["x-scope"] == *s).expect("every operation has a scope");
            let body = (method == "POST" || method == "PUT").then(|| json!({}));
            let documented: Vec<u16> =
                operation["responses"].as_object().unwrap().keys().map(|k| k.parse().unwrap()).collect();

            let anonymous = call(&addr, &method, &path, None, body.as_ref());
            assert_eq!(anonymous.status, 401, "{method} {path} without a token: {}", anonymous.body);
            assert_eq!(anonymous.code(), "unauthorized");
            assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
            let forged = call(&addr, &method, &path, Some(&format!("syt_{}", "0".repeat(64))), body.as_ref());
            assert_eq!((forged.status, forged.code()), (401, "unauthorized".to_string()), "{method} {path}");

            for (held, (_, secret)) in secrets.iter().enumerate() {
                let answer = call(&addr, &method, &path, Some(secret), body.as_ref());
                if held < needed {
                    assert_eq!(answer.status, 403, "{method} {path} with a {} token: {}", SCOPES[held], answer.body);
                    assert_eq!(answer.code(), "forbidden");
                    assert!(answer.json()["message"].as_str().unwrap().contains(SCOPES[needed]), "{}", answer.body);
                } else {
                    assert!(
                        documented.contains(&answer.status) && answer.status != 401 && answer.status != 403,
                        "{method} {path} with a {} token answered {} (documented: {documented:?}): {}",
                        SCOPES[held],
                        answer.status,
                        answer.body
                    );
                    assert!(answer.header("content-type").is_some_and(|t| t.starts_with("application/json")));
                    let answer = answer.json();
                    assert!(answer.is_object(), "{method} {path}: {answer}");
                }
            }
            walked += 1;
        }
    }
    assert!(walked >= 55, "only {walked} operations documented");

    // Reads work; the workflow is there.
    let read = &secrets[0].1;
    // Where the server keeps its data is shown to admin tokens only.
    let info = call(&addr, "GET", "/api/v1/info", Some(read), None).json();
    assert_eq!(info["dataDir"], "(shown to admin tokens only)", "{info}");
    assert_eq!(info["databasePath"], "(shown to admin tokens only)", "{info}");
    assert!(info["version"].is_string() && info["nodeTypes"].as_u64().unwrap() > 10, "{info}");
    let info = call(&addr, "GET", "/api/v1/info", Some(&secrets[2].1), None).json();
    assert_eq!(info["dataDir"], data.path().display().to_string(), "{info}");
    let list = call(&addr, "GET", "/api/v1/workflows", Some(read), None);
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["workflows"][0]["id"], "hooked");

    // Revoked by a second process (the CLI), refused by the running server at once.
    cli(data.path()).args(["tokens", "revoke", &secrets[0].0]).assert().success();
    let refused = call(&addr, "GET", "/api/v1/workflows", Some(read), None);
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused.json()["message"].as_str().unwrap().contains("revoked"), "{}", refused.body);
    let listed = stdout_json(&cli(data.path()).args(["tokens", "list", "--json"]).output().unwrap());
    let revoked = listed.as_array().unwrap().iter().find(|t| t["id"] == secrets[0].0.as_str()).unwrap();
    assert!(revoked["revokedAt"].is_string() && revoked["lastUsedAt"].is_string(), "{revoked}");
    // Nothing lists a token itself.
    assert!(!listed.to_string().contains(read.as_str()));

    stop(&mut server);
}

#[test]
fn a_run_token_runs_saved_workflows_only_and_each_token_has_its_own_rate_limit() {
    let data = data_with_workflow();
    let (_, run) = token(data.path(), "runner", "run");
    let (_, admin) = token(data.path(), "admin", "admin");
    let (mut server, _stderr, _port, addr) = spawn_serve(data.path(), &["--api-rate-limit", "3"]);

    let ran = call(
        &addr,
        "POST",
        "/api/v1/runs/wait",
        Some(&run),
        Some(&json!({"workflowId": "hooked", "input": {"n": 21}})),
    );
    assert_eq!(ran.status, 200, "{}", ran.body);
    let result = ran.json();
    assert_eq!(result["status"], "success", "{result}");
    let execution = result["executionId"].as_str().unwrap().to_string();
    let got = call(&addr, "GET", &format!("/api/v1/executions/{execution}"), Some(&admin), None);
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.contains("\"doubled\":42"), "{}", got.body);

    // A workflow sent along with the request was never saved nor reviewed: refused.
    let unsaved = call(&addr, "POST", "/api/v1/runs", Some(&run), Some(&json!({"workflow": workflow_json()})));
    assert_eq!((unsaved.status, unsaved.code()), (400, "bad_request".to_string()), "{}", unsaved.body);
    assert!(unsaved.body.contains("workflow: not taken over HTTP"), "{}", unsaved.body);
    // Nor does an export write a file on the server.
    let export = call(&addr, "GET", "/api/v1/workflows/hooked/export?path=/tmp/x.json", Some(&admin), None);
    assert_eq!(export.status, 400, "{}", export.body);
    // Query values are typed, unknown ones named.
    let typed = call(&addr, "GET", "/api/v1/executions?limit=many", Some(&admin), None);
    assert!(typed.status == 400 && typed.body.contains("limit"), "{}", typed.body);
    let unknown = call(&addr, "GET", "/api/v1/executions?colour=red", Some(&admin), None);
    assert!(unknown.status == 400 && unknown.body.contains("colour"), "{}", unknown.body);
    let bad_json = call(&addr, "POST", "/api/v1/workflows", Some(&admin), None);
    assert_eq!(bad_json.status, 400, "{}", bad_json.body);

    // 3 per second, bursts of 6: a quick burst of 20 is cut off with 429 and Retry-After.
    let limited: Vec<Answer> = (0..20).map(|_| call(&addr, "GET", "/api/v1/workflows", Some(&run), None)).collect();
    let cut = limited.iter().find(|a| a.status == 429).expect("a burst of 20 is limited");
    assert_eq!(cut.code(), "rate_limited");
    assert!(cut.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)), "{:?}", cut.headers);
    assert!(limited.iter().filter(|a| a.status == 200).count() >= 3);
    // Another token is not held back by the first one's burst.
    let other = call(&addr, "GET", "/api/v1/workflows", Some(&admin), None);
    assert_eq!(other.status, 200, "{}", other.body);

    // The docs page and its script come from the binary, under a policy that loads nothing
    // from elsewhere.
    let page = call(&addr, "GET", "/api/v1/docs", None, None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<redoc spec-url=\"openapi.json\""), "{}", page.body);
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"), "{policy}");
    let script = call(&addr, "GET", "/api/v1/redoc.standalone.js", None, None);
    assert_eq!(script.status, 200);
    assert!(script.body.len() > 1_000_000 && script.header("content-type") == Some("text/javascript"));

    stop(&mut server);
}

/// The document passes an external validator, and schemathesis (a property-based API tester)
/// walks every operation with generated requests: no server errors, statuses, content types
/// and response bodies as documented, schema-invalid requests refused.
#[test]
fn the_openapi_document_validates_and_schemathesis_finds_every_route_as_documented() {
    let python = switchyard_testkit::python();
    let validated = std::process::Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(repo().join("docs/api/openapi.json"))
        .output()
        .unwrap();
    assert!(
        validated.status.success(),
        "openapi-spec-validator (run `cargo xtask setup`): {}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );

    let data = data_with_workflow();
    let (_, admin) = token(data.path(), "schemathesis", "admin");
    let (mut server, _stderr, _port, addr) = spawn_serve(data.path(), &["--api-rate-limit", "100000"]);
    // Validating is answering 200 with the issues of whatever was sent, valid or not.
    let config = data.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        "[checks]\npositive_data_acceptance.enabled = false\n\n[[operations]]\ninclude-operation-id = \"workflow_validate\"\nchecks.negative_data_rejection.enabled = false\n",
    )
    .unwrap();
    let output = std::process::Command::new(&python)
        .args(["-m", "schemathesis.cli", "--config-file"])
        .arg(&config)
        .arg("run")
        .arg(format!("http://{addr}/api/v1/openapi.json"))
        .args(["--url", &format!("http://{addr}/api/v1")])
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        // Revoking tokens would lock the walk out; testing accounts and alert actions would
        // send requests to made-up hosts.
        .args(["--exclude-operation-id", "token_revoke"])
        .args(["--exclude-operation-id", "account_test"])
        .args(["--exclude-operation-id", "alert_rule_test"])
        .args(["--max-examples", "10", "--seed", "19", "--no-color"])
        .current_dir(data.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found routes that do not answer as documented:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    stop(&mut server);
}
