//! Writes the UI's TypeScript types and the node reference:
//! `cargo run -p switchyard-api --example gen-types -- TYPES_DIR [NODES_MD [OPENAPI_JSON]]`.
//! `cargo xtask gen-types` runs this into ui/src/gen, docs/nodes.md and docs/api/openapi.json
//! (the REST API's OpenAPI document, as `serve` answers it at /api/v1/openapi.json). It also writes the
//! node descriptors and connection types as ui/src/gen/node-types.json and
//! connection-types.json for the UI's tests.

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: gen-types TYPES_DIR [NODES_MD [OPENAPI_JSON]]");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    let result = std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| switchyard_api::export_typescript(&dir))
        .and_then(|()| {
            // The real descriptors, for the UI's unit tests (forms are generated from them).
            let descriptors = switchyard_engine::Registry::builtin().descriptors();
            let text = serde_json::to_string_pretty(&descriptors).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("node-types.json"), text + "\n").map_err(|e| e.to_string())?;
            // And the real connection types, for the Connections page's tests.
            let types = switchyard_vault::connections::builtin();
            let text = serde_json::to_string_pretty(&types).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("connection-types.json"), text + "\n").map_err(|e| e.to_string())
        })
        .and_then(|()| match args.next() {
            Some(doc) => {
                let descriptors = switchyard_engine::Registry::builtin().descriptors();
                std::fs::write(&doc, switchyard_api::docs::nodes_markdown(&descriptors))
                    .map_err(|e| format!("{doc}: {e}"))
            }
            None => Ok(()),
        })
        .and_then(|()| match args.next() {
            Some(path) => {
                std::fs::write(&path, switchyard_api::rest::openapi_json()).map_err(|e| format!("{path}: {e}"))
            }
            None => Ok(()),
        });
    if let Err(e) = result {
        eprintln!("gen-types: {e}");
        std::process::exit(1);
    }
}
