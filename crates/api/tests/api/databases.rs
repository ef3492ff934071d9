//! SQL Query against real servers started by the tests (PostgreSQL; SQLite files): values
//! bound as parameters (a `'; DROP TABLE` value is stored as text), every column type as the
//! item shows it, TLS, "Test connection", and errors that name the server but never hold
//! the password.

use crate::{call, open};
use serde_json::{Value as Json, json};
use switchyard_testkit::servers::{MariaDb, Postgres};

async fn unlock(api: &switchyard_api::Api) {
    call(api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
}

/// Adds a PostgreSQL account for `server` (label `label`) and returns its id.
async fn add_postgres(
    api: &switchyard_api::Api,
    server: &Postgres,
    label: &str,
    password: &str,
    tls: &str,
    ca: &str,
) -> String {
    let added = call(
        api,
        "account_add",
        json!({"connectionType": "db.postgres", "label": label, "fields": {
            "host": "127.0.0.1", "port": server.port.to_string(), "database": server.database,
            "user": server.user, "password": password, "tls": tls, "caFile": ca}}),
    )
    .await
    .unwrap();
    added["id"].as_str().unwrap().to_string()
}

/// Manual Trigger → Set (the given fields) → SQL Query on `account`.
fn query_workflow(account: Json, fields: Json, sql: &str, parameters: &[&str]) -> Json {
    let assignments: Vec<Json> = fields
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| match v {
            Json::String(_) => json!({"name": k, "value": v, "type": "string"}),
            other => json!({"name": k, "value": other.to_string(), "type": "json"}),
        })
        .collect();
    json!({"switchyard": 1, "id": "db", "name": "Database",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Values", "type": "data.set", "parameters": {"assignments": assignments}},
            {"id": "q", "name": "Query", "type": "db.query",
             "parameters": {"query": sql, "parameters": parameters.iter().map(|p| json!({"value": p})).collect::<Vec<_>>()},
             "credentials": {"database": account}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}, {"from": {"node": "s"}, "to": {"node": "q"}}]})
}

async fn run(api: &switchyard_api::Api, wf: Json) -> Json {
    call(api, "run_wait", json!({"workflow": wf})).await.unwrap()
}

