//! The `ward` command.

fn main() -> std::process::ExitCode {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let code = ward_runtime::cli::run(std::env::args_os(), &mut out, &mut err);
    std::process::ExitCode::from(code)
}
