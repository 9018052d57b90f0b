//! The `ward` command.

use std::io::Write;

fn main() -> std::process::ExitCode {
    // `ward lsp` speaks on stdout from the protocol's own writer thread: it
    // must not run under the stdout lock taken below.
    let args: Vec<_> = std::env::args_os().collect();
    if args.len() == 2 && args[1] == "lsp" {
        return match ward_runtime::lsp::run() {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ward lsp: {e}");
                std::process::ExitCode::from(2)
            }
        };
    }
    // Buffered: a SARIF report of ten thousand findings is one write per
    // buffer, not one per line. `ward scan` flushes it as its alerts need
    // (before each read of input).
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut err = std::io::stderr().lock();
    let code = ward_runtime::cli::run(std::env::args_os(), &mut out, &mut err);
    if let Err(e) = out.flush() {
        let _ = writeln!(err, "ward: cannot write to standard output: {e}");
        return std::process::ExitCode::from(2);
    }
    std::process::ExitCode::from(code)
}
