//! Writes the TypeScript types for the UI: `cargo run -p switchyard-api --example gen-types -- DIR`.
//! `cargo xtask gen-types` runs this into ui/src/gen.

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: gen-types DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    if let Err(e) =
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string()).and_then(|()| switchyard_api::export_typescript(&dir))
    {
        eprintln!("gen-types: {e}");
        std::process::exit(1);
    }
}
