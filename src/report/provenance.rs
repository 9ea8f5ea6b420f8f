//! Where each control comes from: the benchmark and its version, the rule identifiers where this
//! project has them, the check and the fix in the project's own words, and the framework
//! requirements it maps to (with the framework's version). Which part is the tool's own check is
//! said in `origin`.

use serde::Serialize;

/// A framework requirement a control maps to.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Mapping {
    /// The framework and its version, e.g. `NIST SP 800-53 Rev. 5`.
    pub framework: &'static str,
    /// The requirement, e.g. `CP-9(8)` or `3.7.3`.
    pub requirement: &'static str,
    /// Its subject, in a few words.
    pub subject: &'static str,
}

/// The provenance of one control.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Provenance {
    /// `stig` (a published DISA STIG rule, evaluated by this tool from files) or `tool` (the
    /// tool's own check, written for this report and mapped to the frameworks below).
    pub origin: &'static str,
    /// The benchmark the control comes from, with the version this text was written against.
    pub benchmark: &'static str,
    /// The STIG rule ID (`SV-...`) and CCI identifiers, where this project has verified them;
    /// `None` means not recorded here: look them up in the benchmark's current release.
    pub rule_id: Option<&'static str>,
    /// CCI identifiers (see `rule_id`).
    pub cci: &'static [&'static str],
    /// What the tool checks, in its own words.
    pub check: &'static str,
    /// What to do when the check fails, in the tool's own words.
    pub fix: &'static str,
    /// The framework requirements.
    pub maps_to: &'static [Mapping],
}

const CP_9_8: Mapping = Mapping {
    framework: "NIST SP 800-53 Rev. 5",
    requirement: "CP-9(8)",
    subject: "System backup: cryptographic protection",
};
const SC_12_1: Mapping = Mapping {
    framework: "NIST SP 800-53 Rev. 5",
    requirement: "SC-12(1)",
    subject: "Cryptographic key management: availability",
};
const CP_4: Mapping = Mapping {
    framework: "NIST SP 800-53 Rev. 5",
    requirement: "CP-4",
    subject: "Contingency plan testing",
};
const PCI_3_6_1: Mapping = Mapping {
    framework: "PCI DSS v4.0.1",
    requirement: "3.6.1",
    subject: "Keys protected against disclosure and misuse",
};
const PCI_3_7_3: Mapping = Mapping {
    framework: "PCI DSS v4.0.1",
    requirement: "3.7.3",
    subject: "Secure storage of cryptographic keys",
};

const PROTECTION_CHECK: &str =
    "Every NKP backup found (.p12 file or vCenter backup bundle) is opened offline. \
The check fails when a backup's KDK is readable without a password, when the password does not \
meet the STIG's complexity (15 characters, four character classes), or when a provider's only \
copies are unprotected. Backups that cannot be opened are not assessed.";
const PROTECTION_FIX: &str =
    "Export the provider again from vCenter with a strong password, escrow the \
protected copy (`nkp-escrow vault add`), and delete every unprotected copy.";

/// The provenance of the control `id`, or `None` for an id this table does not know.
pub fn of(id: &str) -> Option<Provenance> {
    Some(match id {
        "VCFA-9X-000335" => Provenance {
            origin: "stig",
            benchmark: "DISA STIG for VMware Cloud Foundation 9.x (the rule as published; release not pinned here)",
            rule_id: None,
            cci: &[],
            check: PROTECTION_CHECK,
            fix: PROTECTION_FIX,
            maps_to: &[CP_9_8, PCI_3_6_1, PCI_3_7_3],
        },
        "VCSA-80-000294" => Provenance {
            origin: "stig",
            benchmark: "DISA STIG for VMware vSphere 8.0 vCenter Appliance (the rule as published; release not pinned here)",
            rule_id: None,
            cci: &[],
            check: PROTECTION_CHECK,
            fix: PROTECTION_FIX,
            maps_to: &[CP_9_8, PCI_3_6_1, PCI_3_7_3],
        },
        "vcenter-9.native-key-provider-backup" => Provenance {
            origin: "tool",
            benchmark: "nkp-escrow's own check (the vSphere guidance to back up every Native Key Provider)",
            rule_id: None,
            cci: &[],
            check: "Every provider the live evidence references, per vCenter scope, has an opened backup \
whose KDK matches the live key_id (or the same KDK under another key_id). Fails on a provider \
without one, a name collision or a KDK conflict; not assessed when the evidence names no \
provider, the live key_id is unknown, or backups could not be opened.",
            fix: "Back up each listed provider from vCenter (Key Providers > Back up) and keep the file \
where `coverage` reads it, or escrow it in the vault.",
            maps_to: &[CP_9_8, PCI_3_7_3],
        },
        "NIST-SC-12(1)" => Provenance {
            origin: "tool",
            benchmark: "nkp-escrow's own check, written for NIST SP 800-53 Rev. 5 SC-12(1)",
            rule_id: None,
            cci: &[],
            check: "Every provider in use has an entry of its key_id (or KDK) in an escrow vault that \
verifies without a key. Not assessed without a vault or without a provider.",
            fix: "`nkp-escrow vault add` the provider's current backup; `nkp-escrow vault verify` \
and repair whatever it reports.",
            maps_to: &[SC_12_1, PCI_3_6_1, PCI_3_7_3],
        },
        "NIST-CP-4" => Provenance {
            origin: "tool",
            benchmark: "nkp-escrow's own check, written for NIST SP 800-53 Rev. 5 CP-4",
            rule_id: None,
            cci: &[],
            check: "Every vault entry was restored in a drill (decrypted, re-opened and compared with \
the manifest) within 365 days and the last drill passed; every custodian has drilled at least once.",
            fix: "Each custodian runs `nkp-escrow vault drill --identity KEY` and the result is kept \
in the vault's chain.",
            maps_to: &[CP_4],
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_the_report_evaluates_has_provenance() {
        for id in [
            "VCFA-9X-000335",
            "VCSA-80-000294",
            "vcenter-9.native-key-provider-backup",
            "NIST-SC-12(1)",
            "NIST-CP-4",
        ] {
            let p = of(id).expect(id);
            assert!(!p.maps_to.is_empty());
            assert!(matches!(p.origin, "stig" | "tool"));
            assert!(p
                .maps_to
                .iter()
                .all(|m| m.framework.contains("Rev. 5") || m.framework.contains("v4.0.1")));
        }
        assert!(of("nope").is_none());
    }
}
