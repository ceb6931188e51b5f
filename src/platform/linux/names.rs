//! The grammars of names that reach `tc`, `nft` and `ip` (DESIGN §4 rule 10):
//! a value that fails them never gets near a command line or a script.

/// The longest network device name the kernel takes (IFNAMSIZ - 1).
pub const INTERFACE_MAX: usize = 15;
/// The longest network namespace name faultdrill takes.
pub const NETNS_MAX: usize = 64;

/// Why a name was refused. Reads after "parameter `x`: ".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "`{shown}` is not a network device name: use 1 to {INTERFACE_MAX} letters, digits or `_ . : @ -` (e.g. `eth0`, `veth1.10`); `ip link` lists devices"
    )]
    Interface { shown: String },
    #[error(
        "`{shown}` is not a network namespace name: use 1 to {NETNS_MAX} letters, digits or `_ . : @ + -`, not `.` or `..`; `ip netns list` shows them"
    )]
    Netns { shown: String },
}

/// Checks a network device name against `^[A-Za-z0-9_.:@-]{1,15}$`.
pub fn check_interface(name: &str) -> Result<(), NameError> {
    let ok = (1..=INTERFACE_MAX).contains(&name.len()) && name.bytes().all(|b| is_word(b) || b":@".contains(&b));
    if ok { Ok(()) } else { Err(NameError::Interface { shown: shown(name) }) }
}

/// Checks a named network namespace against `^[A-Za-z0-9_.:@+-]{1,64}$`, `.` and `..` excluded.
pub fn check_netns(name: &str) -> Result<(), NameError> {
    let ok = (1..=NETNS_MAX).contains(&name.len())
        && name != "."
        && name != ".."
        && name.bytes().all(|b| is_word(b) || b":@+".contains(&b));
    if ok { Ok(()) } else { Err(NameError::Netns { shown: shown(name) }) }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_.-".contains(&b)
}

/// The name as a message can show it: control characters escaped, long ones cut.
fn shown(name: &str) -> String {
    let escaped: String = name.escape_debug().collect();
    match escaped.char_indices().nth(48) {
        Some((at, _)) => format!("{}…", &escaped[..at]),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernel_grammar() {
        for ok in ["eth0", "veth1.10", "br-lan", "wg_0", "vlan@eth0", "a:b", "abcdefghijklmno"] {
            assert_eq!(check_interface(ok), Ok(()), "{ok}");
        }
        for bad in ["", "abcdefghijklmnop", "eth0 ", "eth\"0", "eth0\naccept", "a/b", "é", "x;y", "{x}"] {
            assert!(check_interface(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn netns_names_are_plain() {
        for ok in ["fdt-a1", "blue", "ns.1", "a+b"] {
            assert_eq!(check_netns(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "a\nb", &"n".repeat(65)] {
            assert!(check_netns(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn messages_escape_what_they_show() {
        let err = check_interface("eth9\" accept\ndelete table inet victim").unwrap_err().to_string();
        assert!(err.starts_with("`eth9\\\" accept\\ndelete table inet victim` is not a network device name"), "{err}");
    }
}
