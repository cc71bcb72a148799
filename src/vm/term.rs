//! The host terminal during `orca shell`: raw mode while the shell runs, restored on every way
//! out (the guard's drop, which runs on return, error and unwinding alike).

use std::time::Duration;

use anyhow::Result;

/// Raw mode on stdin while alive; a no-op when stdin is not a terminal.
pub struct RawMode {
    saved: Option<libc::termios>,
}

impl RawMode {
    pub fn enter() -> Result<RawMode> {
        // SAFETY: plain termios calls on fd 0 with a zeroed struct they fill in.
        unsafe {
            if libc::isatty(0) != 1 {
                return Ok(RawMode { saved: None });
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            Ok(RawMode { saved: Some(saved) })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.saved {
            // SAFETY: restores the attributes read in `enter`.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}

/// The terminal's size as (rows, cols), if stdin or stdout is a terminal.
pub fn size() -> Option<(u16, u16)> {
    for fd in [0, 1] {
        // SAFETY: TIOCGWINSZ fills a winsize.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_row > 0 {
                return Some((ws.ws_row, ws.ws_col));
            }
        }
    }
    None
}

/// Whether stdin has bytes (or EOF) within `wait`.
pub fn stdin_ready(wait: Duration) -> bool {
    let mut p = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, wait.as_millis() as i32) };
    n > 0
}
