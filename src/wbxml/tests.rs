//! Unit tests for decode/encode edge cases and the Element helpers.

use super::pages::{AirSync, AirSyncBase, ComposeMail, FolderHierarchy, Provision};
use super::*;

fn dec(bytes: &[u8]) -> Result<Element, WbxmlError> {
    decode(bytes, &Limits::default())
}

/// Header used by EAS peers: 1.3, public id 1, UTF-8, no string table.
const H: [u8; 4] = [0x03, 0x01, 0x6A, 0x00];

fn doc(body: &[u8]) -> Vec<u8> {
    let mut v = H.to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn folder_sync_request_round_trip() {
    // <FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>
    let bytes = doc(&[0x00, 0x07, 0x56, 0x52, 0x03, b'0', 0x00, 0x01, 0x01]);
    let root = dec(&bytes).unwrap();
    assert_eq!(
        root,
        Element::new(FolderHierarchy::FolderSync).text_child(FolderHierarchy::SyncKey, "0")
    );
    assert_eq!(encode(&root), bytes);
    assert_eq!(
        root.child_text(FolderHierarchy::SyncKey).as_deref(),
        Some("0")
    );
}

#[test]
fn empty_input_is_truncated() {
    assert_eq!(dec(&[]), Err(WbxmlError::Truncated { offset: 0 }));
}

#[test]
fn header_without_body_is_truncated() {
    assert_eq!(dec(&H), Err(WbxmlError::Truncated { offset: 4 }));
}

#[test]
fn every_prefix_of_a_document_is_truncated() {
    let bytes = encode(
        &Element::new(AirSync::Sync)
            .text_child(AirSync::SyncKey, "abc")
            .child(Element::with_opaque(AirSyncBase::Data, vec![1, 2, 3])),
    );
    for n in 0..bytes.len() {
        assert!(
            matches!(dec(&bytes[..n]), Err(WbxmlError::Truncated { .. })),
            "prefix {n}: {:?}",
            dec(&bytes[..n])
        );
    }
    assert!(dec(&bytes).is_ok());
}

#[test]
fn bad_versions() {
    assert_eq!(
        dec(&[0x00, 0x01, 0x6A, 0x00, 0x05]),
        Err(WbxmlError::BadVersion(0))
    );
    assert_eq!(
        dec(&[0x04, 0x01, 0x6A, 0x00, 0x05]),
        Err(WbxmlError::BadVersion(4))
    );
    for v in 1..=3 {
        assert!(dec(&[v, 0x01, 0x6A, 0x00, 0x05]).is_ok());
    }
}

#[test]
fn mb_u_int32_overflow_and_length() {
    // public id = 2^32 (5 bytes, over 32 bits)
    assert_eq!(
        dec(&[0x03, 0x90, 0x80, 0x80, 0x80, 0x00, 0x6A, 0x00, 0x05]),
        Err(WbxmlError::BadMbUInt32 { offset: 1 })
    );
    // u32::MAX is fine as a public id
    assert!(dec(&[0x03, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F, 0x6A, 0x00, 0x05]).is_ok());
    // six bytes, even though the value (1) is small
    assert_eq!(
        dec(&[0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x6A, 0x00, 0x05]),
        Err(WbxmlError::BadMbUInt32 { offset: 1 })
    );
    // opaque length overflowing
    assert_eq!(
        dec(&doc(&[0x45, 0xC3, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])),
        Err(WbxmlError::BadMbUInt32 { offset: 6 })
    );
}

#[test]
fn huge_declared_opaque_length_is_truncated_without_allocating() {
    // OPAQUE of u32::MAX bytes with 2 bytes of data present.
    assert_eq!(
        dec(&doc(&[0x45, 0xC3, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2])),
        Err(WbxmlError::Truncated { offset: 13 })
    );
    // A string table claiming 2^28 bytes.
    assert!(matches!(
        dec(&[0x03, 0x01, 0x6A, 0x81, 0x80, 0x80, 0x80, 0x00, 0x05]),
        Err(WbxmlError::Truncated { .. })
    ));
}

#[test]
fn deep_nesting_over_the_limit() {
    let limits = Limits {
        max_depth: 8,
        ..Limits::default()
    };
    let nest = |depth: usize| {
        let mut body = vec![0x45; depth - 1];
        body.push(0x05);
        body.extend(std::iter::repeat_n(0x01, depth - 1));
        doc(&body)
    };
    assert!(decode(&nest(8), &limits).is_ok());
    assert_eq!(
        decode(&nest(9), &limits),
        Err(WbxmlError::TooDeep { limit: 8 })
    );
    // A million open tags: refused at the default limit, with no stack growth.
    let mut body = vec![0x45; 1_000_000];
    body.push(0x05);
    assert_eq!(dec(&doc(&body)), Err(WbxmlError::TooDeep { limit: 64 }));
}

#[test]
fn too_many_nodes() {
    let limits = Limits {
        max_elements: 10,
        ..Limits::default()
    };
    let mut body = vec![0x45];
    body.extend(std::iter::repeat_n(0x05, 9));
    body.push(0x01);
    assert!(decode(&doc(&body), &limits).is_ok());
    let mut body = vec![0x45];
    body.extend(std::iter::repeat_n([0x03, 0x00], 10).flatten());
    body.push(0x01);
    assert_eq!(
        decode(&doc(&body), &limits),
        Err(WbxmlError::TooManyElements { limit: 10 })
    );
}

#[test]
fn input_too_large() {
    let limits = Limits {
        max_input: 4,
        ..Limits::default()
    };
    assert_eq!(
        decode(&doc(&[0x05]), &limits),
        Err(WbxmlError::TooLarge { size: 5, limit: 4 })
    );
}

#[test]
fn switch_page_to_255_decodes_as_unnamed_tag() {
    let bytes = doc(&[0x00, 0xFF, 0x45, 0x03, b'x', 0x00, 0x01]);
    let root = dec(&bytes).unwrap();
    assert_eq!(root.tag, Tag::new(255, 0x05));
    assert_eq!(root.tag.name(), None);
    assert_eq!(root.tag.namespace(), None);
    assert_eq!(root.tag.to_string(), "page 255 token 0x05");
    assert_eq!(encode(&root), bytes);
    assert!(to_xml(&root).contains("<unknown token=\"0x05\" xmlns=\"Page255:\">x</unknown>"));
}

#[test]
fn unknown_token_on_known_page_is_kept() {
    let bytes = doc(&[0x45, 0x2A, 0x01]); // AirSync 0x2A is unassigned
    let root = dec(&bytes).unwrap();
    assert_eq!(root.elements().next().unwrap().tag, Tag::new(0, 0x2A));
    assert_eq!(encode(&root), bytes);
}

#[test]
fn string_table_references() {
    // string table "ab\0cd\0"; body: <Sync>STR_T 3</Sync>
    let bytes = [
        0x03, 0x01, 0x6A, 0x06, b'a', b'b', 0, b'c', b'd', 0, 0x45, 0x83, 0x03, 0x01,
    ];
    let root = dec(&bytes).unwrap();
    assert_eq!(root.text().as_deref(), Some("cd"));
    // re-encoded inline: same tree, different bytes
    assert_eq!(dec(&encode(&root)).unwrap(), root);
    // offset 6 = table length: out of bounds
    let mut oob = bytes;
    oob[12] = 0x06;
    assert_eq!(
        dec(&oob),
        Err(WbxmlError::BadStringTableRef {
            offset: 11,
            index: 6
        })
    );
    // huge index
    let oob = [
        0x03, 0x01, 0x6A, 0x02, b'a', 0, 0x45, 0x83, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F, 0x01,
    ];
    assert!(matches!(
        dec(&oob),
        Err(WbxmlError::BadStringTableRef { .. })
    ));
    // unterminated table string
    let unterminated = [0x03, 0x01, 0x6A, 0x02, b'a', b'b', 0x45, 0x83, 0x00, 0x01];
    assert!(matches!(
        dec(&unterminated),
        Err(WbxmlError::BadStringTableRef { .. })
    ));
}

#[test]
fn literal_public_id_refers_into_string_table() {
    let ok = [0x03, 0x00, 0x00, 0x6A, 0x02, b'x', 0, 0x05];
    assert!(dec(&ok).is_ok());
    let bad = [0x03, 0x00, 0x05, 0x6A, 0x02, b'x', 0, 0x05];
    assert_eq!(
        dec(&bad),
        Err(WbxmlError::BadStringTableRef {
            offset: 1,
            index: 5
        })
    );
}

#[test]
fn charsets() {
    assert!(dec(&[0x03, 0x01, 0x00, 0x00, 0x05]).is_ok());
    assert!(dec(&[0x03, 0x01, 0x03, 0x00, 0x05]).is_ok());
    assert_eq!(
        dec(&[0x03, 0x01, 0x04, 0x00, 0x05]),
        Err(WbxmlError::UnsupportedCharset(4))
    );
}

#[test]
fn entity_is_a_text_piece() {
    let root = dec(&doc(&[
        0x45, 0x03, b'a', 0, 0x02, 0x81, 0x69, 0x03, b'b', 0, 0x01,
    ]))
    .unwrap();
    assert_eq!(root.children.len(), 3);
    assert_eq!(root.text().as_deref(), Some("a\u{E9}b"));
    assert_eq!(
        dec(&doc(&[0x45, 0x02, 0x00, 0x01])),
        Err(WbxmlError::InvalidEntity {
            offset: 5,
            value: 0
        })
    );
    assert!(matches!(
        dec(&doc(&[0x45, 0x02, 0x83, 0xB0, 0x00, 0x01])), // U+D800
        Err(WbxmlError::InvalidEntity { .. })
    ));
}

#[test]
fn invalid_utf8_in_inline_string() {
    assert_eq!(
        dec(&doc(&[0x45, 0x03, 0xFF, 0x00, 0x01])),
        Err(WbxmlError::InvalidUtf8 { offset: 6 })
    );
}

#[test]
fn refused_features() {
    let feature = |body: &[u8]| match dec(&doc(body)) {
        Err(WbxmlError::Unsupported { feature, .. }) => Some(feature),
        _ => None,
    };
    assert_eq!(feature(&[0x85, 0x01]), Some(Feature::Attributes));
    assert_eq!(feature(&[0xC5, 0x01, 0x01]), Some(Feature::Attributes));
    assert_eq!(feature(&[0x45, 0x43]), Some(Feature::ProcessingInstruction));
    assert_eq!(feature(&[0x45, 0x40]), Some(Feature::Extension));
    assert_eq!(feature(&[0x45, 0x80, 0x00]), Some(Feature::Extension));
    assert_eq!(feature(&[0x45, 0xC2]), Some(Feature::Extension));
    assert_eq!(feature(&[0x04, 0x00]), Some(Feature::LiteralTag));
    assert_eq!(feature(&[0x44, 0x00]), Some(Feature::LiteralTag));
}

#[test]
fn structure_errors() {
    assert_eq!(
        dec(&doc(&[0x01])),
        Err(WbxmlError::UnexpectedEnd { offset: 4 })
    );
    assert_eq!(
        dec(&doc(&[0x03, b'a', 0x00, 0x05])),
        Err(WbxmlError::ContentOutsideRoot { offset: 4 })
    );
    assert_eq!(
        dec(&doc(&[0x05, 0x05])),
        Err(WbxmlError::TrailingData { offset: 5 })
    );
    assert_eq!(
        dec(&doc(&[0x45, 0x05])),
        Err(WbxmlError::Truncated { offset: 6 })
    );
}

#[test]
fn empty_content_element_decodes_and_reencodes_without_content_bit() {
    let root = dec(&doc(&[0x45, 0x01])).unwrap();
    assert!(root.children.is_empty());
    assert_eq!(encode(&root), doc(&[0x05]));
}

#[test]
fn page_is_tracked_across_end_tokens() {
    // Sync > (Body on AirSyncBase) , (Data on AirSyncBase) , (SyncKey back on AirSync)
    let root = Element::new(AirSync::Sync)
        .child(Element::new(AirSyncBase::Body).child(Element::new(AirSyncBase::Data)))
        .child(Element::new(AirSyncBase::Type))
        .child(Element::new(AirSync::SyncKey));
    let bytes = encode(&root);
    assert_eq!(
        bytes,
        doc(&[
            0x45, 0x00, 0x11, 0x4A, 0x0B, 0x01, 0x06, 0x00, 0x00, 0x0B, 0x01
        ])
    );
    assert_eq!(dec(&bytes).unwrap(), root);
}

#[test]
fn text_with_nul_is_encoded_as_opaque() {
    let root = Element::with_text(ComposeMail::Mime, "a\0b");
    let bytes = encode(&root);
    assert_eq!(
        bytes,
        doc(&[0x00, 0x15, 0x50, 0xC3, 0x03, b'a', 0, b'b', 0x01])
    );
    let back = dec(&bytes).unwrap();
    assert_eq!(back.text().as_deref(), Some("a\0b"));
}

#[test]
fn text_and_bytes_helpers() {
    let e = Element::new(AirSync::Sync);
    assert_eq!(e.text(), None);
    assert_eq!(e.bytes(), None);
    let e = Element::with_text(AirSync::SyncKey, "k");
    assert!(matches!(e.text(), Some(Cow::Borrowed("k"))));
    let mut e = Element::with_text(AirSync::SyncKey, "a");
    e.children.push(Node::Opaque(b"b".to_vec()));
    e.children.push(Node::Text("c".into()));
    assert_eq!(e.text().as_deref(), Some("abc"));
    assert_eq!(e.bytes().as_deref(), Some(&b"abc"[..]));
    let bin = Element::with_opaque(AirSyncBase::Data, vec![0xFF, 0x00]);
    assert_eq!(bin.text(), None);
    assert_eq!(bin.bytes().as_deref(), Some(&[0xFF, 0x00][..]));
    let parent = Element::new(Provision::Policy)
        .text_child(Provision::PolicyType, "MS-EAS-Provisioning-WBXML")
        .text_child(Provision::Status, "1")
        .text_child(Provision::Status, "2");
    assert_eq!(parent.all(Provision::Status).count(), 2);
    assert_eq!(parent.child_text(Provision::Status).as_deref(), Some("1"));
    assert_eq!(parent.first(Provision::PolicyKey), None);
}

#[test]
fn names_and_lookup() {
    assert_eq!(AirSync::SyncKey.name(), Some("SyncKey"));
    assert_eq!(AirSync::SyncKey.namespace(), Some("AirSync"));
    assert_eq!(Tag::from_name("AirSync", "SyncKey"), Some(AirSync::SyncKey));
    assert_eq!(
        Tag::from_name("AirSync:", "SyncKey"),
        Some(AirSync::SyncKey)
    );
    assert_eq!(
        Tag::from_name("GetItemEstimate", "Estimate"),
        Some(pages::ItemEstimate::Estimate)
    );
    assert_eq!(
        Tag::from_name("ItemEstimate", "Estimate"),
        Some(pages::ItemEstimate::Estimate)
    );
    assert_eq!(
        Tag::from_name("Provision", "RequireStorageCardEncryption"),
        Some(Tag::new(14, 0x10))
    );
    assert_eq!(pages::GAL::Picture.namespace(), Some("Gal"));
    assert_eq!(Tag::from_name("GAL", "Picture"), Some(pages::GAL::Picture));
    assert_eq!(Tag::from_name("Gal:", "Picture"), Some(pages::GAL::Picture));
    assert_eq!(Tag::from_name("Nope", "SyncKey"), None);
    assert_eq!(Tag::from_name("AirSync", "synckey"), None);
    assert_eq!(
        FolderHierarchy::FolderSync.to_string(),
        "FolderHierarchy:FolderSync"
    );
    // every table entry round-trips through from_name
    for p in 0..=25u8 {
        for token in 0..=0x3F {
            let tag = Tag::new(p, token);
            if let Some(name) = tag.name() {
                assert_eq!(Tag::from_name(tag.namespace().unwrap(), name), Some(tag));
            }
        }
    }
}

#[test]
fn xml_rendering() {
    let root = Element::new(AirSync::Sync).child(
        Element::new(AirSync::Collection)
            .text_child(AirSync::SyncKey, "a<b")
            .child(Element::with_opaque(AirSyncBase::Data, vec![1, 2, 3]))
            .child(Element::new(AirSync::GetChanges)),
    );
    let xml = to_xml(&root);
    let expected = "<?xml version=\"1.0\"?>\n\
<!DOCTYPE ActiveSync PUBLIC \"-//MICROSOFT//DTD ActiveSync//EN\" \"http://www.microsoft.com/\">\n\
<Sync xmlns=\"AirSync:\">\n \
<Collection>\n  \
<SyncKey>a&lt;b</SyncKey>\n  \
<Data xmlns=\"AirSyncBase:\">[opaque 3 bytes: AQID]</Data>\n  \
<GetChanges/>\n \
</Collection>\n\
</Sync>\n";
    assert_eq!(xml, expected);
}

#[test]
fn events_give_the_document_in_order_without_a_tree() {
    // string table "cd\0"; <Sync> <Body page 17> STR_I "ab" STR_T 0 ENTITY 'é' OPAQUE [7]
    // </Body> <SyncKey/> </Sync>
    let bytes = [
        0x03, 0x01, 0x6A, 0x03, b'c', b'd', 0, 0x45, 0x00, 0x11, 0x4A, 0x03, b'a', b'b', 0, 0x83,
        0x00, 0x02, 0x81, 0x69, 0xC3, 0x01, 0x07, 0x01, 0x00, 0x00, 0x0B, 0x01,
    ];
    let limits = Limits::default();
    let mut events = Events::new(&bytes, &limits).unwrap();
    let mut seen = Vec::new();
    while let Some(event) = events.next().unwrap() {
        seen.push(event);
    }
    let start = |tag, content| Event::Start { tag, content };
    assert_eq!(
        seen,
        [
            start(AirSync::Sync, true),
            start(AirSyncBase::Body, true),
            Event::Text("ab".into()),
            Event::Text("cd".into()),
            Event::Text("é".into()),
            Event::Opaque(&[7]),
            Event::End,
            start(AirSync::SyncKey, false),
            Event::End,
        ]
    );
    // Text borrowed from the input, not copied.
    let mut events = Events::new(&bytes, &limits).unwrap();
    let text = std::iter::from_fn(|| events.next().unwrap()).find(|e| matches!(e, Event::Text(_)));
    assert!(matches!(
        text,
        Some(Event::Text(std::borrow::Cow::Borrowed("ab")))
    ));
    // The same checks as the tree: nothing may follow the root, an End needs a Start.
    let trailing = doc(&[0x05, 0x05]);
    let mut events = Events::new(&trailing, &limits).unwrap();
    assert!(matches!(events.next(), Ok(Some(Event::Start { .. }))));
    assert_eq!(events.next(), Err(WbxmlError::TrailingData { offset: 5 }));
    let stray_end = doc(&[0x01]);
    let mut events = Events::new(&stray_end, &limits).unwrap();
    assert_eq!(events.next(), Err(WbxmlError::UnexpectedEnd { offset: 4 }));
}

/// An ApplicationData with children on three pages, ending in a page other than its own
/// (Email2:ConversationIndex after AirSyncBase:Body), and text with a NUL (OPAQUE).
fn application_data() -> Element {
    use super::pages::{Email, Email2};
    Element::new(AirSync::ApplicationData)
        .text_child(Email::Subject, "Hello")
        .child(
            Element::new(AirSyncBase::Body)
                .text_child(AirSyncBase::Type, "1")
                .text_child(AirSyncBase::Data, "a\0b"),
        )
        .text_child(Email::Read, "0")
        .child(Element::with_opaque(
            Email2::ConversationIndex,
            vec![1, 2, 3],
        ))
}

/// A Sync response holding `data` twice, each in an Add, with a ServerId before each
/// (page 0) so that the page in effect differs before the second copy.
fn sync_with(data: impl Fn() -> Node) -> Element {
    let add = |sid: &str| {
        let mut add = Element::new(AirSync::Add).text_child(AirSync::ServerId, sid);
        add.children.push(data());
        add
    };
    Element::new(AirSync::Sync).child(
        Element::new(AirSync::Collections).child(
            Element::new(AirSync::Collection)
                .child(
                    Element::new(AirSync::Commands)
                        .child(add("1:1"))
                        .child(add("1:2")),
                )
                .text_child(AirSync::MoreAvailable, ""),
        ),
    )
}

#[test]
fn an_encoded_element_gives_the_bytes_of_its_tree() {
    let tree = sync_with(|| Node::Element(application_data()));
    let encoded = Encoded::new(&application_data());
    let spliced = sync_with(|| Node::Encoded(encoded.clone()));
    let bytes = encode(&tree);
    assert_eq!(encode(&spliced), bytes);
    // Decoded, the fragment is its element as a document of its own decodes (the text
    // with a NUL went out as OPAQUE).
    let alone = dec(&encode(&application_data())).unwrap();
    assert_eq!(encoded.decode().unwrap(), alone);
    // A fragment whose element is on a page other than the one in effect.
    let body = Element::new(AirSyncBase::Body).text_child(AirSyncBase::Type, "2");
    let mut holder = Element::new(AirSync::ApplicationData);
    holder.children.push(Node::Encoded(Encoded::new(&body)));
    assert_eq!(
        encode(&holder),
        encode(&Element::new(AirSync::ApplicationData).child(body))
    );
}

#[test]
fn to_xml_shows_an_encoded_element_as_its_tree() {
    let tree = sync_with(|| Node::Element(application_data()));
    let encoded = Encoded::new(&application_data());
    let spliced = sync_with(|| Node::Encoded(encoded.clone()));
    // As the tree shows once through the codec (the text with a NUL is OPAQUE then).
    let tree = dec(&encode(&tree)).unwrap();
    assert_eq!(to_xml(&spliced), to_xml(&tree));
    assert!(to_xml(&spliced).contains("<Subject xmlns=\"Email:\">Hello</Subject>"));
    // Tree queries do not look inside.
    let holder = sync_with(|| Node::Encoded(encoded.clone()));
    let add = holder
        .first(AirSync::Collections)
        .and_then(|c| c.first(AirSync::Collection))
        .and_then(|c| c.first(AirSync::Commands))
        .and_then(|c| c.first(AirSync::Add))
        .unwrap();
    assert!(add.first(AirSync::ApplicationData).is_none());
    assert_eq!(add.child_text(AirSync::ServerId).as_deref(), Some("1:1"));
}
