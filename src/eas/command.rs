//! The EAS commands (MS-ASCMD 2.2.1) with their names and their codes in the base64
//! query form (MS-ASHTTP 2.2.1.1.1.1.2), and the protocol versions (MS-ASHTTP
//! 2.2.1.1.2.4).

use std::fmt;

macro_rules! commands {
    ($( $variant:ident = $code:literal ),* $(,)?) => {
        /// An EAS command, as named in the `Cmd=` parameter.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Command { $( $variant ),* }

        impl Command {
            /// Every command, in code order.
            pub const ALL: &'static [Command] = &[ $( Command::$variant ),* ];

            /// The name used in `Cmd=` and in `MS-ASProtocolCommands`.
            pub fn name(self) -> &'static str {
                match self { $( Command::$variant => stringify!($variant) ),* }
            }

            /// The command code of the base64 query form.
            pub fn code(self) -> u8 {
                match self { $( Command::$variant => $code ),* }
            }

            pub fn from_code(code: u8) -> Option<Command> {
                match code { $( $code => Some(Command::$variant), )* _ => None }
            }
        }
    };
}

commands! {
    Sync = 0,
    SendMail = 1,
    SmartForward = 2,
    SmartReply = 3,
    GetAttachment = 4,
    FolderSync = 9,
    FolderCreate = 10,
    FolderDelete = 11,
    FolderUpdate = 12,
    MoveItems = 13,
    GetItemEstimate = 14,
    MeetingResponse = 15,
    Search = 16,
    Settings = 17,
    Ping = 18,
    ItemOperations = 19,
    Provision = 20,
    ResolveRecipients = 21,
    ValidateCert = 22,
    Find = 23,
}

impl Command {
    /// Command names are matched without regard to case: some clients send `sync`.
    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL
            .iter()
            .copied()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An EAS protocol version airsync speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    V12_0,
    V12_1,
    V14_0,
    V14_1,
    V16_0,
    V16_1,
}

impl ProtocolVersion {
    pub const ALL: &'static [ProtocolVersion] = &[
        ProtocolVersion::V12_0,
        ProtocolVersion::V12_1,
        ProtocolVersion::V14_0,
        ProtocolVersion::V14_1,
        ProtocolVersion::V16_0,
        ProtocolVersion::V16_1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V12_0 => "12.0",
            ProtocolVersion::V12_1 => "12.1",
            ProtocolVersion::V14_0 => "14.0",
            ProtocolVersion::V14_1 => "14.1",
            ProtocolVersion::V16_0 => "16.0",
            ProtocolVersion::V16_1 => "16.1",
        }
    }

    /// Parses the `MS-ASProtocolVersion` header value.
    pub fn parse(s: &str) -> Option<ProtocolVersion> {
        ProtocolVersion::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s.trim())
    }

    /// The version byte of the base64 query form: the version times ten (161 = 16.1).
    pub fn from_base64_byte(b: u8) -> Option<ProtocolVersion> {
        match b {
            120 => Some(ProtocolVersion::V12_0),
            121 => Some(ProtocolVersion::V12_1),
            140 => Some(ProtocolVersion::V14_0),
            141 => Some(ProtocolVersion::V14_1),
            160 => Some(ProtocolVersion::V16_0),
            161 => Some(ProtocolVersion::V16_1),
            _ => None,
        }
    }

    /// 14.0 and later report most errors as a Status inside the command response
    /// rather than as an HTTP status (MS-ASCMD 2.2.2).
    pub fn has_common_status(self) -> bool {
        self >= ProtocolVersion::V14_0
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for c in Command::ALL {
            assert_eq!(Command::from_code(c.code()), Some(*c));
            assert_eq!(Command::from_name(&c.name().to_lowercase()), Some(*c));
        }
        assert_eq!(Command::from_code(5), None);
        assert_eq!(Command::ItemOperations.code(), 19);
    }

    #[test]
    fn versions() {
        assert_eq!(ProtocolVersion::parse("16.1"), Some(ProtocolVersion::V16_1));
        assert_eq!(ProtocolVersion::parse("2.5"), None);
        assert_eq!(
            ProtocolVersion::from_base64_byte(0xA1),
            Some(ProtocolVersion::V16_1)
        );
        assert!(ProtocolVersion::V14_0.has_common_status());
        assert!(!ProtocolVersion::V12_1.has_common_status());
    }
}
