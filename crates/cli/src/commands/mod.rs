//! One module per subcommand (or group of them); [`dispatch`] runs the one asked for.

pub(crate) mod alerts;
pub(crate) mod backups;
pub(crate) mod credentials;
pub(crate) mod deploy;
pub(crate) mod executions;
pub(crate) mod migrate;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod tokens;
pub(crate) mod trust;
pub(crate) mod versions;
pub(crate) mod workflows;

use crate::{Cli, Command, Outcome, open_api};
use std::sync::Arc;
use switchyard_api::SilentHost;

/// Runs the subcommand on the command line.
pub(crate) async fn dispatch(cli: Cli) -> Outcome {
    let data_dir = crate::Place { dir: cli.data_dir, database: cli.database };
    match cli.command {
        Command::Run { workflow, input, json, until, quiet, trust, breaks } => {
            let options = run::RunOptions { input, json, until, quiet, trust, breaks };
            run::run(data_dir, &workflow, options).await
        }
        Command::Trust { id, yes } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            trust::trust(&api, &id, yes).await
        }
        Command::Validate { file, json } => workflows::validate(&file, json),
        Command::Import { file, keep_id } => workflows::import(data_dir, &file, keep_id).await,
        Command::Export { id, output, strip_secrets, with_called } => {
            workflows::export(data_dir, id, output, strip_secrets, with_called).await
        }
        Command::List { search, json } => workflows::list(data_dir, search, json).await,
        Command::Versions { id, json } => versions::versions(data_dir, id, json).await,
        Command::Diff { id, from, to, json } => versions::diff(data_dir, id, from, to, json).await,
        Command::Restore { target, version: Some(version), .. } => versions::restore(data_dir, target, version).await,
        Command::Restore { target, version: None, json } => backups::restore(data_dir, target.into(), json).await,
        Command::Executions { workflow, server, limit, json } => {
            executions::executions(data_dir, workflow, server, limit, json).await
        }
        Command::Retry { execution, from_failed, original, json, quiet, trust } => {
            run::retry(data_dir, execution, from_failed, original, (json, quiet, trust)).await
        }
        Command::Execution { id, server, json } => executions::execution(data_dir, id, server, json).await,
        Command::Prune { older_than, keep_last } => executions::prune(data_dir, older_than, keep_last).await,
        Command::Serve { port, bind, grace, api_rate_limit, queue } => {
            serve::serve(data_dir, port, bind, grace, api_rate_limit, queue).await
        }
        Command::Worker { queue, concurrency, visibility_timeout, max_deliveries, grace, metrics } => {
            let config = switchyard_api::QueueConfig {
                visibility: std::time::Duration::from_secs(visibility_timeout.max(1)),
                max_deliveries: max_deliveries.max(1),
            };
            serve::worker(data_dir, queue, concurrency, config, grace, metrics).await
        }
        Command::Queue { queue, json } => serve::queue_status(queue, json).await,
        Command::Activate { id } => serve::activate(data_dir, id, true).await,
        Command::Deactivate { id } => serve::activate(data_dir, id, false).await,
        Command::Triggers { json } => serve::triggers(data_dir, json).await,
        Command::Metrics { enable, token, port } => serve::metrics(data_dir, enable, token, port).await,
        Command::Deliveries { workflow, limit, json } => serve::deliveries(data_dir, workflow, limit, json).await,
        Command::Alerts { command } => alerts::alerts(data_dir, command).await,
        Command::Tokens { command } => tokens::tokens(data_dir, command).await,
        Command::Deploy { id, to, activate, force, json } => {
            deploy::deploy(data_dir, id, to, activate, force, json).await
        }
        Command::MigrateStore { from, to, json } => migrate::migrate_store(data_dir, from, to, json).await,
        Command::Backup { to, list, json } => backups::backup(data_dir, to, list, json).await,
        Command::Vault { action } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            credentials::vault(&api, action).await
        }
        Command::Connections { action } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            credentials::connections(&api, action).await
        }
    }
}
