//! Linux: DNAT and redirect rules of the iptables-legacy `nat` table (IPv4),
//! read with the same getsockopt calls `iptables-legacy-save` makes
//! (IPT_SO_GET_INFO, IPT_SO_GET_ENTRIES), for hosts that still use the
//! legacy backend; and the reading of any legacy table, IPv4 or IPv6, that
//! the filter reader (legacy_filter.rs) shares. A table is only asked for
//! when /proc/net/ip{,6}_tables_names lists it, so reading never loads a
//! legacy module on an nf_tables host.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::nat_walk::{Chains, Step, Verdict};
use super::nft::{text, xt_dnat, xt_match, xt_redirect};
use crate::model::{NatAction, NatHook, NatRule, Protocol};

const IPT_SO_GET_INFO: i32 = 64;
const IPT_SO_GET_ENTRIES: i32 = 65;
/// sizeof(struct ipt_getinfo): name[32], valid_hooks, hook_entry[5],
/// underflow[5], num_entries, size.
const GETINFO: usize = 84;
/// sizeof(struct ipt_get_entries) before its entries (8-aligned).
const GET_ENTRIES: usize = 40;
/// Offsets in struct ipt_entry.
const TARGET_OFFSET: usize = 88;
const NEXT_OFFSET: usize = 90;
const ENTRY: usize = 112;
/// struct xt_entry_match / xt_entry_target header: size, name[29], revision.
const XT_HEADER: usize = 32;
pub(super) const HOOKS: [&str; 5] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

/// The legacy nat table's DNAT and redirect rules; empty when the table
/// is not loaded.
pub(super) fn nat_rules() -> io::Result<Vec<NatRule>> {
    // Unreadable (not root): as before, nothing; nf_tables' reader already
    // says the NAT rules need root.
    if !table_names(false)
        .unwrap_or_default()
        .iter()
        .any(|n| n == "nat")
    {
        return Ok(Vec::new());
    }
    let table = read_table(false, "nat")?;
    let hook_entry: Vec<(usize, &str)> = (0..5)
        .filter(|h| table.valid_hooks & (1 << h) != 0)
        .map(|h| (table.hook_entry[h] as usize, HOOKS[h]))
        .collect();
    Ok(decode_entries(&table.entries, &hook_entry))
}

/// An x_tables table as the kernel hands it over: which hooks it has, the
/// byte offset of each built-in chain's first entry and of its policy
/// entry (`underflow`), and the entries.
#[derive(Debug, Clone, Default)]
pub(super) struct Table {
    pub valid_hooks: u32,
    pub hook_entry: [u32; 5],
    pub underflow: [u32; 5],
    pub entries: Vec<u8>,
}

