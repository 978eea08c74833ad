//! Standard output for the printing sub-commands. A reader that closes early (`dbdeck crd | head -3`) is not an
//! error: like the Unix tools (and kubectl), the command stops quietly with status 141 (128 + SIGPIPE) instead of
//! panicking inside `println!`.

use std::io::Write;

/// The exit status of a command whose reader went away.
pub const CLOSED_PIPE_EXIT: i32 = 128 + 13;

/// Writes `text` to standard output and flushes; exits quietly when the reader has gone.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let result = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(CLOSED_PIPE_EXIT),
        Err(e) => {
            eprintln!("dbdeck: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }
}

/// [`print`] with a newline.
pub fn println(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    print(&line);
}
