//! The `concord` binary: a thin shell over the `concord_node` library.

/// sled and the ingest path allocate many small buffers on several threads
/// at once, which mimalloc serves faster than the system allocator (replica
/// ingest +10 %, BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    concord_node::cli::main()
}
