//! `switchyard tokens`: API tokens for the REST API that `switchyard serve` answers at
//! /api/v1 (the same list as the app's Settings → API tokens).

use crate::output::{list, print_json};
use crate::{Failure, Outcome, open_api};
use clap::Subcommand;
use std::sync::Arc;
use switchyard_api::SilentHost;
use switchyard_api::tokens::{Scope, TokenCreateRequest};
use switchyard_api::types::{Empty, IdRequest};

#[derive(Subcommand)]
pub(crate) enum TokensCommand {
    /// The tokens, newest first (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create a token and print it, this once: only its hash is kept.
    Create {
        /// What it is for ("CI deploys").
        #[arg(long)]
        name: String,
        /// read (workflows, executions, metrics), run (also start runs), admin (also change
        /// workflows, accounts and tokens).
        #[arg(long, default_value = "read")]
        scope: String,
        /// Print the token and its record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token (by id): requests with it are refused from now on.
    Revoke { id: String },
}

pub(crate) async fn tokens(data_dir: crate::Place, command: TokensCommand) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    match command {
        TokensCommand::List { json } => {
            let tokens = api.token_list(Empty {}).await?.tokens;
            list(
                json,
                &tokens,
                "No API tokens.",
                &["ID", "NAME", "SCOPE", "TOKEN", "CREATED", "LAST USED", "STATE"],
                |t| {
                    vec![
                        t.id.clone(),
                        t.name.clone(),
                        t.scope.as_str().to_string(),
                        format!("{}…", t.prefix),
                        t.created_at.clone(),
                        t.last_used_at.clone().unwrap_or_else(|| "never".into()),
                        t.revoked_at.as_ref().map_or_else(|| "active".to_string(), |at| format!("revoked {at}")),
                    ]
                },
            );
        }
        TokensCommand::Create { name, scope, json } => {
            let scope = Scope::parse(&scope).ok_or_else(|| {
                Failure::invalid(format!("switchyard tokens: --scope must be read, run or admin, found \"{scope}\""))
            })?;
            let created = api.token_create(TokenCreateRequest { name, scope }).await?;
            if json {
                print_json(&created);
            } else {
                eprintln!(
                    "Created API token \"{}\" (id {}, scope {}). Copy it now: it is not shown again.",
                    created.token.name,
                    created.token.id,
                    scope.as_str()
                );
                println!("{}", created.secret);
            }
        }
        TokensCommand::Revoke { id } => {
            let token = api.token_revoke(IdRequest { id }).await?;
            println!("Revoked API token \"{}\" ({}…)", token.name, token.prefix);
        }
    }
    Ok(())
}