#[tokio::test]
async fn postgres_binds_values_as_parameters_and_maps_every_type() {
    let server = Postgres::start();
    server.psql(
        "CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL, age int4, score numeric(10,2), \
         active bool, born date, seen timestamptz, local_seen timestamp, tags text[], profile jsonb, \
         ref uuid, photo bytea, ratio float8)",
    );
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_postgres(&api, &server, "local", &server.password, "disable", "").await;
    let account = json!({"connection": "db.postgres", "account": "local"});

    // An item whose name is an injection attempt: bound as a parameter, stored as text.
    let evil = "Robert'); DROP TABLE people; --";
    let wf = query_workflow(
        account.clone(),
        json!({"name": evil, "age": 42, "score": "1234.50", "profile": {"city": "Köln", "langs": ["de", "en"]},
               "seen": "2026-12-02T10:30:00+01:00"}),
        "INSERT INTO people (name, age, score, active, born, seen, local_seen, tags, profile, ref, photo, ratio) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, ARRAY['a','b'], $8, $9, decode('89504e47', 'hex'), $10) RETURNING *",
        &[
            "{{ json.name }}",
            "{{ json.age }}",
            "{{ json.score }}",
            "{{ true }}",
            "2026-01-31",
            "{{ json.seen }}",
            "2026-12-02T09:30:00",
            "{{ json.profile }}",
            "0193a1c0-0000-7000-8000-0000000000aa",
            "{{ 0.25 }}",
        ],
    );
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    let row = &result["items"][0]["json"];
    assert_eq!(row["name"], evil);
    assert_eq!(row["age"], 42);
    assert_eq!(row["score"], "1234.50", "decimals stay exact text");
    assert_eq!(row["active"], true);
    assert_eq!(row["born"], "2026-01-31");
    assert_eq!(row["seen"], "2026-12-02T09:30:00Z", "timestamptz as RFC 3339 in UTC");
    assert_eq!(row["local_seen"], "2026-12-02T09:30:00");
    assert_eq!(row["tags"], json!(["a", "b"]));
    assert_eq!(row["profile"], json!({"city": "Köln", "langs": ["de", "en"]}));
    assert_eq!(row["ref"], "0193a1c0-0000-7000-8000-0000000000aa");
    assert_eq!(row["ratio"], 0.25);
    assert!(row.get("photo").is_none(), "binary columns are files: {row}");
    let photo = &result["items"][0]["binary"]["photo"];
    assert_eq!(photo["size"], 4, "{result}");
    assert_eq!(photo["sha256"], switchyard_testkit::sha256_hex(&[0x89, 0x50, 0x4e, 0x47]));
    // The table is still there, holding the text as it was.
    assert_eq!(server.psql("SELECT count(*) FROM people WHERE name = 'Robert''); DROP TABLE people; --'"), "1");

    // Nulls, decimals as numbers, and a type error that names the parameter.
    let mut wf =
        query_workflow(account.clone(), json!({}), "SELECT $1::int4 AS n, 2.5::numeric AS d", &["{{ json.nothing }}"]);
    wf["nodes"][2]["parameters"]["decimals"] = json!("number");
    let result = run(&api, wf).await;
    assert_eq!(result["items"][0]["json"], json!({"n": null, "d": 2.5}), "{result}");
    let wf = query_workflow(account.clone(), json!({}), "SELECT * FROM people WHERE age = $1", &["forty"]);
    let result = run(&api, wf).await;
    assert_eq!(result["error"]["code"], "invalid_parameter", "{result}");
    assert!(
        result["error"]["message"].as_str().unwrap().contains("query parameter 1 is \"forty\", which is not a integer"),
        "{result}"
    );
    assert_eq!(result["error"]["parameter"], "parameters[0].value");

    // Placeholders and parameters must pair up; SQL errors keep the server's words.
    let wf = query_workflow(account.clone(), json!({}), "SELECT $1::text, $2::text", &["one"]);
    let result = run(&api, wf).await;
    assert!(
        result["error"]["message"].as_str().unwrap().contains("2 placeholders ($1, $2 …) but 1 query parameter is set"),
        "{result}"
    );
    let wf = query_workflow(account, json!({}), "SELECT * FROM nowhere", &[]);
    let result = run(&api, wf).await;
    assert_eq!(result["error"]["code"], "query_failed");
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("PostgreSQL \"local\" at 127.0.0.1:{}", server.port)), "{message}");
    assert!(message.contains("relation \"nowhere\" does not exist (SQLSTATE 42P01)"), "{message}");
}

#[tokio::test]
async fn a_wrong_password_is_a_coded_error_without_the_password_and_test_connection_says_so() {
    let server = Postgres::start();
    let (_dir, api, _) = open();
    unlock(&api).await;
    let wrong = "not-the-password-7f3a";
    let bad = add_postgres(&api, &server, "bad", wrong, "disable", "").await;
    let good = add_postgres(&api, &server, "good", &server.password, "prefer", "").await;

    let tested = call(&api, "account_test", json!({"id": bad})).await.unwrap();
    assert_eq!(tested["ok"], false);
    let message = tested["message"].as_str().unwrap();
    assert!(message.contains("password authentication failed"), "{message}");
    assert!(!message.contains(wrong), "{message}");
    let tested = call(&api, "account_test", json!({"id": good})).await.unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(tested["message"].as_str().unwrap().contains("PostgreSQL 15"), "{tested}");

    let wf = query_workflow(json!({"connection": "db.postgres", "account": "bad"}), json!({}), "SELECT 1", &[]);
    let result = run(&api, wf).await;
    assert_eq!(result["error"]["code"], "query_failed", "{result}");
    assert!(!result.to_string().contains(wrong));
    // Nothing stored holds it either (runs, the last test's outcome).
    let accounts = call(&api, "account_list", json!({})).await.unwrap();
    assert!(!accounts.to_string().contains(wrong));
}

