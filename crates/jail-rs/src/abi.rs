//! The numbers this crate hard-codes, for the ABI conformance harness.

use crate::types::{JailFlags, JailSys, MAXHOSTNAMELEN, MAXPATHLEN};
use sysabi::abi::{AbiFact, AbiSet, CTarget};

/// Every jail ABI fact: flags, jailsys values, buffer sizes (`struct iovec` is in sysabi's).
pub fn abi_facts() -> Vec<AbiSet> {
    vec![AbiSet::new(
        "jail",
        CTarget::FreeBsd,
        &["sys/param.h", "sys/types.h", "sys/uio.h", "sys/jail.h"],
    )
    .facts([
        AbiFact::value("JAIL_CREATE", JailFlags::CREATE.bits() as u64),
        AbiFact::value("JAIL_UPDATE", JailFlags::UPDATE.bits() as u64),
        AbiFact::value("JAIL_ATTACH", JailFlags::ATTACH.bits() as u64),
        AbiFact::value("JAIL_DYING", JailFlags::DYING.bits() as u64),
        AbiFact::value("JAIL_SYS_DISABLE", JailSys::Disable as u64),
        AbiFact::value("JAIL_SYS_NEW", JailSys::New as u64),
        AbiFact::value("JAIL_SYS_INHERIT", JailSys::Inherit as u64),
        AbiFact::value("MAXHOSTNAMELEN", MAXHOSTNAMELEN as u64),
        AbiFact::value("MAXPATHLEN", MAXPATHLEN as u64),
    ])]
}
