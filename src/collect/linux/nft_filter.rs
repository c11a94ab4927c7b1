//! Linux: the packet filter of nf_tables, read over NETLINK_NETFILTER in
//! the calling thread's network namespace (what `nft list ruleset`
//! reads, without running `nft`): every table's chains (base chains with
//! their hook, priority and policy), sets and rules, decoded into
//! `model::firewall` conditions and verdicts. Rules written by
//! iptables-nft carry xtables `match` and `target` expressions, read by
//! `xt.rs`.

use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use super::nft::{self, attrs, be32, text};
use crate::model::firewall::{Backend, BaseChain, ChainRef, Family, Hook, Policy, Ruleset};

#[path = "nft_filter_cmp.rs"]
mod cmp;
#[path = "nft_filter_expr.rs"]
mod expr;
#[path = "nft_filter_fields.rs"]
mod fields;
#[path = "nft_filter_sets.rs"]
mod sets;
#[path = "nft_filter_vals.rs"]
mod vals;

const NFT_MSG_NEWSET: u16 = 9;
const NFT_MSG_GETSET: u16 = 10;

/// Read every nf_tables chain and rule of the current thread's network
/// namespace into `rs`. An error means nothing could be read (no
/// nf_tables, or not allowed); what could be read only in part is said in
/// `rs.unread` and in the rules' `Unknown` conditions.
/// `dumped`: the chains and rules the NAT reader already dumped in this
/// namespace, if it did.
pub(super) fn ruleset_nft(rs: &mut Ruleset, dumped: Option<&nft::Dump>) -> io::Result<()> {
    let fd = nft::open_socket()?;
    let own;
    let dumped = match dumped {
        Some(d) => d,
        None => {
            own = nft::dump()?;
            &own
        }
    };
    let chains: Vec<Chain> = dumped
        .chains
        .iter()
        .map(|(family, b)| parse_chain(*family, b))
        .collect();
    let rules = &dumped.rules;
    let infos = match dump(&fd, NFT_MSG_GETSET, NFT_MSG_NEWSET) {
        Ok(sets) => sets.into_iter().map(|(f, b)| parse_set(f, &b)).collect(),
        Err(e) => {
            rs.unread.push(format!(
                "the nf_tables sets ({e}): rules that look one up are undecided"
            ));
            HashMap::new()
        }
    };
    for c in &chains {
        rs.chains
            .entry(chain_ref(c.family, &c.table, &c.name))
            .or_default();
        base_chains(c, rs);
    }
    let mut live = Live {
        fd: &fd,
        family: 0,
        table: String::new(),
        infos: &infos,
        cache: HashMap::new(),
    };
    for raw in rules {
        live.family = raw.family;
        live.table.clone_from(&raw.table);
        let decoded = expr::decode(raw, &mut live);
        rs.chains
            .entry(chain_ref(raw.family, &raw.table, &raw.chain))
            .or_default()
            .extend(decoded);
    }
    Ok(())
}

fn dump(fd: &OwnedFd, get: u16, new: u16) -> io::Result<Vec<(u8, Vec<u8>)>> {
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    nft::exchange(
        fd,
        &nft::request(get, flags, libc::AF_UNSPEC as u8, &[]),
        new,
    )
}

/// NFPROTO_INET 1, IPV4 2, ARP 3, NETDEV 5, BRIDGE 7, IPV6 10.
fn family(f: u8) -> Family {
    match f {
        1 => Family::Inet,
        2 => Family::Ip,
        10 => Family::Ip6,
        5 => Family::Netdev,
        _ => Family::Other,
    }
}

fn chain_ref(f: u8, table: &str, chain: &str) -> ChainRef {
    // `Other` holds both arp and bridge: their tables keep the family in
    // the name, so that two `filter` tables do not share chains.
    let table = match f {
        3 => format!("arp {table}"),
        7 => format!("bridge {table}"),
        1 | 2 | 5 | 10 => table.to_string(),
        n => format!("family {n} {table}"),
    };
    ChainRef {
        backend: Backend::Nftables,
        family: family(f),
        table,
        chain: chain.to_string(),
    }
}