#[tokio::test]
async fn tls_require_and_verify_full_against_a_server_with_a_self_signed_certificate() {
    let server = Postgres::start_with(true);
    let plain = Postgres::start();
    let (_dir, api, _) = open();
    unlock(&api).await;
    let ca = server.certificate.as_ref().unwrap().display().to_string();
    let require = add_postgres(&api, &server, "require", &server.password, "require", "").await;
    let verify = add_postgres(&api, &server, "verify", &server.password, "verify-full", &ca).await;
    let unverified = add_postgres(&api, &server, "unverified", &server.password, "verify-full", "").await;
    let no_tls = add_postgres(&api, &plain, "plain", &plain.password, "require", "").await;
    for (id, ok) in [(&require, true), (&verify, true), (&unverified, false), (&no_tls, false)] {
        let tested = call(&api, "account_test", json!({"id": id})).await.unwrap();
        assert_eq!(tested["ok"], ok, "{id}: {tested}");
    }
    let wf = query_workflow(
        json!({"connection": "db.postgres", "account": "verify"}),
        json!({}),
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    );
    let result = run(&api, wf).await;
    assert_eq!(result["items"][0]["json"]["ssl"], true, "{result}");
}

#[tokio::test]
async fn sqlite_binds_values_as_parameters_and_returns_rows_and_files() {
    let (dir, api, _) = open();
    unlock(&api).await;
    let file = dir.path().join("shop db.sqlite");
    call(
        &api,
        "account_add",
        json!({"connectionType": "db.sqlite", "label": "shop", "fields": {"path": file.display().to_string()}}),
    )
    .await
    .unwrap();
    let account = json!({"connection": "db.sqlite", "account": "shop"});
    let setup = query_workflow(
        account.clone(),
        json!({}),
        "CREATE TABLE people (name TEXT, age INTEGER, score REAL, photo BLOB)",
        &[],
    );
    assert_eq!(run(&api, setup).await["status"], "success");
    let evil = "x'); DROP TABLE people; --";
    let insert = query_workflow(
        account.clone(),
        json!({"name": evil}),
        "INSERT INTO people VALUES (?, ?, ?, x'00ff') RETURNING *",
        &["{{ json.name }}", "{{ 7 }}", "{{ 1.5 }}"],
    );
    let result = run(&api, insert).await;
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["items"][0]["json"], json!({"name": evil, "age": 7, "score": 1.5}));
    assert_eq!(result["items"][0]["binary"]["photo"]["size"], 2);
    let count = query_workflow(account, json!({}), "SELECT count(*) AS n FROM people", &[]);
    assert_eq!(run(&api, count).await["items"][0]["json"]["n"], 1);
}

#[tokio::test]
async fn an_expression_in_the_sql_text_is_refused_with_the_way_to_do_it() {
    let (_dir, api, _) = open();
    let wf = query_workflow(
        json!({"connection": "db.sqlite"}),
        json!({}),
        "SELECT * FROM t WHERE name = '{{ json.name }}'",
        &[],
    );
    let refused = call(&api, "workflow_validate", json!({"workflow": wf})).await;
    let text = format!("{refused:?}");
    assert!(text.contains("SQL injection") && text.contains("parameters.query"), "{text}");
}

