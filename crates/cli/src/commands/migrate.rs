//! `switchyard migrate-store`: copies one store into another (see `switchyard_store::copy_store`).

use crate::output::print_json;
use crate::{Failure, Outcome, Place};
use switchyard_store::{Location, Store};

/// Copies the store at `from` (default: this command's own) into the empty store at `to`.
pub async fn migrate_store(place: Place, from: Option<String>, to: String, json: bool) -> Outcome {
    let source = match from.as_deref() {
        Some(text) => Location::parse(text),
        None => {
            place.location().unwrap_or_else(|| Location::File(switchyard_store::paths::database_path(&place.folder())))
        }
    };
    let target = Location::parse(&to);
    if let Location::File(path) = &source {
        if !path.exists() {
            return Err(Failure::invalid(format!("switchyard: --from {}: there is no database there", path.display())));
        }
        if switchyard_store::backup::in_use(path) {
            return Err(Failure::failed(format!(
                "switchyard: {} is open in the app or a `switchyard serve`: close them first, so that nothing changes while it is copied",
                path.display()
            )));
        }
    }
    let report = tokio::task::spawn_blocking(move || {
        let open = |location: &Location, which: &str| {
            Store::open_at(location).map_err(|e| Failure::failed(format!("switchyard: {which} {location}: {e}")))
        };
        let from = open(&source, "--from")?;
        let to = open(&target, "--to")?;
        let mut last = String::new();
        let report = switchyard_store::copy_store(&from, &to, &mut |table, _rows| {
            if !json && table != last {
                eprintln!("copying {table}…");
                last = table.to_string();
            }
        });
        match report {
            Ok(report) => Ok((report, from.location().to_string(), to.location().to_string())),
            Err(e @ switchyard_store::StoreError::AlreadyExists(_)) => {
                Err(Failure::invalid(format!("switchyard: {e}")))
            }
            Err(e) => {
                Err(Failure::failed(format!("switchyard: the copy failed and the target was left as it was: {e}")))
            }
        }
    })
    .await
    .map_err(|e| Failure::failed(format!("switchyard: {e}")))?;
    let (report, from, to) = report?;
    if json {
        let tables: serde_json::Map<String, serde_json::Value> =
            report.tables.iter().map(|(t, n)| (t.clone(), serde_json::json!(n))).collect();
        print_json(&serde_json::json!({ "from": from, "to": to, "tables": tables }));
    } else {
        eprintln!(
            "Copied {from} into {to}: {} workflows, {} versions, {} runs, {} accounts, {} settings.",
            report.rows("workflows"),
            report.rows("workflow_versions"),
            report.rows("executions"),
            report.rows("accounts"),
            report.rows("settings"),
        );
    }
    Ok(())
}
