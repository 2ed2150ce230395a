//! Networking. For now: the loopback interface of a new network namespace, which the
//! kernel creates down.

use crate::error::{Context, Result};
use crate::sys;

pub fn bring_up_loopback() -> Result<()> {
    sys::interface_up("lo").context(|| "bring up the loopback interface".to_string())
}
