//! The `faultdrill` binary: parse arguments, run, turn the outcome into an exit code.

fn main() -> std::process::ExitCode {
    faultdrill::cli::main()
}
