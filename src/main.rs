//! The `scimd` binary.

fn main() -> std::process::ExitCode {
    scimd::cli::main()
}
