// No console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// The same allocator as the CLI: reshaping large item lists leaves no holes behind.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    switchyard_api::prefer_small_pages();
    switchyard_app::run();
}
