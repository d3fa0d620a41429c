//! Raw terminal mode for `-t` sessions and the terminal size.

use rustix::termios::{self, OptionalActions, Termios};

/// Restores the terminal's attributes when dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin in raw mode when it is a terminal.
    pub fn enable() -> Option<RawMode> {
        let fd = rustix::stdio::stdin();
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(fd, OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// True when stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    termios::isatty(rustix::stdio::stdin())
}

/// True when stdout is a terminal.
pub fn stdout_is_tty() -> bool {
    termios::isatty(rustix::stdio::stdout())
}

/// True when stderr is a terminal.
pub fn stderr_is_tty() -> bool {
    termios::isatty(rustix::stdio::stderr())
}

/// (rows, cols) of the terminal on stdout, else stdin.
pub fn size() -> Option<(u16, u16)> {
    let ws = termios::tcgetwinsize(rustix::stdio::stdout())
        .or_else(|_| termios::tcgetwinsize(rustix::stdio::stdin()))
        .ok()?;
    (ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}
