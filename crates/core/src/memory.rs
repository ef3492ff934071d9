//! How Switchyard's processes (the app, the CLI, `serve`) use memory.

/// Turns transparent huge pages off for this process (Linux; elsewhere nothing to do).
///
/// The allocator asks the kernel for huge pages on its arenas where the system allows them
/// on request (`madvise`, the default of most distributions). Then the first byte a heap
/// touches brings in 2 MiB at once: a process whose work is many items on a few threads
/// kept 13 MiB more at start and 27 MiB more at its peak for the same items (`cargo xtask
/// bench io`). A desktop app or a CLI run is better off with the memory it really uses.
/// Call it first thing in `main`, before other threads start.
pub fn prefer_small_pages() {
    #[cfg(target_os = "linux")]
    {
        // Only fails on kernels older than 3.15, where there is nothing to turn off.
        let _ = nix::sys::prctl::set_thp_disable(true);
    }
}