/// A chain as NFT_MSG_NEWCHAIN gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Chain {
    family: u8,
    table: String,
    name: String,
    /// NFTA_HOOK_HOOKNUM: only base chains have one.
    hook: Option<u32>,
    priority: i32,
    kind: String,
    /// NFTA_CHAIN_POLICY: NF_DROP 0, NF_ACCEPT 1.
    policy: Option<u32>,
    /// NFTA_HOOK_DEV, or each NFTA_DEVICE_NAME of NFTA_HOOK_DEVS.
    devices: Vec<String>,
}

/// NFTA_CHAIN_TABLE 1, NAME 3, HOOK 4 (NFTA_HOOK_HOOKNUM 1, PRIORITY 2,
/// DEV 3, DEVS 4), POLICY 5, TYPE 7.
fn parse_chain(family: u8, b: &[u8]) -> Chain {
    let mut c = Chain {
        family,
        ..Chain::default()
    };
    for (k, v) in attrs(b) {
        match k {
            1 => c.table = text(v),
            3 => c.name = text(v),
            4 => {
                for (h, x) in attrs(v) {
                    match h {
                        1 => c.hook = be32(x),
                        2 => c.priority = be32(x).map_or(0, |p| p as i32),
                        3 => c.devices.push(text(x)),
                        4 => c.devices.extend(attrs(x).into_iter().map(|(_, d)| text(d))),
                        _ => {}
                    }
                }
                // One device comes as both NFTA_HOOK_DEV and NFTA_HOOK_DEVS.
                c.devices.sort();
                c.devices.dedup();
            }
            5 => c.policy = be32(v),
            7 => c.kind = text(v),
            _ => {}
        }
    }
    c
}

/// A base chain's place in `rs.base_chains`: one per device for an
/// ingress chain (a netdev chain may hook several).
fn base_chains(c: &Chain, rs: &mut Ruleset) {
    let Some(hook) = c.hook else { return };
    let chain = chain_ref(c.family, &c.table, &c.name);
    // NF_INET_PRE_ROUTING 0, LOCAL_IN 1, FORWARD 2, LOCAL_OUT 3,
    // POST_ROUTING 4, INGRESS 5 (inet); NF_NETDEV_INGRESS 0, EGRESS 1;
    // NF_ARP_IN 0, OUT 1, FORWARD 2.
    let hooks = match (c.family, hook) {
        (5, 0) | (1, 5) => c.devices.iter().map(|d| Hook::Ingress(d.clone())).collect(),
        (5, _) => {
            // Egress sees only what leaves (replies among it), and the
            // model has no hook for it.
            rs.unread.push(format!(
                "the netdev egress chain {chain} on {}",
                c.devices.join(", ")
            ));
            Vec::new()
        }
        (3, 0) => vec![Hook::Input],
        (3, 1) => vec![Hook::Output],
        (3, 2) => vec![Hook::Forward],
        (_, 0) => vec![Hook::Prerouting],
        (_, 1) => vec![Hook::Input],
        (_, 2) => vec![Hook::Forward],
        (_, 3) => vec![Hook::Output],
        (_, 4) => vec![Hook::Postrouting],
        (_, n) => {
            rs.unread
                .push(format!("the base chain {chain} at hook {n}"));
            Vec::new()
        }
    };
    for hook in hooks {
        rs.base_chains.push(BaseChain {
            chain: chain.clone(),
            hook,
            kind: c.kind.clone(),
            priority: c.priority,
            policy: if c.policy == Some(0) {
                Policy::Drop
            } else {
                Policy::Accept
            },
        });
    }
}

type SetKey = (u8, String, String);

