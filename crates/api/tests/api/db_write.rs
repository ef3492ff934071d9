//! SQL Write against real servers started by the tests (PostgreSQL, MariaDB) and SQLite
//! files: the same cases on each — values that look like SQL stay values, upsert, update by
//! key, the written rows returned, and a failing row that rolls the whole node run back (or
//! only its batch, when asked).

use crate::{call, open};
use serde_json::{Value as Json, json};
use switchyard_testkit::servers::{MariaDb, Postgres};

const EVIL: &str = "Robert'); DROP TABLE people; --";

/// Manual Trigger with `items` pinned → SQL Write on `account` with `parameters`.
fn write_workflow(account: &Json, items: Vec<Json>, parameters: Json) -> Json {
    let pinned: Vec<Json> = items.into_iter().map(|json| json!({ "json": json })).collect();
    json!({"switchyard": 1, "id": "dbw", "name": "Write rows",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "w", "name": "Write", "type": "db.write", "parameters": parameters, "credentials": {"database": account}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "w"}}],
        "pinData": {"t": pinned}})
}

/// SQL Query on `account` (no parameters); its items' JSON.
async fn sql(api: &switchyard_api::Api, account: &Json, text: &str) -> Vec<Json> {
    let wf = json!({"switchyard": 1, "id": "dbq", "name": "Query",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "q", "name": "Query", "type": "db.query", "parameters": {"query": text}, "credentials": {"database": account}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "q"}}]});
    let result = call(api, "run_wait", json!({"workflow": wf})).await.unwrap();
    assert_eq!(result["status"], "success", "{text}: {result}");
    result["items"].as_array().unwrap().iter().map(|i| i["json"].clone()).collect()
}

async fn count(api: &switchyard_api::Api, account: &Json) -> i64 {
    sql(api, account, "SELECT count(*) AS n FROM people").await[0]["n"].as_i64().unwrap()
}

async fn run(api: &switchyard_api::Api, wf: Json) -> Json {
    call(api, "run_wait", json!({"workflow": wf})).await.unwrap()
}

fn person(id: i64, name: &str) -> Json {
    json!({"id": id, "name": name, "profile": {"city": "Köln", "tags": ["a", "b"]}, "score": "12.50", "note": "not a column"})
}

/// The same cases against any of the three databases; `people` exists and is empty.
async fn exercise(api: &switchyard_api::Api, account: &Json, database: &str) {
    // Insert, columns from the fields (one left out), a value that looks like SQL, nulls.
    let mut third = person(3, "Null Score");
    third["score"] = Json::Null;
    let items = vec![person(1, EVIL), person(2, "Ann \"Quote\" O'Neil\ttab\\slash\nline"), third];
    let wf = write_workflow(account, items, json!({"table": "people", "skipFields": "note"}));
    let result = run(api, wf).await;
    assert_eq!(result["status"], "success", "{database}: {result}");
    assert_eq!(result["items"][0]["json"]["rows"], 3, "{database}: {result}");
    assert_eq!(result["items"][0]["json"]["affected"], 3, "{database}: {result}");
    let rows = sql(api, account, "SELECT id, name, profile, score FROM people ORDER BY id").await;
    assert_eq!(rows.len(), 3, "{database}");
    assert_eq!(rows[0]["name"], EVIL, "{database}: stored as text");
    assert_eq!(rows[1]["name"], "Ann \"Quote\" O'Neil\ttab\\slash\nline", "{database}");
    let profile = match &rows[0]["profile"] {
        Json::String(text) => serde_json::from_str(text).unwrap(), // SQLite keeps JSON as text
        other => other.clone(),
    };
    assert_eq!(profile, json!({"city": "Köln", "tags": ["a", "b"]}), "{database}");
    assert!(rows[2]["score"].is_null(), "{database}: {rows:?}");

    // Upsert: id 1 changes, id 4 is new.
    let items = vec![json!({"id": 1, "name": "Bobby"}), json!({"id": 4, "name": "Dee"})];
    let wf = write_workflow(account, items, json!({"table": "people", "operation": "upsert", "keyColumns": "id"}));
    let result = run(api, wf).await;
    assert_eq!(result["status"], "success", "{database}: {result}");
    let names: Vec<Json> =
        sql(api, account, "SELECT name FROM people ORDER BY id").await.into_iter().map(|r| r["name"].clone()).collect();
    assert_eq!(names[0], "Bobby", "{database}");
    assert_eq!(names[3], "Dee", "{database}");
    assert_eq!(names.len(), 4, "{database}");

    // Update by key with mapped columns (expressions over the item).
    let items =
        vec![json!({"key": 2, "first": "Ann", "last": "Lee"}), json!({"key": 99, "first": "No", "last": "One"})];
    let wf = write_workflow(
        account,
        items,
        json!({"table": "people", "operation": "update", "keyColumns": "id", "mapping": "manual",
               "columns": [{"column": "id", "value": "{{ json.key }}"},
                           {"column": "name", "value": "{{ json.first + \" \" + json.last }}"}]}),
    );
    let result = run(api, wf).await;
    assert_eq!(result["status"], "success", "{database}: {result}");
    assert_eq!(result["items"][0]["json"]["rows"], 2, "{database}");
    assert_eq!(result["items"][0]["json"]["affected"], 1, "{database}: only id 2 exists: {result}");
    assert_eq!(sql(api, account, "SELECT name FROM people WHERE id = 2").await[0]["name"], "Ann Lee", "{database}");

    // The written rows, as the database returns them, paired with their items.
    let wf = write_workflow(
        account,
        vec![json!({"id": 5, "name": "Eve"}), json!({"id": 6, "name": "Fay"})],
        json!({"table": "people", "output": "rows"}),
    );
    let result = run(api, wf).await;
    assert_eq!(result["status"], "success", "{database}: {result}");
    assert_eq!(result["items"][1]["json"]["name"], "Fay", "{database}: {result}");
    assert_eq!(result["items"][1]["json"]["id"], 6, "{database}");

    // 2,500 rows in batches of 1,000 where item 2,100 breaks a constraint: nothing is
    // written, and the error says which items.
    assert_eq!(count(api, account).await, 6);
    let items: Vec<Json> = (0..2500)
        .map(|i| {
            if i == 2100 {
                json!({"id": 1000 + i, "name": null})
            } else {
                json!({"id": 1000 + i, "name": format!("n{i}")})
            }
        })
        .collect();
    let wf = write_workflow(account, items.clone(), json!({"table": "people", "batchSize": 1000}));
    let result = run(api, wf).await;
    assert_eq!(result["status"], "error", "{database}: {result}");
    let message = result["error"]["message"].as_str().unwrap();
    assert_eq!(result["error"]["code"], "query_failed", "{database}: {result}");
    assert!(message.contains("nothing was written"), "{database}: {message}");
    assert!(message.contains("table people"), "{database}: {message}");
    if database == "PostgreSQL" {
        // COPY names the line: the item itself.
        assert!(message.contains("item 2100"), "{database}: {message}");
    } else {
        assert!(message.contains("items 2000–2499"), "{database}: {message}");
    }
    assert_eq!(count(api, account).await, 6, "{database}: the whole run was rolled back");

    // One transaction per batch: the two batches before the failing one stay.
    let wf = write_workflow(account, items, json!({"table": "people", "batchSize": 1000, "transaction": "batch"}));
    let result = run(api, wf).await;
    assert_eq!(result["status"], "error", "{database}: {result}");
    assert_eq!(count(api, account).await, 2006, "{database}: earlier batches committed");

    // A key column that is not written, and a table that does not exist: clear errors.
    let wf = write_workflow(
        account,
        vec![json!({"name": "x"})],
        json!({"table": "people", "operation": "upsert", "keyColumns": "id"}),
    );
    let result = run(api, wf).await;
    assert!(
        result["error"]["message"].as_str().unwrap().contains("key column \"id\" is not among the columns written"),
        "{database}: {result}"
    );
    assert_eq!(result["error"]["parameter"], "keyColumns");
    let wf = write_workflow(account, vec![json!({"id": 1})], json!({"table": "nowhere"}));
    let result = run(api, wf).await;
    assert_eq!(result["error"]["code"], "query_failed", "{database}: {result}");
    assert!(result["error"]["message"].as_str().unwrap().contains("nowhere"), "{database}: {result}");
}

