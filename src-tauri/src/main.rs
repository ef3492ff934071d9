// No console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// The same allocator as the CLI: reshaping large item lists leaves no holes behind.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // `switchyard-app --cli ARGS` is `switchyard ARGS`: the Linux packages install
    // /usr/bin/switchyard as a script running this binary so, one binary instead of two
    // (the command-line tool needs no window: GTK is never started on this path).
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|first| first == switchyard_app::CLI_ARG) {
        return switchyard_cli::main_from(std::iter::once(std::ffi::OsString::from("switchyard")).chain(args));
    }
    switchyard_api::prefer_small_pages();
    switchyard_app::run();
    std::process::ExitCode::SUCCESS
}