#[tokio::test]
async fn mariadb_binds_values_as_parameters_and_maps_types_with_real_authentication() {
    let server = MariaDb::start();
    server.root_sql(
        "CREATE TABLE app.people (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, age INT, \
         score DECIMAL(10,2), active BOOLEAN, born DATE, seen DATETIME, profile JSON, photo BLOB, ratio DOUBLE, \
         big BIGINT UNSIGNED)",
    );
    let (_dir, api, _) = open();
    unlock(&api).await;
    for (label, password) in [("local", server.password.as_str()), ("bad", "wrong-password-9c1")] {
        call(
            &api,
            "account_add",
            json!({"connectionType": "db.mysql", "label": label, "fields": {
                "host": "127.0.0.1", "port": server.port.to_string(), "database": server.database,
                "user": server.user, "password": password, "tls": "disable"}}),
        )
        .await
        .unwrap();
    }
    let account = json!({"connection": "db.mysql", "account": "local"});
    let evil = "Robert'); DROP TABLE people; --";
    let insert = query_workflow(
        account.clone(),
        json!({"name": evil, "age": "42"}),
        "INSERT INTO people (name, age, score, active, born, seen, profile, photo, ratio, big) \
         VALUES (?, ?, ?, ?, ?, ?, ?, x'00ff10', ?, 18446744073709551615)",
        &[
            "{{ json.name }}",
            "{{ json.age }}",
            "1234.50",
            "{{ true }}",
            "2026-01-31",
            "2026-12-02 09:30:00",
            "{\"city\": \"Köln\"}",
            "{{ 0.25 }}",
        ],
    );
    let result = run(&api, insert).await;
    assert_eq!(result["status"], "success", "{result}");
    let select = query_workflow(account.clone(), json!({}), "SELECT * FROM people WHERE name = ?", &[evil]);
    let result = run(&api, select).await;
    let row = &result["items"][0]["json"];
    assert_eq!(row["name"], evil, "{result}");
    assert_eq!(row["age"], 42, "text into an INT column: the server converts");
    assert_eq!(row["score"], "1234.50");
    assert_eq!(row["active"], true);
    assert_eq!(row["born"], "2026-01-31");
    assert_eq!(row["seen"], "2026-12-02T09:30:00");
    assert_eq!(row["ratio"], 0.25);
    assert_eq!(row["big"], "18446744073709551615", "beyond i64: exact text");
    assert_eq!(result["items"][0]["binary"]["photo"]["size"], 3, "{result}");
    assert_eq!(server.root_sql("SELECT count(*) FROM app.people"), "1", "the table is still there");

    // A wrong password: a coded error without the password; Test connection agrees.
    let bad = query_workflow(json!({"connection": "db.mysql", "account": "bad"}), json!({}), "SELECT 1", &[]);
    let result = run(&api, bad).await;
    assert_eq!(result["error"]["code"], "query_failed", "{result}");
    assert!(result["error"]["message"].as_str().unwrap().contains("Access denied"), "{result}");
    assert!(!result.to_string().contains("wrong-password-9c1"));
    let accounts = call(&api, "account_list", json!({})).await.unwrap();
    let local = accounts["accounts"].as_array().unwrap().iter().find(|a| a["label"] == "local").unwrap()["id"].clone();
    let tested = call(&api, "account_test", json!({"id": local})).await.unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(tested["message"].as_str().unwrap().contains("MariaDB"), "{tested}");
}

#[tokio::test]
async fn mariadb_tls_require_and_verify_full_against_a_server_with_a_self_signed_certificate() {
    let server = MariaDb::start_with(true);
    let (_dir, api, _) = open();
    unlock(&api).await;
    let ca = server.certificate.as_ref().unwrap().display().to_string();
    let mut ids = Vec::new();
    for (label, tls, ca_file) in
        [("require", "require", ""), ("verify", "verify-full", ca.as_str()), ("unverified", "verify-full", "")]
    {
        let added = call(
            &api,
            "account_add",
            json!({"connectionType": "db.mysql", "label": label, "fields": {
                "host": "127.0.0.1", "port": server.port.to_string(), "database": server.database,
                "user": server.user, "password": server.password, "tls": tls, "caFile": ca_file}}),
        )
        .await
        .unwrap();
        ids.push(added["id"].clone());
    }
    for (id, ok) in ids.iter().zip([true, true, false]) {
        let tested = call(&api, "account_test", json!({"id": id})).await.unwrap();
        assert_eq!(tested["ok"], ok, "{id}: {tested}");
    }
    // The session really is encrypted.
    let wf = query_workflow(
        json!({"connection": "db.mysql", "account": "verify"}),
        json!({}),
        "SELECT VARIABLE_VALUE AS cipher FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'",
        &[],
    );
    let result = run(&api, wf).await;
    assert!(!result["items"][0]["json"]["cipher"].as_str().unwrap_or("").is_empty(), "{result}");
}
