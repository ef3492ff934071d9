//! Running as a service (docs/server.md): the systemd unit in deploy/systemd is valid, and
//! the vault opens with the master password systemd hands over as a credential file.

use super::rest::{call, stop};
use super::{cli, repo, spawn_serve_any, stdout_json, uses_account};
use serde_json::json;

#[test]
fn the_systemd_unit_verifies_and_serve_opens_the_vault_from_its_credential_file() {
    // systemd-analyze checks the unit as systemd would load it, with the built binary in
    // place of /usr/bin/switchyard.
    let dir = tempfile::tempdir().unwrap();
    // The worker unit is a template: verified as its first instance.
    let bin = assert_cmd::cargo::cargo_bin("switchyard");
    for (file, as_name) in
        [("switchyard.service", "switchyard.service"), ("switchyard-worker@.service", "switchyard-worker@1.service")]
    {
        let unit = std::fs::read_to_string(repo().join("deploy/systemd").join(file)).unwrap();
        let unit = unit.replace("/usr/bin/switchyard", bin.to_str().unwrap());
        // The environment file the worker unit names, as the operator writes it.
        let unit = unit.replace("/etc/switchyard/server.env", dir.path().join("server.env").to_str().unwrap());
        std::fs::write(dir.path().join("server.env"), "SWITCHYARD_QUEUE_URL=redis://127.0.0.1:6379/0\n").unwrap();
        std::fs::write(dir.path().join(as_name), unit).unwrap();
        let verified = std::process::Command::new("systemd-analyze")
            .arg("verify")
            .arg(dir.path().join(as_name))
            .output()
            .expect("systemd-analyze (apt systemd; `cargo xtask setup` installs it)");
        let stderr = String::from_utf8_lossy(&verified.stderr);
        assert!(verified.status.success() && stderr.is_empty(), "{file}: {stderr}");
    }

    // The credential, as LoadCredential= leaves it: a file in $CREDENTIALS_DIRECTORY.
    let data = tempfile::tempdir().unwrap();
    let credentials = tempfile::tempdir().unwrap();
    std::fs::write(credentials.path().join("switchyard-master-password"), "service pass phrase\n").unwrap();
    let service = |cmd: &mut assert_cmd::Command| {
        cmd.env("SWITCHYARD_KEYRING", "off")
            .env_remove("SWITCHYARD_MASTER_PASSWORD")
            .env("CREDENTIALS_DIRECTORY", credentials.path());
    };
    let mut add = cli(data.path());
    service(&mut add);
    add.args(["connections", "add", "http.bearer", "work", "--field", "token=@env:T", "--host", "127.0.0.1"])
        .env("T", "credential-token-1")
        .assert()
        .success();
    // The same password through SWITCHYARD_MASTER_PASSWORD_FILE opens it too; a file that is
    // not there is named.
    let file = credentials.path().join("switchyard-master-password");
    let mut listed = cli(data.path());
    listed
        .env("SWITCHYARD_KEYRING", "off")
        .env_remove("SWITCHYARD_MASTER_PASSWORD")
        .env("SWITCHYARD_MASTER_PASSWORD_FILE", &file);
    let accounts = stdout_json(&listed.args(["connections", "list", "--json"]).output().unwrap());
    assert_eq!(accounts[0]["label"], "work", "{accounts}");
    let mut missing = cli(data.path());
    missing
        .env("SWITCHYARD_KEYRING", "off")
        .env_remove("SWITCHYARD_MASTER_PASSWORD")
        .env("SWITCHYARD_MASTER_PASSWORD_FILE", data.path().join("nope"));
    let failed = missing.args(["connections", "list"]).output().unwrap();
    assert!(!failed.status.success());
    let message = String::from_utf8_lossy(&failed.stderr);
    assert!(message.contains("SWITCHYARD_MASTER_PASSWORD_FILE") && message.contains("nope"), "{message}");

    // `serve` started as the unit does runs a workflow that uses the account: its vault
    // opened with the credential.
    let server = switchyard_testkit::TestServer::start_in_thread();
    let url = server.url("/auth/inspect");
    let path = data.path().join("uses-account.json");
    std::fs::write(&path, uses_account(&url).to_string()).unwrap();
    let as_service = || {
        let mut cmd = cli(data.path());
        service(&mut cmd);
        cmd
    };
    as_service().arg("import").arg(&path).arg("--keep-id").assert().success();
    as_service().args(["trust", "uses-account", "--yes"]).assert().success();
    let token = as_service().args(["tokens", "create", "--name", "ops", "--scope", "run"]).output().unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let credentials_dir = credentials.path().to_str().unwrap();
    let (mut serve, _stderr, _port, addr) = spawn_serve_any(
        data.path(),
        &[],
        &[
            ("SWITCHYARD_KEYRING", "off"),
            ("SWITCHYARD_MASTER_PASSWORD", ""),
            ("CREDENTIALS_DIRECTORY", credentials_dir),
        ],
    );
    let ran =
        call(&addr, "POST", "/api/v1/runs/wait", Some(&token), Some(&json!({"workflowId": "uses-account"}))).json();
    assert_eq!(ran["status"], "success", "{ran}");
    let expected = switchyard_testkit::fingerprint("Bearer credential-token-1");
    assert_eq!(ran["items"][0]["json"]["authorization"], expected.as_str(), "{ran}");
    stop(&mut serve);
}
