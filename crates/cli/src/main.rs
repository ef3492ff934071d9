//! The `switchyard` command (the library's `main_from`).

/// mimalloc keeps each size of allocation on its own pages, so when a node reshapes a
/// million records the pages of the old shapes empty out and are reused; glibc's malloc
/// leaves a hole per record instead (peak 2.8x vs 3.9x the input's JSON size, see bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    switchyard_cli::main_from(std::env::args_os())
}
