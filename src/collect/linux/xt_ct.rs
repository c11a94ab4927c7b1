//! Linux: the connection-tracking matches of iptables (`-m conntrack`,
//! `-m state`) as conditions: their state bits, the DNAT status that
//! shares the mask, and the rest named.

use super::{Decoded, ne16};
use crate::model::firewall::{Cond, ct};

/// The conntrack state bits of `xt_state` and `xt_conntrack` into
/// `ct::*`: INVALID 1, then 1 << (ctinfo + 1) for ESTABLISHED (2),
/// RELATED (4), NEW (8) as nft has them; UNTRACKED is 1 << 6 in
/// `xt_state` and 1 << 8 in `xt_conntrack` (`untracked`: which of them).
fn ct_bits(mask: u32, untracked: u32) -> u32 {
    let mut bits = mask & (ct::INVALID | ct::ESTABLISHED | ct::RELATED | ct::NEW);
    if mask & untracked != 0 {
        bits |= ct::UNTRACKED;
    }
    bits
}

pub(super) fn state_bits(mask: u32) -> u32 {
    ct_bits(mask, 1 << 6)
}

/// `xt_conntrack_mtinfo1/2/3`: eight nf_inet_addr (128 bytes),
/// expires_min/max, l4proto (136), four ports, match_flags (146),
/// invert_flags (148), state_mask (150: u8 in revision 1, u16 after).
pub(super) fn conntrack(rev: u32, info: &[u8]) -> Option<Decoded> {
    const STATE: u16 = 1 << 0;
    const PROTO: u16 = 1 << 1;
    const STATE_ALIAS: u16 = 1 << 13;
    const SNAT: u32 = 1 << 6;
    const DNAT: u32 = 1 << 7;
    let (flags, invert) = (ne16(info, 146)?, ne16(info, 148)?);
    let state_mask = match rev {
        1 => u32::from(*info.get(150)?),
        2 | 3 => u32::from(ne16(info, 150)?),
        _ => return None,
    };
    let mut conds = Vec::new();
    // A state or the DNAT status: the alternatives, each with `conds`.
    let mut either = None;
    if flags & STATE != 0 {
        let negated = invert & STATE != 0;
        let states = ct_bits(state_mask, 1 << 8);
        let dnat = state_mask & DNAT != 0;
        // The kernel asks whether the packet's state bit, or its SNAT or
        // DNAT status bit, is in the mask: an "or". Inverted, none of
        // them is: each condition negated, all holding.
        let words = format!(
            "-m conntrack {}--ctstate {}",
            if negated { "! " } else { "" },
            ctstate_words(state_mask)
        );
        if state_mask & SNAT != 0 {
            conds.push(Cond::Unknown(words));
        } else if dnat && states != 0 && !negated {
            either = Some((states, words));
        } else {
            if states != 0 || !dnat {
                conds.push(Cond::CtState {
                    negated,
                    mask: states,
                });
            }
            if dnat {
                conds.push(Cond::CtDnat { negated });
            }
        }
    }
    if flags & PROTO != 0 {
        // The original direction's protocol: the packet's own.
        conds.push(Cond::L4proto {
            negated: invert & PROTO != 0,
            protos: vec![u8::try_from(ne16(info, 136)?).ok()?],
        });
    }
    let rest = flags & !(STATE | PROTO | STATE_ALIAS);
    if rest != 0 {
        conds.push(Cond::Unknown(format!(
            "-m conntrack {}",
            conntrack_words(rest)
        )));
    }
    Some(match either {
        None => Decoded::All(conds),
        Some((states, words)) => {
            let with = |c: Cond| [vec![c], conds.clone()].concat();
            Decoded::Any(
                vec![
                    with(Cond::CtState {
                        negated: false,
                        mask: states,
                    }),
                    with(Cond::CtDnat { negated: false }),
                ],
                words,
            )
        }
    })
}

fn ctstate_words(mask: u32) -> String {
    let names = [
        (1, "INVALID"),
        (2, "ESTABLISHED"),
        (4, "RELATED"),
        (8, "NEW"),
        (1 << 6, "SNAT"),
        (1 << 7, "DNAT"),
        (1 << 8, "UNTRACKED"),
    ];
    let words: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    words.join(",")
}

fn conntrack_words(flags: u16) -> String {
    let names = [
        (1 << 2, "--ctorigsrc"),
        (1 << 3, "--ctorigdst"),
        (1 << 4, "--ctreplsrc"),
        (1 << 5, "--ctrepldst"),
        (1 << 6, "--ctstatus"),
        (1 << 7, "--ctexpire"),
        (1 << 8, "--ctorigsrcport"),
        (1 << 9, "--ctorigdstport"),
        (1 << 10, "--ctreplsrcport"),
        (1 << 11, "--ctrepldstport"),
        (1 << 12, "--ctdir"),
    ];
    let words: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if words.is_empty() {
        format!("flags {flags:#x}")
    } else {
        words.join(" ")
    }
}
