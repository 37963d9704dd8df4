//! The `scimd` binary.

// A request allocates and frees many small strings and JSON values on two worker threads
// and the writer; mimalloc's per-thread heaps cost less there than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    scimd::cli::main()
}