/// The loaded legacy tables of IPv4 (`v6`: IPv6), from the namespace of
/// the calling thread (a thread may have entered another namespace, so
/// /proc/thread-self, not /proc/self). None when the module is not
/// loaded; an error when the list cannot be read (it is root's only).
pub(super) fn table_names(v6: bool) -> io::Result<Vec<String>> {
    let path = if v6 {
        "/proc/thread-self/net/ip6_tables_names"
    } else {
        "/proc/thread-self/net/ip_tables_names"
    };
    match super::proc_file::read_text(
        rustix::fs::CWD,
        path,
        super::proc_file::Links::Refuse,
        super::proc_file::SMALL,
    ) {
        Ok(text) => Ok(text.lines().map(|l| l.trim().to_string()).collect()),
        Err(e) if e.is_missing() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Read one table with IPT_SO_GET_INFO and IPT_SO_GET_ENTRIES (IPv6: the
/// IP6T_ ones, same numbers and structs, on an AF_INET6 socket). Only for
/// a table `table_names` lists: asking for another loads its module.
pub(super) fn read_table(v6: bool, name: &str) -> io::Result<Table> {
    let (family, level) = if v6 {
        (libc::AF_INET6, libc::IPPROTO_IPV6)
    } else {
        (libc::AF_INET, libc::IPPROTO_IP)
    };
    if name.len() >= 32 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: plain socket(2) call; checked before use.
    let raw = unsafe {
        libc::socket(
            family,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let u32_at = |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    // The table can change between the two calls (the kernel then says
    // EAGAIN): ask again a few times.
    let mut tries = 0;
    loop {
        let mut info = [0u8; GETINFO];
        info[..name.len()].copy_from_slice(name.as_bytes());
        getsockopt(&fd, level, IPT_SO_GET_INFO, &mut info)?;
        let mut table = Table {
            valid_hooks: u32_at(&info, 32),
            ..Table::default()
        };
        for h in 0..5 {
            table.hook_entry[h] = u32_at(&info, 36 + 4 * h);
            table.underflow[h] = u32_at(&info, 56 + 4 * h);
        }
        let size = table_size(u32_at(&info, 80))?;
        let mut entries = vec![0u8; GET_ENTRIES + size];
        entries[..name.len()].copy_from_slice(name.as_bytes());
        entries[32..36].copy_from_slice(&(size as u32).to_ne_bytes());
        match getsockopt(&fd, level, IPT_SO_GET_ENTRIES, &mut entries) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < 3 => tries += 1,
            Err(e) => return Err(e),
            Ok(()) => {
                entries.drain(..GET_ENTRIES);
                table.entries = entries;
                return Ok(table);
            }
        }
    }
}

/// The most of one table read: ~300,000 rules (a real large ruleset is a
/// few MB); the kernel allows 512 MiB, and a table in a network namespace
/// any user may own would otherwise size whyport's allocation, up to 8
/// tables a namespace.
const TABLE_MAX: usize = 64 << 20;

/// The size IPT_SO_GET_INFO gave, when whyport reads a table that large.
fn table_size(size: u32) -> io::Result<usize> {
    let size = size as usize;
    if size > TABLE_MAX {
        return Err(io::Error::other(format!(
            "a table of {} MiB, over the {} MiB whyport reads",
            size >> 20,
            TABLE_MAX >> 20
        )));
    }
    Ok(size)
}

fn getsockopt(fd: &OwnedFd, level: i32, opt: i32, buf: &mut [u8]) -> io::Result<()> {
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: buf is valid for len bytes; the kernel writes at most len.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Decode the entry table (`hooks`: byte offset of each built-in chain's
/// first entry, with its name) and walk it from PREROUTING and OUTPUT
/// (the nat table's hooks by definition) through jumps and gotos.
pub fn decode_entries(table: &[u8], hooks: &[(usize, &str)]) -> Vec<NatRule> {
    let chains = chains(table, hooks);
    let bases: Vec<(String, NatHook)> = [
        ("PREROUTING", NatHook::Prerouting),
        ("OUTPUT", NatHook::Output),
    ]
    .into_iter()
    .filter(|(name, _)| chains.contains_key(*name))
    .map(|(name, hook)| (name.to_string(), hook))
    .collect();
    super::nat_walk::walk(&chains, &bases)
}

/// The entries as chains of steps. A user chain starts after an `ERROR`
/// target naming it; a jump's verdict is the byte offset of the first
/// entry of the chain it goes to. Malformed sizes end the reading; they
/// never panic.
pub fn chains(table: &[u8], hooks: &[(usize, &str)]) -> Chains {
    // First the entries and where each chain starts, then the steps (a
    // jump may point forward).
    let mut entries: Vec<(usize, String, u64)> = Vec::new();
    let mut starts: std::collections::HashMap<usize, String> = Default::default();
    let mut chain = String::new();
    let mut position = 0u64;
    let mut at = 0;
    while at + ENTRY <= table.len() {
        let e = &table[at..];
        let u16_at = |at: usize| usize::from(u16::from_ne_bytes([e[at], e[at + 1]]));
        let (target_offset, next) = (u16_at(TARGET_OFFSET), u16_at(NEXT_OFFSET));
        if next < ENTRY
            || target_offset < ENTRY
            || target_offset + XT_HEADER > next
            || at + next > table.len()
        {
            break;
        }
        if let Some((_, name)) = hooks.iter().find(|(offset, _)| *offset == at) {
            chain = (*name).to_string();
            position = 0;
            starts.insert(at, chain.clone());
        }
        let target = &e[target_offset..next];
        if text(&target[2..31]) == "ERROR" {
            chain = text(&target[XT_HEADER..]);
            position = 0;
            starts.insert(at + next, chain.clone());
        } else {
            position += 1;
            entries.push((at, chain.clone(), position));
        }
        at += next;
    }
    let mut out = Chains::new();
    for (at, chain, position) in entries {
        let e = &table[at..];
        let next = usize::from(u16::from_ne_bytes([e[NEXT_OFFSET], e[NEXT_OFFSET + 1]]));
        let target_offset =
            usize::from(u16::from_ne_bytes([e[TARGET_OFFSET], e[TARGET_OFFSET + 1]]));
        let step = decode_entry(&e[..next], target_offset, &chain, position, &starts);
        out.entry(chain).or_default().push(step);
    }
    out
}

fn decode_entry(
    e: &[u8],
    target_offset: usize,
    chain: &str,
    position: u64,
    starts: &std::collections::HashMap<usize, String>,
) -> Step {
    let target = &e[target_offset..];
    let target_name = text(&target[2..31]);
    let revision = u32::from(target[31]);
    let data = &target[XT_HEADER..];
    let mut rule = NatRule {
        family: "iptables-legacy".into(),
        table: "nat".into(),
        chain: chain.to_string(),
        handle: position,
        ..NatRule::default()
    };
    // The standard target (empty name): a verdict, or the offset of the
    // chain to jump to (a goto when the entry has IPT_F_GOTO, 0x02).
    let verdict = match target_name.as_str() {
        "" => match data
            .get(..4)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        {
            // XT_RETURN is -NF_REPEAT - 1.
            Some(-5) => Verdict::Return,
            Some(v) if v < 0 => Verdict::Stop,
            Some(v) => match starts.get(&(v as usize)) {
                Some(to) if e[82] & 0x02 != 0 => Verdict::Goto(to.clone()),
                Some(to) => Verdict::Jump(to.clone()),
                None => Verdict::Undecoded(format!("a jump to offset {v}")),
            },
            None => Verdict::Continue,
        },
        "DNAT" => {
            rule.action = xt_dnat(data, revision, false).unwrap_or_else(|| {
                rule.undecoded
                    .push(format!("DNAT target revision {revision}"));
                NatAction::Dnat {
                    address: None,
                    ports: None,
                }
            });
            Verdict::Nat
        }
        "REDIRECT" => {
            rule.action = NatAction::Redirect {
                ports: xt_redirect(data, false),
            };
            Verdict::Nat
        }
        "SNAT" | "MASQUERADE" => Verdict::Stop,
        // MARK, LOG, ...: no destination change, the chain goes on.
        _ => Verdict::Continue,
    };
    // struct ipt_ip: dst at 4, dmsk at 12, iniface at 16, proto at 80,
    // invflags at 83 (IPT_INV_*: 0x01 input interface, 0x08 source, 0x10
    // destination, 0x40 proto).
    let inv = e[83];
    let dst = Ipv4Addr::new(e[4], e[5], e[6], e[7]);
    let mask = [e[12], e[13], e[14], e[15]];
    if mask == [255; 4] {
        if inv & 0x10 == 0 {
            rule.daddr = Some(IpAddr::V4(dst));
        } else {
            rule.undecoded.push(format!("destination not {dst}"));
        }
    } else if mask != [0; 4] {
        rule.undecoded.push("a destination network".into());
    }
    // A source condition (src at 0, smsk at 8): the rule forwards only some
    // sources' traffic, which the forward's fields cannot say.
    let smsk = [e[8], e[9], e[10], e[11]];
    if smsk != [0; 4] {
        let src = Ipv4Addr::new(e[0], e[1], e[2], e[3]);
        let not = if inv & 0x08 != 0 { "not " } else { "" };
        rule.undecoded.push(format!(
            "only sources {not}{src}/{}",
            u32::from_be_bytes(smsk).count_ones()
        ));
    }
    let iif = text(&e[16..32]);
    if !iif.is_empty() {
        let wildcard = e[48..64].iter().take_while(|b| **b == 0xff).count() < iif.len() + 1;
        rule.iif = Some((
            inv & 0x01 != 0,
            if wildcard { format!("{iif}*") } else { iif },
        ));
    }
    let proto = u16::from_ne_bytes([e[80], e[81]]);
    match (proto, inv & 0x40 != 0) {
        (0, _) => {}
        (6, false) => rule.protocol = Some(Protocol::Tcp),
        (17, false) => rule.protocol = Some(Protocol::Udp),
        (p, true) => rule.undecoded.push(format!("protocol not {p}")),
        (p, false) => rule.undecoded.push(format!("protocol number {p}")),
    }
    // Matches, between the entry header and the target.
    let mut random = false;
    let mut at = ENTRY;
    while at + XT_HEADER <= target_offset {
        let size = usize::from(u16::from_ne_bytes([e[at], e[at + 1]]));
        if size < XT_HEADER || at + size > target_offset {
            rule.undecoded.push("a malformed match".into());
            break;
        }
        let name = text(&e[at + 2..at + 31]);
        let rev = u32::from(e[at + 31]);
        random |= xt_match(&mut rule, &name, rev, &e[at + XT_HEADER..at + size]);
        at += size;
    }
    Step {
        rule,
        random,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_over_the_cap_is_not_read() {
        assert_eq!(table_size(4096).ok(), Some(4096));
        assert_eq!(table_size(64 << 20).ok(), Some(64 << 20));
        let e = table_size((64 << 20) + 1).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("a table of 64 MiB, over the 64 MiB whyport reads")
        );
        assert!(table_size(512 << 20).is_err());
    }

    fn entry(
        proto: u16,
        matches: &[(&str, Vec<u8>)],
        target: &str,
        rev: u8,
        data: &[u8],
    ) -> Vec<u8> {
        let mut e = vec![0u8; ENTRY];
        e[80..82].copy_from_slice(&proto.to_ne_bytes());
        for (name, m) in matches {
            let size = XT_HEADER + m.len();
            let mut h = vec![0u8; XT_HEADER];
            h[..2].copy_from_slice(&(size as u16).to_ne_bytes());
            h[2..2 + name.len()].copy_from_slice(name.as_bytes());
            e.extend(h);
            e.extend(m);
        }
        let target_offset = e.len();
        let size = XT_HEADER + data.len();
        let mut h = vec![0u8; XT_HEADER];
        h[..2].copy_from_slice(&(size as u16).to_ne_bytes());
        h[2..2 + target.len()].copy_from_slice(target.as_bytes());
        h[31] = rev;
        e.extend(h);
        e.extend(data);
        let next = e.len();
        e[TARGET_OFFSET..TARGET_OFFSET + 2].copy_from_slice(&(target_offset as u16).to_ne_bytes());
        e[NEXT_OFFSET..NEXT_OFFSET + 2].copy_from_slice(&(next as u16).to_ne_bytes());
        e
    }

    #[test]
    fn legacy_dnat_and_user_chains() {
        let mut tcp = vec![0u8; 12];
        tcp[2..4].copy_from_slice(&u16::MAX.to_ne_bytes());
        tcp[4..6].copy_from_slice(&8083u16.to_ne_bytes());
        tcp[6..8].copy_from_slice(&8083u16.to_ne_bytes());
        let mut comment = vec![0u8; 256];
        comment[..6].copy_from_slice(b"legacy");
        let mut dnat = vec![0u8; 20];
        dnat[..4].copy_from_slice(&1u32.to_ne_bytes());
        dnat[4..8].copy_from_slice(&3u32.to_ne_bytes());
        dnat[8..12].copy_from_slice(&[192, 0, 2, 8]);
        dnat[16..18].copy_from_slice(&83u16.to_be_bytes());
        dnat[18..20].copy_from_slice(&83u16.to_be_bytes());
        let mut chain_name = vec![0u8; 32];
        chain_name[..6].copy_from_slice(b"DOCKER");
        let first = entry(6, &[("tcp", tcp), ("comment", comment)], "DNAT", 0, &dnat);
        // NF_ACCEPT (1) as a verdict is -1 - 1.
        let policy = entry(0, &[], "", 0, &[(-2i32).to_ne_bytes(), [0; 4]].concat());
        let user = entry(0, &[], "ERROR", 0, &chain_name);
        // -j DOCKER: the standard target with the offset of DOCKER's first
        // entry (after the jump, the policy and DOCKER's head).
        let jump_len = entry(0, &[], "", 0, &[0; 8]).len();
        let docker_at = first.len() + jump_len + policy.len() + user.len();
        let jump = entry(
            0,
            &[],
            "",
            0,
            &[(docker_at as i32).to_ne_bytes(), [0; 4]].concat(),
        );
        let mut in_user = entry(17, &[], "REDIRECT", 0, &{
            let mut r = vec![0u8; 20];
            r[..4].copy_from_slice(&1u32.to_ne_bytes());
            r[4..8].copy_from_slice(&2u32.to_ne_bytes());
            r[16..18].copy_from_slice(&5001u16.to_be_bytes());
            r[18..20].copy_from_slice(&5001u16.to_be_bytes());
            r
        });
        in_user[16..21].copy_from_slice(b"eth0\0");
        in_user[48..53].copy_from_slice(&[0xff; 5]);
        in_user[83] = 0x01;
        let table = [first.clone(), jump, policy.clone(), user.clone(), in_user].concat();
        let rules = decode_entries(&table, &[(0, "PREROUTING")]);
        assert_eq!(rules.len(), 2, "{rules:?}");
        assert_eq!(rules[1].path, ["PREROUTING", "DOCKER"]);
        assert_eq!(rules[1].hook, crate::model::NatHook::Prerouting);
        // Without the jump, the user chain's rule forwards nothing.
        let unreached = [first.clone(), policy.clone(), user.clone()].concat();
        assert_eq!(decode_entries(&unreached, &[(0, "PREROUTING")]).len(), 1);
        let r = &rules[0];
        assert_eq!((r.chain.as_str(), r.handle), ("PREROUTING", 1));
        assert_eq!(
            (r.protocol, r.ports.clone()),
            (
                Some(Protocol::Tcp),
                crate::model::PortSet::only([(8083, 8083)])
            )
        );
        assert_eq!(r.comment.as_deref(), Some("legacy"));
        assert_eq!(
            r.action,
            NatAction::Dnat {
                address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8))),
                ports: Some((83, 83))
            }
        );
        let u = &rules[1];
        assert_eq!((u.chain.as_str(), u.handle), ("DOCKER", 1));
        assert_eq!(u.iif, Some((true, "eth0".to_string())));
        assert_eq!(
            u.action,
            NatAction::Redirect {
                ports: Some((5001, 5001))
            }
        );
        // Truncated or corrupt tables end the walk without a panic.
        for cut in 0..table.len() {
            let _ = decode_entries(&table[..cut], &[(0, "PREROUTING")]);
        }
        let mut bad = first;
        bad[NEXT_OFFSET] = 1;
        assert!(decode_entries(&bad, &[]).is_empty());
    }

    #[test]
    fn an_inverted_destination_is_not_the_destination() {
        let mut dnat = vec![0u8; 20];
        dnat[..4].copy_from_slice(&1u32.to_ne_bytes());
        dnat[4..8].copy_from_slice(&1u32.to_ne_bytes());
        dnat[8..12].copy_from_slice(&[10, 0, 0, 1]);
        let mut e = entry(6, &[], "DNAT", 0, &dnat);
        e[4..8].copy_from_slice(&[192, 0, 2, 1]);
        e[12..16].copy_from_slice(&[255; 4]);
        // `! -d 192.0.2.1` (IPT_INV_DSTIP); `! -s` (0x08) alongside must
        // not be taken for it.
        e[83] = 0x10;
        let rules = decode_entries(&e, &[(0, "PREROUTING")]);
        assert_eq!(rules[0].daddr, None);
        assert_eq!(rules[0].undecoded, ["destination not 192.0.2.1"]);
        e[83] = 0x08;
        let rules = decode_entries(&e, &[(0, "PREROUTING")]);
        assert_eq!(
            rules[0].daddr,
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
        );
    }

    #[test]
    fn a_source_condition_is_not_dropped() {
        let mut dnat = vec![0u8; 20];
        dnat[..4].copy_from_slice(&1u32.to_ne_bytes());
        dnat[4..8].copy_from_slice(&1u32.to_ne_bytes());
        dnat[8..12].copy_from_slice(&[10, 0, 0, 1]);
        let mut e = entry(6, &[], "DNAT", 0, &dnat);
        // `-s 10.0.0.0/8`: only those sources are forwarded.
        e[0..4].copy_from_slice(&[10, 0, 0, 0]);
        e[8..12].copy_from_slice(&[255, 0, 0, 0]);
        let rules = decode_entries(&e, &[(0, "PREROUTING")]);
        assert_eq!(rules[0].undecoded, ["only sources 10.0.0.0/8"]);
        e[83] = 0x08;
        let rules = decode_entries(&e, &[(0, "PREROUTING")]);
        assert_eq!(rules[0].undecoded, ["only sources not 10.0.0.0/8"]);
    }
}
