//! letdownd, the daemon: not built yet (issue 3). It exists so the binary name is reserved.

fn main() {
    eprintln!("letdownd: the daemon is not available in this version yet; use `letdown render`");
    std::process::exit(2);
}