/// NFTA_SET_TABLE 1, NAME 2, FLAGS 3, KEY_LEN 5.
fn parse_set(family: u8, b: &[u8]) -> (SetKey, (u32, usize)) {
    let (mut table, mut name, mut flags, mut key_len) = (String::new(), String::new(), 0, 0);
    for (k, v) in attrs(b) {
        match k {
            1 => table = text(v),
            2 => name = text(v),
            3 => flags = be32(v).unwrap_or(0),
            5 => key_len = be32(v).unwrap_or(0) as usize,
            _ => {}
        }
    }
    ((family, table, name), (flags, key_len))
}

/// The namespace being read, as the decoder sees it: the sets of the
/// current rule's table (each read once), and interface names.
struct Live<'a> {
    fd: &'a OwnedFd,
    family: u8,
    table: String,
    infos: &'a HashMap<SetKey, (u32, usize)>,
    cache: HashMap<SetKey, Result<Rc<sets::SetData>, String>>,
}

impl sets::Env for Live<'_> {
    fn set(&mut self, name: &str) -> Result<Rc<sets::SetData>, String> {
        let key = (self.family, self.table.clone(), name.to_string());
        if let Some(found) = self.cache.get(&key) {
            return found.clone();
        }
        let read = match self.infos.get(&key) {
            None => Err("a set whyport could not list".to_string()),
            // A dynamic set (a meter, a ban list) is undecided whatever it
            // holds: its elements, up to hundreds of thousands, are not read.
            Some(&(flags, key_len)) if flags & sets::SET_EVAL != 0 => Ok(Rc::new(sets::SetData {
                flags,
                key_len,
                elems: Vec::new(),
            })),
            Some(&(flags, key_len)) => read_elements(self.fd, &key)
                .map(|elems| {
                    Rc::new(sets::SetData {
                        flags,
                        key_len,
                        elems,
                    })
                })
                .map_err(|e| format!("its elements could not be read: {e}")),
        };
        self.cache.insert(key, read.clone());
        read
    }

    fn ifname(&self, index: u32) -> Option<String> {
        let mut buf = [0u8; libc::IF_NAMESIZE];
        // SAFETY: buf has the IF_NAMESIZE bytes if_indextoname may write.
        let ptr = unsafe { libc::if_indextoname(index, buf.as_mut_ptr().cast()) };
        (!ptr.is_null()).then(|| text(&buf))
    }
}

/// NFT_MSG_GETSETELEM for one set (NFTA_SET_ELEM_LIST_TABLE 1, SET 2).
fn read_elements(fd: &OwnedFd, (family, table, set): &SetKey) -> io::Result<Vec<sets::Elem>> {
    let mut a = Vec::new();
    nft::put_attr(&mut a, 1, table.as_bytes());
    nft::put_attr(&mut a, 2, set.as_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    let msg = nft::request(nft::NFT_MSG_GETSETELEM, flags, *family, &a);
    let replies = nft::exchange(fd, &msg, nft::NFT_MSG_NEWSETELEM)?;
    Ok(elements(replies.iter().map(|(_, b)| b.as_slice())))
}

/// NFT_MSG_NEWSETELEM payloads as elements (a map's data: NFTA_DATA_VERDICT 2).
fn elements<'a>(replies: impl Iterator<Item = &'a [u8]>) -> Vec<sets::Elem> {
    nft::set_elements(replies)
        .into_iter()
        .map(|e| sets::Elem {
            key: e.key.unwrap_or_default(),
            key_end: e.key_end,
            flags: e.flags.unwrap_or(0),
            verdict: e.data.and_then(|d| {
                attrs(d)
                    .into_iter()
                    .find(|(t, _)| *t == 2)
                    .map(|(_, v)| expr::verdict_of(v))
            }),
        })
        .collect()
}

#[cfg(test)]
#[path = "nft_filter_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "nft_filter_unit_tests.rs"]
mod unit_tests;