async fn unlock(api: &switchyard_api::Api) {
    call(api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
}

#[tokio::test]
async fn postgres_inserts_by_copy_upserts_updates_and_rolls_back() {
    let server = Postgres::start();
    server.psql("CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, profile jsonb, score numeric(10,2))");
    let (_dir, api, _) = open();
    unlock(&api).await;
    call(
        &api,
        "account_add",
        json!({"connectionType": "db.postgres", "label": "local", "fields": {
            "host": "127.0.0.1", "port": server.port.to_string(), "database": server.database,
            "user": server.user, "password": server.password, "tls": "disable"}}),
    )
    .await
    .unwrap();
    exercise(&api, &json!({"connection": "db.postgres", "account": "local"}), "PostgreSQL").await;
    assert_eq!(server.psql("SELECT score FROM people WHERE id = 2"), "12.50", "exact decimals went in");
}

#[tokio::test]
async fn mariadb_inserts_upserts_updates_and_rolls_back() {
    let server = MariaDb::start();
    server.root_sql(
        "CREATE TABLE app.people (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, profile JSON, score DECIMAL(10,2)) \
         ENGINE=InnoDB",
    );
    let (_dir, api, _) = open();
    unlock(&api).await;
    call(
        &api,
        "account_add",
        json!({"connectionType": "db.mysql", "label": "local", "fields": {
            "host": "127.0.0.1", "port": server.port.to_string(), "database": server.database,
            "user": server.user, "password": server.password, "tls": "disable"}}),
    )
    .await
    .unwrap();
    exercise(&api, &json!({"connection": "db.mysql", "account": "local"}), "MariaDB").await;
}

#[tokio::test]
async fn sqlite_inserts_upserts_updates_and_rolls_back() {
    let (dir, api, _) = open();
    unlock(&api).await;
    let file = dir.path().join("people.sqlite");
    call(
        &api,
        "account_add",
        json!({"connectionType": "db.sqlite", "label": "file", "fields": {"path": file.display().to_string()}}),
    )
    .await
    .unwrap();
    let account = json!({"connection": "db.sqlite", "account": "file"});
    sql(
        &api,
        &account,
        "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, profile TEXT, score NUMERIC)",
    )
    .await;
    exercise(&api, &account, "SQLite").await;
}
