//! Typed decode errors. Every malformed input maps to one of these; the decoder never
//! panics.

/// A WBXML feature that is valid WBXML 1.3 but that ActiveSync never uses; the decoder
/// refuses it instead of guessing ([MS-ASWBXML] §2.1.2: EAS uses tags, inline strings and
/// opaque data only).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Feature {
    /// A tag with the attribute bit (0x80) set (WBXML 1.3 §5.8.2).
    Attributes,
    /// A processing instruction, `PI` 0x43 (WBXML 1.3 §5.8.4.4).
    ProcessingInstruction,
    /// An extension token `EXT_I_*`, `EXT_T_*` or `EXT_*` (WBXML 1.3 §5.8.4.2).
    Extension,
    /// A `LITERAL*` tag whose name is in the string table (WBXML 1.3 §5.8.4.5).
    LiteralTag,
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Feature::Attributes => "attributes",
            Feature::ProcessingInstruction => "processing instructions",
            Feature::Extension => "extension tokens",
            Feature::LiteralTag => "literal tags",
        })
    }
}

/// Why a WBXML document could not be decoded. Offsets are byte offsets into the input.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum WbxmlError {
    /// The input ended inside the header, a token, a string or opaque data, or before the
    /// root element was closed. Also returned for empty input.
    #[error("WBXML input truncated at offset {offset}")]
    Truncated { offset: usize },
    /// The version byte is not 0x01–0x03 (WBXML 1.1–1.3).
    #[error("unsupported WBXML version byte 0x{0:02X}")]
    BadVersion(u8),
    /// A multi-byte integer (mb_u_int32, WBXML 1.3 §5.1) is longer than 5 bytes or does
    /// not fit in 32 bits.
    #[error("invalid mb_u_int32 at offset {offset} (longer than 5 bytes or over 32 bits)")]
    BadMbUInt32 { offset: usize },
    /// The document charset (IANA MIBenum) is not UTF-8 (106), US-ASCII (3) or unknown (0).
    #[error("unsupported charset MIBenum {0}")]
    UnsupportedCharset(u32),
    /// The input is larger than [`Limits::max_input`](super::Limits::max_input).
    #[error("WBXML input of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    /// Elements nest deeper than [`Limits::max_depth`](super::Limits::max_depth).
    #[error("WBXML elements nest deeper than {limit}")]
    TooDeep { limit: usize },
    /// The document has more nodes than [`Limits::max_elements`](super::Limits::max_elements).
    #[error("WBXML document has more than {limit} nodes")]
    TooManyElements { limit: usize },
    /// An inline or table string is not valid UTF-8.
    #[error("string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 { offset: usize },
    /// An `ENTITY` value is not a Unicode scalar value, or is U+0000.
    #[error("entity at offset {offset} has invalid code point {value:#X}")]
    InvalidEntity { offset: usize, value: u32 },
    /// A `STR_T` reference (or a literal public id) points outside the string table or
    /// at a string without its NUL terminator.
    #[error("string table reference {index} at offset {offset} is out of bounds")]
    BadStringTableRef { offset: usize, index: u32 },
    /// The document uses a WBXML feature that ActiveSync does not use.
    #[error("WBXML {feature} at offset {offset} are not supported")]
    Unsupported { offset: usize, feature: Feature },
    /// An `END` token with no open element.
    #[error("END token at offset {offset} without an open element")]
    UnexpectedEnd { offset: usize },
    /// Text, opaque data or an entity before the root element.
    #[error("content at offset {offset} outside the root element")]
    ContentOutsideRoot { offset: usize },
    /// Bytes after the root element was closed.
    #[error("trailing data at offset {offset} after the root element")]
    TrailingData { offset: usize },
}
