//! The numbers this crate hard-codes, for the ABI conformance harness.

use crate::codec::{
    KldFileStat, ModuleStat, LINKER_UNLOAD_FORCE, LINKER_UNLOAD_NORMAL, MAXMODNAME,
};
use std::mem::offset_of;
use sysabi::abi::{AbiFact, AbiSet, CTarget};

/// `struct kld_file_stat`, `struct module_stat`, and the unload flags.
pub fn abi_facts() -> Vec<AbiSet> {
    let k = "struct kld_file_stat";
    let m = "struct module_stat";
    vec![AbiSet::new(
        "kld",
        CTarget::FreeBsd,
        &["sys/param.h", "sys/linker.h", "sys/module.h"],
    )
    .facts([
        AbiFact::size::<KldFileStat>(k),
        AbiFact::align::<KldFileStat>(k),
        AbiFact::offset(k, "version", offset_of!(KldFileStat, version)),
        AbiFact::offset(k, "name", offset_of!(KldFileStat, name)),
        AbiFact::offset(k, "refs", offset_of!(KldFileStat, refs)),
        AbiFact::offset(k, "id", offset_of!(KldFileStat, id)),
        AbiFact::offset(k, "address", offset_of!(KldFileStat, address)),
        AbiFact::offset(k, "size", offset_of!(KldFileStat, size)),
        AbiFact::offset(k, "pathname", offset_of!(KldFileStat, pathname)),
        AbiFact::size::<ModuleStat>(m),
        AbiFact::align::<ModuleStat>(m),
        AbiFact::offset(m, "version", offset_of!(ModuleStat, version)),
        AbiFact::offset(m, "name", offset_of!(ModuleStat, name)),
        AbiFact::offset(m, "refs", offset_of!(ModuleStat, refs)),
        AbiFact::offset(m, "id", offset_of!(ModuleStat, id)),
        AbiFact::offset(m, "data", offset_of!(ModuleStat, data)),
        AbiFact::value("MAXMODNAMEV3", MAXMODNAME as u64),
        AbiFact::value("LINKER_UNLOAD_NORMAL", LINKER_UNLOAD_NORMAL as u64),
        AbiFact::value("LINKER_UNLOAD_FORCE", LINKER_UNLOAD_FORCE as u64),
    ])]
}
