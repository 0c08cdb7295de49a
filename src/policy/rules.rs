//! "Enabled Mobile Device IDs": the device access rules of the product page
//! (CommuniGate Pro AirSync module, "Restricting Access").
//!
//! A rule list is a comma-separated list of elements, evaluated in order; the first
//! element that matches the device decides:
//! - `PATTERN` matches the device id; `TYPE/PATTERN` matches the device type and id;
//! - `*` in a pattern is a wildcard (any run of characters, also none);
//! - an element starting with `!` prohibits the devices it matches, any other allows;
//! - a device no element matches is prohibited, and so an empty list prohibits all.
//!
//! Matching ignores ASCII case (device ids reach us in mixed case: Windows Mail's
//! binary ids are rendered as upper-case hex) and the blanks around elements.
//! With this reading both examples of the page give its stated results (see tests).

/// A parsed rule list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRules {
    elements: Vec<Element>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Element {
    allow: bool,
    device_type: Option<String>,
    device_id: String,
}

/// Why a device was admitted or refused, for logs and the admin surfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The element (as written) that allowed the device.
    Allowed(String),
    /// The element that prohibited it.
    Prohibited(String),
    /// No element matched (or the list is empty).
    NoMatch,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        matches!(self, Verdict::Allowed(_))
    }
}

impl DeviceRules {
    /// Parses a rule list. Every text is a valid list; empty elements are skipped.
    pub fn parse(text: &str) -> DeviceRules {
        let elements = text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (allow, rest) = match e.strip_prefix('!') {
                    Some(rest) => (false, rest.trim_start()),
                    None => (true, e),
                };
                let (device_type, device_id) = match rest.split_once('/') {
                    Some((t, id)) => (Some(t.trim().to_string()), id.trim().to_string()),
                    None => (None, rest.to_string()),
                };
                Element {
                    allow,
                    device_type,
                    device_id,
                }
            })
            .collect();
        DeviceRules { elements }
    }

    /// Decides for a device of `device_type` with `device_id`.
    pub fn check(&self, device_type: &str, device_id: &str) -> Verdict {
        for e in &self.elements {
            let type_ok = e
                .device_type
                .as_deref()
                .is_none_or(|t| glob(t, device_type));
            if type_ok && glob(&e.device_id, device_id) {
                let written = e.to_string();
                return if e.allow {
                    Verdict::Allowed(written)
                } else {
                    Verdict::Prohibited(written)
                };
            }
        }
        Verdict::NoMatch
    }
}

impl std::fmt::Display for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.allow {
            f.write_str("!")?;
        }
        if let Some(t) = &self.device_type {
            write!(f, "{t}/")?;
        }
        f.write_str(&self.device_id)
    }
}

/// `*`-wildcard match, ignoring ASCII case. Greedy with backtracking to the last star:
/// linear in practice, never exponential.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<u8> = pattern.bytes().map(|b| b.to_ascii_lowercase()).collect();
    let t: Vec<u8> = text.bytes().map(|b| b.to_ascii_lowercase()).collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(rules: &str, device_type: &str, id: &str) -> bool {
        DeviceRules::parse(rules).check(device_type, id).allowed()
    }

    #[test]
    fn default_setting_of_the_product_page() {
        let rules = "!phoneX*, !vendor1/*, *";
        // devices having IDs starting with phoneX are prohibited
        assert!(!allowed(rules, "PocketPC", "phoneX"));
        assert!(!allowed(rules, "PocketPC", "phoneX12345"));
        // devices having the vendor1 device type are prohibited
        assert!(!allowed(rules, "vendor1", "ABCDEF"));
        // all other devices are allowed
        assert!(allowed(
            rules,
            "PocketPC",
            "9999BFE4D66C4BE29AAB1DF8F8CF4064"
        ));
        assert!(allowed(rules, "vendor2", "phone1"));
        assert!(
            allowed(rules, "iPhone", "aphoneX"),
            "the pattern is anchored at the start"
        );
        assert_eq!(
            DeviceRules::parse(rules).check("vendor1", "x"),
            Verdict::Prohibited("!vendor1/*".into())
        );
    }

    #[test]
    fn custom_setting_of_the_product_page() {
        let rules = "9999BFE4D66C4BE29AAB1DF8F8CF4064, android678263333";
        assert!(allowed(
            rules,
            "PocketPC",
            "9999BFE4D66C4BE29AAB1DF8F8CF4064"
        ));
        assert!(allowed(rules, "Android", "android678263333"));
        // All other devices are prohibited.
        assert!(!allowed(
            rules,
            "PocketPC",
            "FAFABFE4D3333BE2ABBC2E0909D05175"
        ));
        assert!(
            !allowed(rules, "Android", "android6782633334"),
            "no implicit prefix match"
        );
        assert_eq!(DeviceRules::parse(rules).check("x", "y"), Verdict::NoMatch);
    }

    #[test]
    fn empty_list_prohibits_everyone() {
        for rules in ["", "   ", ",", " , ,"] {
            assert!(!allowed(rules, "iPhone", "ABC"), "{rules:?}");
        }
    }

    #[test]
    fn blanks_and_case() {
        assert!(allowed("  abc* ,  !x  ", "iPhone", "ABCDEF"));
        assert!(
            !allowed(" !  ABC , *", "iPhone", "abc"),
            "a blank after ! is allowed"
        );
        assert!(allowed("IPHONE/abc", "iPhone", "ABC"));
        assert!(
            allowed(" iPhone / abc ", "iPhone", "abc"),
            "blanks around the slash"
        );
    }

    #[test]
    fn type_and_id_with_wildcards() {
        let rules = "!Android/test*, Android/*, iPhone/A*Z";
        assert!(!allowed(rules, "Android", "test1"));
        assert!(allowed(rules, "Android", "prod1"));
        assert!(allowed(rules, "iPhone", "A123Z"));
        assert!(allowed(rules, "iPhone", "AZ"));
        assert!(!allowed(rules, "iPhone", "A123"));
        assert!(
            !allowed(rules, "SAMSUNG", "prod1"),
            "no element for this type"
        );
        assert!(allowed("*/X1", "Anything", "x1"));
        assert!(!allowed("*/X1", "Anything", "x2"));
        assert!(allowed("*Phone*/*", "SmartPhoneX", "1"));
    }

    #[test]
    fn first_match_decides() {
        assert!(allowed("abc, !abc", "t", "abc"));
        assert!(!allowed("!abc, abc", "t", "abc"));
        assert!(!allowed("!*", "t", "abc"));
        assert!(
            allowed("!zzz, *", "t", "abc"),
            "a non-matching ! element does not decide"
        );
    }

    #[test]
    fn glob_edge_cases() {
        assert!(glob("*", ""));
        assert!(glob("", ""));
        assert!(!glob("", "a"));
        assert!(glob("a**b", "ab"));
        assert!(glob("*a*b*", "xxaxxbxx"));
        assert!(!glob("*a*b", "xxaxxbxxc"));
        assert!(glob("a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaab"));
    }
}
