//! Read Files and Write File against real folders: patterns, names with spaces and accents,
//! JSON, modes, atomic replacement, and the folders and approvals that bound them.

use crate::support::{engine, jsons, p, run};
use serde_json::json;
use std::sync::Arc;
use switchyard_engine::access::{Access, AccessKind, LocalPolicy};
use switchyard_engine::{Engine, Registry};
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::RunStatus;

use crate::support::after_start as one;

fn with_policy(policy: LocalPolicy) -> Engine {
    let mut services = engine().services().clone();
    services.local = Arc::new(policy);
    Engine::new(Registry::builtin(), services)
}

#[tokio::test]
async fn patterns_read_matching_files_as_text_or_json_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("résumé final.txt"), "bonjour").unwrap();
    std::fs::write(dir.path().join("a.txt"), "first").unwrap();
    std::fs::write(dir.path().join("skip.csv"), "x").unwrap();
    std::fs::create_dir_all(dir.path().join("in/deeper")).unwrap();
    std::fs::write(dir.path().join("in/one.json"), r#"{"n": 1}"#).unwrap();
    std::fs::write(dir.path().join("in/deeper/two.json"), r#"[2, "two"]"#).unwrap();

    let (outcome, _) =
        run(&engine(), one("file.read", json!({"path": format!("{}/*.txt", p(dir.path()))})), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let out = jsons(&outcome.result);
    let names: Vec<&str> = out.iter().map(|o| o["fileName"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.txt", "résumé final.txt"]);
    assert_eq!(out[1]["text"], "bonjour");
    assert_eq!(out[1]["size"], 7);
    assert!(out[1]["modifiedAt"].as_str().unwrap().ends_with('Z'));

    let wf = one("file.read", json!({"path": format!("{}/in/**/*.json", p(dir.path())), "format": "json"}));
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    let data: Vec<serde_json::Value> = jsons(&outcome.result).iter().map(|o| o["data"].clone()).collect();
    assert_eq!(data, [json!([2, "two"]), json!({"n": 1})], "sorted by path: deeper/two.json before one.json");

    // A folder: its files, and with subfolders on, theirs.
    let (outcome, _) = run(&engine(), one("file.read", json!({"path": p(&dir.path().join("in"))})), json!(null)).await;
    assert_eq!(outcome.result.len(), 1);
    let wf = one("file.read", json!({"path": p(&dir.path().join("in")), "recursive": true}));
    assert_eq!(run(&engine(), wf, json!(null)).await.0.result.len(), 2);
}

#[tokio::test]
async fn read_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.txt");
    let (outcome, _) = run(&engine(), one("file.read", json!({"path": p(&missing)})), json!(null)).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::FileError);
    assert_eq!(error.message, format!("cannot read {}: it does not exist", missing.display()));
    assert_eq!(error.parameter.as_deref(), Some("path"));

    std::fs::write(dir.path().join("bad.json"), "{\"a\": 1,\n oops}").unwrap();
    let wf = one("file.read", json!({"path": p(&dir.path().join("bad.json")), "format": "json"}));
    let error = run(&engine(), wf, json!(null)).await.0.error.unwrap();
    assert!(error.message.contains("bad.json is not valid JSON at line 2 column 2"), "{}", error.message);

    std::fs::write(dir.path().join("latin1.txt"), [b'c', b'a', 0xe9]).unwrap();
    let wf = one("file.read", json!({"path": p(&dir.path().join("latin1.txt"))}));
    let error = run(&engine(), wf, json!(null)).await.0.error.unwrap();
    assert!(error.message.contains("latin1.txt is not UTF-8 text (byte 2 is not)"), "{}", error.message);

    for i in 0..3 {
        std::fs::write(dir.path().join(format!("many-{i}.log")), "x").unwrap();
    }
    let wf = one("file.read", json!({"path": format!("{}/*.log", p(dir.path())), "maxFiles": 2}));
    let error = run(&engine(), wf, json!(null)).await.0.error.unwrap();
    assert!(error.message.contains("matches more than 2 files"), "{}", error.message);

    let wf = one("file.read", json!({"path": "relative/file.txt"}));
    let error = run(&engine(), wf, json!(null)).await.0.error.unwrap();
    assert_eq!(error.code, ErrorCode::LocalAccessRefused);
    assert!(error.message.contains("give a full path"), "{}", error.message);
}

#[tokio::test]
async fn writing_creates_replaces_and_appends_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out dir/ünïcode report.json");
    let write = |mode: &str, folders: bool| {
        one("file.write", json!({"path": p(&target), "mode": mode, "createFolders": folders}))
    };
    let error = run(&engine(), write("create", false), json!({"n": 1})).await.0.error.unwrap();
    assert!(error.message.contains("its folder") && error.message.contains("does not exist"), "{}", error.message);

    let (outcome, _) = run(&engine(), write("create", true), json!({"n": 1})).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(jsons(&outcome.result)[0]["written"], json!({"path": p(&target), "bytes": 13}));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "{\n  \"n\": 1\n}\n");
    // Create never replaces.
    let error = run(&engine(), write("create", false), json!({"n": 2})).await.0.error.unwrap();
    assert_eq!(error.code, ErrorCode::FileError);
    assert!(error.message.ends_with("it already exists"), "{}", error.message);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "{\n  \"n\": 1\n}\n");

    run(&engine(), write("overwrite", false), json!({"n": 3})).await;
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "{\n  \"n\": 3\n}\n");
    // No temporary file is left beside it.
    let left: Vec<String> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["ünïcode report.json"]);

    let log = dir.path().join("log.txt");
    let wf =
        one("file.write", json!({"path": p(&log), "mode": "append", "content": "text", "text": "{{ json.line }}\n"}));
    run(&engine(), wf, json!([{"line": "one"}, {"line": "two"}])).await;
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\n");

    let wf = one("file.write", json!({"path": p(dir.path())}));
    let error = run(&engine(), wf, json!({})).await.0.error.unwrap();
    assert!(error.message.ends_with("it is a folder"), "{}", error.message);
}

