//! The `concord` binary: a thin shell over the `concord_node` library.

fn main() -> std::process::ExitCode {
    concord_node::cli::main()
}
