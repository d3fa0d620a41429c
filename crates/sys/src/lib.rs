//! berth-sys: the only home of raw syscalls and `unsafe` in berth.