#[tokio::test]
async fn files_outside_the_allowed_folders_are_refused_even_through_a_link() {
    let allowed = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "s3cret").unwrap();
    std::fs::write(allowed.path().join("ok.txt"), "fine").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path(), allowed.path().join("door")).unwrap();
    let root = allowed.path().canonicalize().unwrap();
    let engine = with_policy(LocalPolicy { roots: vec![root.clone()], ..LocalPolicy::default() });

    let (outcome, _) =
        run(&engine, one("file.read", json!({"path": p(&allowed.path().join("ok.txt"))})), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);

    for path in [
        outside.path().join("secret.txt"),
        allowed.path().join("../").join(outside.path().file_name().unwrap()).join("secret.txt"),
    ] {
        let (outcome, _) = run(&engine, one("file.read", json!({"path": p(&path)})), json!(null)).await;
        let error = outcome.error.unwrap();
        assert_eq!(error.code, ErrorCode::LocalAccessRefused, "{path:?}");
        assert!(error.message.contains("outside the folders workflows may use"), "{}", error.message);
    }
    #[cfg(unix)]
    {
        // Named through a link inside the allowed folder: refused where it really is.
        let through = allowed.path().join("door/secret.txt");
        let error = run(&engine, one("file.read", json!({"path": p(&through)})), json!(null)).await.0.error.unwrap();
        assert_eq!(error.code, ErrorCode::LocalAccessRefused);
        assert!(error.message.contains("it is really"), "{}", error.message);
        // A pattern skips links unless told to follow them, and then checks each file.
        let wf = one("file.read", json!({"path": format!("{}/**", p(allowed.path()))}));
        let (outcome, _) = run(&engine, wf, json!(null)).await;
        assert_eq!(jsons(&outcome.result).iter().map(|o| o["fileName"].clone()).collect::<Vec<_>>(), [json!("ok.txt")]);
        let wf = one("file.read", json!({"path": format!("{}/**", p(allowed.path())), "followSymlinks": true}));
        let error = run(&engine, wf, json!(null)).await.0.error.unwrap();
        assert_eq!(error.code, ErrorCode::LocalAccessRefused, "{}", error.message);
        // Writing through the link is refused too, and nothing is written.
        let wf = one("file.write", json!({"path": p(&allowed.path().join("door/planted.txt"))}));
        let error = run(&engine, wf, json!({})).await.0.error.unwrap();
        assert_eq!(error.code, ErrorCode::LocalAccessRefused);
        assert!(!outside.path().join("planted.txt").exists());
    }
}

#[tokio::test]
async fn an_approved_pattern_bounds_what_an_imported_workflow_reads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    std::fs::write(dir.path().join("in/a.csv"), "a").unwrap();
    std::fs::write(dir.path().join("other.csv"), "b").unwrap();
    let approved = vec![Access::path(AccessKind::Read, &format!("{}/in/{{{{ json.name }}}}", p(dir.path())))];
    assert_eq!(approved[0].pattern, format!("{}/in/**", p(dir.path())));
    let engine = with_policy(LocalPolicy { approved: Some(approved), ..LocalPolicy::default() });
    let wf = one("file.read", json!({"path": format!("{}/in/{{{{ json.name }}}}", p(dir.path()))}));
    let (outcome, _) = run(&engine, wf.clone(), json!({"name": "a.csv"})).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let (outcome, _) = run(&engine, wf, json!({"name": "../other.csv"})).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::LocalAccessRefused);
    assert!(error.message.contains("not what was approved"), "{}", error.message);
}
