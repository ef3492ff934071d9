fn main() {
    // tauri.conf.json sits at the repository root, as the design asks.
    tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
        .expect("tauri build script failed");
}
