//! Work handed to a blocking thread beside the coach always answers: a panic in it is caught
//! and turned into an error, so a start, an answer or a preparation that waits for it is never
//! left pending for ever.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `work`; a panic in it becomes the error "WHAT failed unexpectedly (see the log)" (the
/// panic's own message is in the log, from the panic hook).
pub fn caught<T>(what: &str, work: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| {
        log::error!("{what} panicked");
        Err(format!("{what} failed unexpectedly (see the log)"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_and_a_result_passes_through() {
        assert_eq!(caught("adding", || Ok::<_, String>(2 + 2)), Ok(4));
        assert_eq!(
            caught::<()>("failing", || Err("no".into())),
            Err("no".into())
        );
        let e = caught::<()>("reading the sounds", || panic!("boom")).unwrap_err();
        assert_eq!(e, "reading the sounds failed unexpectedly (see the log)");
    }
}
