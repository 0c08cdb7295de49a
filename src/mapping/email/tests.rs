//! End-to-end tests of the public API on hand-built messages.

use super::*;
use crate::wbxml::{self, Limits, Node, Tag};

const SERVER_ID: &str = "5:7";
const INTERNAL_DATE: i64 = 1_706_704_496; // 2024-01-31T12:34:56Z

fn meta(flags: &[&str]) -> MessageMeta {
    MessageMeta {
        uid: 7,
        flags: flags.iter().map(|s| s.to_string()).collect(),
        internal_date: INTERNAL_DATE,
        size: None,
        modseq: None,
    }
}

fn pref(body_type: u8, truncation_size: Option<u32>) -> BodyPreference {
    BodyPreference {
        body_type,
        truncation_size,
        all_or_none: false,
        preview: None,
    }
}

fn opts(version: ProtocolVersion, body_preferences: Vec<BodyPreference>) -> ConvertOptions {
    ConvertOptions {
        version,
        body_preferences,
        mime_support: 0,
        mime_truncation: None,
        server_id: SERVER_ID.to_string(),
    }
}

fn convert(raw: &[u8], flags: &[&str], o: &ConvertOptions) -> Element {
    let app = to_application_data(raw, &meta(flags), o).expect("converts");
    // Every result must survive our codec unchanged.
    let bytes = wbxml::encode(&app);
    let back = wbxml::decode(&bytes, &Limits::default()).expect("decodes");
    assert_eq!(back, app);
    app
}

fn v161(prefs: Vec<BodyPreference>) -> ConvertOptions {
    opts(ProtocolVersion::V16_1, prefs)
}

fn text(el: &Element, tag: Tag) -> Option<String> {
    el.first(tag)
        .map(|e| e.text().map(|t| t.into_owned()).unwrap_or_default())
}

fn body(app: &Element) -> &Element {
    app.first(AirSyncBase::Body).expect("Body")
}

fn body_data(app: &Element) -> Option<String> {
    text(body(app), AirSyncBase::Data)
}

fn tag_names(el: &Element) -> Vec<String> {
    el.elements().map(|e| e.tag.to_string()).collect()
}

const PLAIN: &str = "From: \"Doe, John\" <john@example.org>\r\n\
To: Jane Roe <jane@example.org>, bob@example.org\r\n\
Cc: carol@example.org\r\n\
Reply-To: replies@example.org\r\n\
Subject: Re: AW: Quarterly numbers\r\n\
Date: Tue, 30 Jan 2024 10:00:00 +0000\r\n\
Message-ID: <m1@example.org>\r\n\
Importance: high\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello Jane,\r\n\
the numbers are in. Grüße!\r\n";

#[test]
fn plain_message_fields_in_order() {
    let app = convert(PLAIN.as_bytes(), &["\\Seen"], &v161(vec![pref(1, None)]));
    assert_eq!(
        tag_names(&app),
        [
            "Email:To",
            "Email:Cc",
            "Email:From",
            "Email:Subject",
            "Email:ReplyTo",
            "Email:DateReceived",
            "Email:DisplayTo",
            "Email:ThreadTopic",
            "Email:Importance",
            "Email:Read",
            "AirSyncBase:Body",
            "Email:MessageClass",
            "Email:InternetCPID",
            "Email:Flag",
            "Email:ContentClass",
            "AirSyncBase:NativeBodyType",
            "Email2:ConversationId",
            "Email2:ConversationIndex",
            "Email:Categories",
            "Email2:IsDraft",
        ]
    );
    let t = |tag| text(&app, tag).unwrap();
    assert_eq!(t(Email::To), "Jane Roe <jane@example.org>, bob@example.org");
    assert_eq!(t(Email::Cc), "carol@example.org");
    assert_eq!(t(Email::From), "\"Doe, John\" <john@example.org>");
    assert_eq!(t(Email::ReplyTo), "replies@example.org");
    assert_eq!(t(Email::Subject), "Re: AW: Quarterly numbers");
    // INTERNALDATE, not the Date header.
    assert_eq!(t(Email::DateReceived), "2024-01-31T12:34:56.000Z");
    assert_eq!(t(Email::DisplayTo), "Jane Roe; bob@example.org");
    assert_eq!(t(Email::ThreadTopic), "Quarterly numbers");
    assert_eq!(t(Email::Importance), "2");
    assert_eq!(t(Email::Read), "1");
    assert_eq!(t(Email::MessageClass), "IPM.Note");
    assert_eq!(t(Email::InternetCPID), "65001");
    assert_eq!(t(Email::ContentClass), "urn:content-classes:message");
    assert_eq!(t(AirSyncBase::NativeBodyType), "1");
    assert_eq!(t(Email2::IsDraft), "0");
    assert!(app.first(Email::Flag).unwrap().children.is_empty());
    assert!(app.first(Email::Categories).unwrap().children.is_empty());
    let b = body(&app);
    assert_eq!(text(b, AirSyncBase::Type).unwrap(), "1");
    assert_eq!(
        text(b, AirSyncBase::Data).unwrap(),
        "Hello Jane,\r\nthe numbers are in. Grüße!\r\n"
    );
    assert_eq!(
        text(b, AirSyncBase::EstimatedDataSize).unwrap(),
        "Hello Jane,\r\nthe numbers are in. Grüße!\r\n"
            .len()
            .to_string()
    );
    assert!(b.first(AirSyncBase::Truncated).is_none());
    assert!(b.first(AirSyncBase::Preview).is_none());
    let conv = app.first(Email2::ConversationId).unwrap();
    assert!(matches!(&conv.children[..], [Node::Opaque(b)] if b.len() == 16));
    let idx = app.first(Email2::ConversationIndex).unwrap();
    assert!(matches!(&idx.children[..], [Node::Opaque(b)] if b.len() == 5));
}

#[test]
fn no_body_preference_is_untruncated_plain() {
    let long = format!(
        "From: a@x.org\r\nContent-Type: text/html\r\n\r\n<p>{}</p>",
        "word ".repeat(2000)
    );
    let app = convert(long.as_bytes(), &[], &v161(vec![]));
    let b = body(&app);
    assert_eq!(text(b, AirSyncBase::Type).unwrap(), "1");
    assert!(b.first(AirSyncBase::Truncated).is_none());
    assert_eq!(
        body_data(&app).unwrap().len(),
        "word ".repeat(2000).trim().len()
    );
    // RTF cannot be produced: the next preference is used.
    let app = convert(
        long.as_bytes(),
        &[],
        &v161(vec![pref(3, None), pref(2, None)]),
    );
    assert_eq!(text(body(&app), AirSyncBase::Type).unwrap(), "2");
}

const HTML_ONLY: &str = "From: a@x.org\r\nTo: b@x.org\r\nSubject: html\r\n\
Content-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>Hi &amp; welcome</p><div>line2</div></body></html>\r\n";

#[test]
fn html_only_message() {
    let app = convert(HTML_ONLY.as_bytes(), &[], &v161(vec![pref(2, None)]));
    assert_eq!(text(&app, AirSyncBase::NativeBodyType).unwrap(), "2");
    assert_eq!(text(body(&app), AirSyncBase::Type).unwrap(), "2");
    assert!(body_data(&app).unwrap().contains("<p>Hi &amp; welcome</p>"));
    // Plain requested: converted.
    let app = convert(HTML_ONLY.as_bytes(), &[], &v161(vec![pref(1, None)]));
    assert_eq!(text(body(&app), AirSyncBase::Type).unwrap(), "1");
    assert_eq!(body_data(&app).unwrap(), "Hi & welcome\nline2");
}

#[test]
fn plain_only_to_html_is_escaped() {
    let raw = "From: a@x.org\r\n\r\nif a < b && c > d\r\nthen <script>\r\n";
    let app = convert(raw.as_bytes(), &[], &v161(vec![pref(2, None)]));
    assert_eq!(text(body(&app), AirSyncBase::Type).unwrap(), "2");
    let html = body_data(&app).unwrap();
    assert!(
        html.contains("if a &lt; b &amp;&amp; c &gt; d<br>\nthen &lt;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
}

const ALTERNATIVE: &str = "From: a@x.org\r\nTo: b@x.org\r\nSubject: alt\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain version\r\n\
--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML <b>version</b></p>\r\n\
--alt--\r\n";

#[test]
fn alternative_picks_in_client_order() {
    let app = convert(
        ALTERNATIVE.as_bytes(),
        &[],
        &v161(vec![pref(2, None), pref(1, None)]),
    );
    assert_eq!(text(body(&app), AirSyncBase::Type).unwrap(), "2");
    assert_eq!(body_data(&app).unwrap(), "<p>HTML <b>version</b></p>");
    let app = convert(
        ALTERNATIVE.as_bytes(),
        &[],
        &v161(vec![pref(1, None), pref(2, None)]),
    );
    assert_eq!(text(body(&app), AirSyncBase::Type).unwrap(), "1");
    assert_eq!(body_data(&app).unwrap(), "Plain version");
    assert_eq!(text(&app, AirSyncBase::NativeBodyType).unwrap(), "2");
    assert!(app.first(AirSyncBase::Attachments).is_none());
}

const PDF_BYTES: &[u8] = b"%PDF-1.4\n\x00\x01\x02\xff binary \xfe\n";
const PNG_BYTES: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

fn mixed_message() -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "From: a@x.org\r\nTo: b@x.org\r\nSubject: =?UTF-8?B?UmVwb3J0IMOcYmVyc2ljaHQ=?=\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n\
--mix\r\n\
Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n\
--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p>Logo: <img src=\"cid:logo@x.org\"></p>\r\n\
--rel\r\nContent-Type: image/png; name=\"logo.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-ID: <logo@x.org>\r\n\
Content-Disposition: inline; filename=\"logo.png\"\r\n\r\n\
{png}\r\n\
--rel--\r\n\
--mix\r\nContent-Type: application/pdf; name=\"=?UTF-8?Q?Bericht_=C3=BCber.pdf?=\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename*=UTF-8''Bericht%20%C3%BCber.pdf\r\n\
Content-Location: http://example.org/r.pdf\r\n\r\n\
{pdf}\r\n\
--mix--\r\n",
        png = b64.encode(PNG_BYTES),
        pdf = b64.encode(PDF_BYTES),
    )
}

#[test]
fn mixed_with_inline_image_and_attachment() {
    let raw = mixed_message();
    let app = convert(raw.as_bytes(), &[], &v161(vec![pref(2, None)]));
    assert_eq!(text(&app, Email::Subject).unwrap(), "Report Übersicht");
    assert_eq!(
        body_data(&app).unwrap(),
        "<p>Logo: <img src=\"cid:logo@x.org\"></p>"
    );
    let atts: Vec<&Element> = app
        .first(AirSyncBase::Attachments)
        .expect("Attachments")
        .all(AirSyncBase::Attachment)
        .collect();
    assert_eq!(atts.len(), 2);
    let (img, pdf) = (atts[0], atts[1]);
    assert_eq!(
        tag_names(img),
        [
            "AirSyncBase:DisplayName",
            "AirSyncBase:FileReference",
            "AirSyncBase:Method",
            "AirSyncBase:EstimatedDataSize",
            "AirSyncBase:ContentId",
            "AirSyncBase:IsInline"
        ]
    );
    assert_eq!(text(img, AirSyncBase::DisplayName).unwrap(), "logo.png");
    assert_eq!(text(img, AirSyncBase::FileReference).unwrap(), "5:7:0");
    assert_eq!(text(img, AirSyncBase::Method).unwrap(), "1");
    assert_eq!(
        text(img, AirSyncBase::EstimatedDataSize).unwrap(),
        PNG_BYTES.len().to_string()
    );
    assert_eq!(text(img, AirSyncBase::ContentId).unwrap(), "logo@x.org");
    assert_eq!(text(img, AirSyncBase::IsInline).unwrap(), "1");

    assert_eq!(
        text(pdf, AirSyncBase::DisplayName).unwrap(),
        "Bericht über.pdf"
    );
    assert_eq!(text(pdf, AirSyncBase::FileReference).unwrap(), "5:7:1");
    assert_eq!(
        text(pdf, AirSyncBase::EstimatedDataSize).unwrap(),
        PDF_BYTES.len().to_string()
    );
    assert_eq!(
        text(pdf, AirSyncBase::ContentLocation).unwrap(),
        "http://example.org/r.pdf"
    );
    assert!(pdf.first(AirSyncBase::IsInline).is_none());
    assert!(pdf.first(AirSyncBase::ContentId).is_none());

    let a0 = attachment(raw.as_bytes(), 0).unwrap();
    assert_eq!(a0.data, PNG_BYTES);
    assert_eq!(a0.content_type, "image/png");
    assert_eq!(a0.name, "logo.png");
    let a1 = attachment(raw.as_bytes(), 1).unwrap();
    assert_eq!(a1.data, PDF_BYTES);
    assert_eq!(a1.content_type, "application/pdf");
    assert_eq!(a1.name, "Bericht über.pdf");
    assert!(attachment(raw.as_bytes(), 2).is_none());
}

#[test]
fn quoted_printable_text_attachment_keeps_its_bytes() {
    let raw = b"From: a@x.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b\r\nContent-Type: text/csv; charset=iso-8859-1; name=data.csv\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
Content-Disposition: attachment; filename=data.csv\r\n\r\n\
name;city=0D=0AM=FCller;K=F6ln=0D=0Along line =\r\ncontinued\r\n\
--b--\r\n";
    let a = attachment(raw, 0).unwrap();
    assert_eq!(a.name, "data.csv");
    assert_eq!(a.content_type, "text/csv");
    assert_eq!(
        a.data,
        b"name;city\r\nM\xfcller;K\xf6ln\r\nlong line continued"
    );
    let app = convert(raw, &[], &v161(vec![pref(1, None)]));
    assert_eq!(body_data(&app).unwrap(), "see attached");
    let att = app
        .first(AirSyncBase::Attachments)
        .and_then(|a| a.first(AirSyncBase::Attachment))
        .unwrap();
    assert_eq!(
        text(att, AirSyncBase::EstimatedDataSize).unwrap(),
        a.data.len().to_string()
    );
}

#[test]
fn attached_message_is_method_5() {
    let inner = "From: c@x.org\r\nSubject: Original\r\n\r\nInner body\r\n";
    let raw = format!(
        "From: a@x.org\r\nSubject: Fwd: Original\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nForwarding.\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--b--\r\n"
    );
    let app = convert(raw.as_bytes(), &[], &v161(vec![pref(1, None)]));
    assert_eq!(body_data(&app).unwrap(), "Forwarding.");
    let atts: Vec<&Element> = app
        .first(AirSyncBase::Attachments)
        .unwrap()
        .all(AirSyncBase::Attachment)
        .collect();
    assert_eq!(atts.len(), 1);
    assert_eq!(text(atts[0], AirSyncBase::Method).unwrap(), "5");
    assert_eq!(
        text(atts[0], AirSyncBase::DisplayName).unwrap(),
        "Original.eml"
    );
    let a = attachment(raw.as_bytes(), 0).unwrap();
    assert_eq!(a.content_type, "message/rfc822");
    assert_eq!(String::from_utf8(a.data).unwrap(), inner);
}

fn single_part(charset: &str, subject: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "From: a@x.org\r\nSubject: {subject}\r\nContent-Type: text/plain; charset={charset}\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

#[test]
fn charsets_are_decoded_to_utf8() {
    let cases: &[(&str, &str, &[u8], &str, &str)] = &[
        (
            "iso-8859-1",
            "=?ISO-8859-1?Q?Gr=FC=DFe?=",
            b"Gr\xfc\xdfe aus K\xf6ln",
            "Grüße",
            "Grüße aus Köln",
        ),
        (
            "windows-1252",
            "=?windows-1252?Q?=80_100_=96_=93quoted=94?=",
            b"\x80 100 \x96 \x93quoted\x94",
            "€ 100 – “quoted”",
            "€ 100 – “quoted”",
        ),
        (
            "ISO-2022-JP",
            "=?ISO-2022-JP?B?GyRCJU8lbSE8GyhC?=",
            b"\x1b$B%O%m!<!&%o!<%k%I\x1b(B",
            "ハロー",
            "ハロー・ワールド",
        ),
        (
            "koi8-r",
            "=?KOI8-R?B?8NLJ18XU?=",
            b"\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2",
            "Привет",
            "Привет, мир",
        ),
    ];
    for (charset, subject, body, want_subject, want_body) in cases {
        let raw = single_part(charset, subject, body);
        let app = convert(&raw, &[], &v161(vec![pref(1, None)]));
        assert_eq!(
            text(&app, Email::Subject).unwrap(),
            *want_subject,
            "{charset}"
        );
        assert_eq!(body_data(&app).unwrap(), *want_body, "{charset}");
    }
    // An unknown charset label: bytes read as UTF-8, invalid ones replaced, never lost
    // entirely and never an error.
    let raw = single_part("x-no-such-charset", "plain", "ok ✓ \u{e9}".as_bytes());
    let app = convert(&raw, &[], &v161(vec![pref(1, None)]));
    assert_eq!(body_data(&app).unwrap(), "ok ✓ é");
    let raw = single_part("x-no-such-charset", "plain", b"bad \xff byte");
    let app = convert(&raw, &[], &v161(vec![pref(1, None)]));
    assert_eq!(body_data(&app).unwrap(), "bad \u{fffd} byte");
}

#[test]
fn encoded_word_names() {
    let raw = "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@x.de>\r\n\
To: =?ISO-8859-1?Q?Andr=E9?= <andre@x.fr>, \"=?UTF-8?B?5bGx55Sw?=\" <yamada@x.jp>\r\n\
Subject: =?UTF-8?Q?Caf=C3=A9?= =?UTF-8?Q?_cr=C3=A8me?=\r\n\r\nx";
    let app = convert(raw.as_bytes(), &[], &v161(vec![]));
    assert_eq!(text(&app, Email::From).unwrap(), "Jürgen Müller <jm@x.de>");
    assert_eq!(
        text(&app, Email::To).unwrap(),
        "André <andre@x.fr>, 山田 <yamada@x.jp>"
    );
    assert_eq!(text(&app, Email::DisplayTo).unwrap(), "André; 山田");
    assert_eq!(text(&app, Email::Subject).unwrap(), "Café crème");
}

fn long_plain() -> (String, String) {
    // 3000 lines of mixed 1-, 2-, 3- and 4-byte characters.
    let body: String = (0..3000).map(|i| format!("{i} aé€😀\n")).collect();
    let raw = format!("From: a@x.org\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}");
    (raw, body)
}

#[test]
fn truncation_by_bytes_never_splits_utf8() {
    let (raw, full) = long_plain();
    for limit in [0u32, 1, 5, 6, 7, 8, 100, 101, 102, 103, 5000] {
        let app = convert(raw.as_bytes(), &[], &v161(vec![pref(1, Some(limit))]));
        let b = body(&app);
        let data = text(b, AirSyncBase::Data).unwrap_or_default();
        assert!(data.len() <= limit as usize, "limit {limit}");
        assert!(
            limit as usize - data.len() < 4,
            "limit {limit}: cut too early"
        );
        assert!(full.starts_with(&data));
        assert_eq!(text(b, AirSyncBase::Truncated).as_deref(), Some("1"));
        assert_eq!(
            text(b, AirSyncBase::EstimatedDataSize).unwrap(),
            full.len().to_string()
        );
    }
    // Exactly the size or larger: not truncated.
    for limit in [full.len() as u32, full.len() as u32 + 1, u32::MAX] {
        let app = convert(raw.as_bytes(), &[], &v161(vec![pref(1, Some(limit))]));
        assert!(body(&app).first(AirSyncBase::Truncated).is_none());
        assert_eq!(body_data(&app).unwrap(), full);
    }
}

#[test]
fn all_or_none() {
    let (raw, full) = long_plain();
    let mut p = pref(1, Some(100));
    p.all_or_none = true;
    let app = convert(raw.as_bytes(), &[], &v161(vec![p.clone()]));
    let b = body(&app);
    assert!(b.first(AirSyncBase::Data).is_none());
    assert_eq!(text(b, AirSyncBase::Truncated).as_deref(), Some("1"));
    assert_eq!(
        text(b, AirSyncBase::EstimatedDataSize).unwrap(),
        full.len().to_string()
    );
    p.truncation_size = Some(full.len() as u32);
    let app = convert(raw.as_bytes(), &[], &v161(vec![p]));
    assert_eq!(body_data(&app).unwrap(), full);
    assert!(body(&app).first(AirSyncBase::Truncated).is_none());
}

#[test]
fn html_truncation_does_not_cut_inside_a_tag() {
    let html = format!(
        "<html><body>{}</body></html>",
        "<p style=\"color: red\">Paragraph</p>".repeat(50)
    );
    let raw = format!("From: a@x.org\r\nContent-Type: text/html\r\n\r\n{html}");
    for limit in 20..80u32 {
        let app = convert(raw.as_bytes(), &[], &v161(vec![pref(2, Some(limit))]));
        let data = body_data(&app).unwrap();
        assert!(html.starts_with(&data));
        assert!(data.len() <= limit as usize);
        let last_open = data.rfind('<');
        let last_close = data.rfind('>');
        assert!(
            last_open.is_none() || last_close.is_some_and(|c| c > last_open.unwrap()),
            "limit {limit}: {data:?} ends inside a tag"
        );
    }
}

#[test]
fn preview_only_when_asked_and_from_14() {
    let raw = ALTERNATIVE.as_bytes();
    let mut p = pref(2, Some(10));
    p.preview = Some(9);
    let app = convert(raw, &[], &opts(ProtocolVersion::V14_1, vec![p.clone()]));
    assert_eq!(text(body(&app), AirSyncBase::Preview).unwrap(), "Plain ver");
    assert_eq!(
        tag_names(body(&app)),
        [
            "AirSyncBase:Type",
            "AirSyncBase:EstimatedDataSize",
            "AirSyncBase:Truncated",
            "AirSyncBase:Data",
            "AirSyncBase:Preview"
        ]
    );
    // From HTML when there is no plain part, whitespace collapsed, capped at 255.
    p.preview = Some(1000);
    let html = format!(
        "From: a@x.org\r\nContent-Type: text/html\r\n\r\n<p>Hello\n\n   <b>there</b></p>{}",
        "<p>more text</p>".repeat(100)
    );
    let app = convert(
        html.as_bytes(),
        &[],
        &opts(ProtocolVersion::V16_1, vec![p.clone()]),
    );
    let preview = text(body(&app), AirSyncBase::Preview).unwrap();
    assert!(preview.starts_with("Hello there more text"), "{preview}");
    assert_eq!(preview.chars().count(), 255);
    // 12.1 knows no Preview.
    let app = convert(raw, &[], &opts(ProtocolVersion::V12_1, vec![p]));
    assert!(body(&app).first(AirSyncBase::Preview).is_none());
    // Not asked for.
    let app = convert(raw, &[], &v161(vec![pref(2, None)]));
    assert!(body(&app).first(AirSyncBase::Preview).is_none());
}

fn mime_payload(app: &Element) -> Vec<u8> {
    body(app)
        .first(AirSyncBase::Data)
        .and_then(|d| d.bytes())
        .map(|b| b.into_owned())
        .unwrap_or_default()
}

#[test]
fn mime_body_is_the_exact_bytes() {
    let raw = mixed_message();
    let app = convert(raw.as_bytes(), &[], &v161(vec![pref(4, None)]));
    assert_eq!(text(body(&app), AirSyncBase::Type).unwrap(), "4");
    assert_eq!(mime_payload(&app), raw.as_bytes());
    assert_eq!(
        text(body(&app), AirSyncBase::EstimatedDataSize).unwrap(),
        raw.len().to_string()
    );
    // Valid UTF-8 goes as an inline string (MS-ASDTYPE 2.7).
    assert!(matches!(
        body(&app).first(AirSyncBase::Data).unwrap().children[..],
        [Node::Text(_)]
    ));

    // 8-bit Latin-1 MIME is not UTF-8: OPAQUE, byte for byte.
    let latin = single_part("iso-8859-1", "x", b"Gr\xfc\xdfe\x00nul");
    let app = convert(&latin, &[], &v161(vec![pref(4, None)]));
    assert!(matches!(
        body(&app).first(AirSyncBase::Data).unwrap().children[..],
        [Node::Opaque(_)]
    ));
    assert_eq!(mime_payload(&app), latin);

    // Truncated MIME: a prefix of the raw bytes.
    let app = convert(raw.as_bytes(), &[], &v161(vec![pref(4, Some(100))]));
    assert_eq!(mime_payload(&app), &raw.as_bytes()[..100]);
    assert_eq!(
        text(body(&app), AirSyncBase::Truncated).as_deref(),
        Some("1")
    );
}

#[test]
fn mime_support_forces_mime() {
    let raw = mixed_message();
    // 12.x: MIMESupport 2 with MIMETruncation and no BodyPreference of type 4.
    let mut o = opts(ProtocolVersion::V12_1, vec![pref(1, Some(10))]);
    o.mime_support = 2;
    o.mime_truncation = Some(200);
    let app = convert(raw.as_bytes(), &[], &o);
    assert_eq!(text(body(&app), AirSyncBase::Type).unwrap(), "4");
    assert_eq!(mime_payload(&app), &raw.as_bytes()[..200]);
    // MIMESupport 1: only S/MIME messages.
    o.mime_support = 1;
    o.mime_truncation = None;
    let app = convert(raw.as_bytes(), &[], &o);
    assert_eq!(text(body(&app), AirSyncBase::Type).unwrap(), "1");
    let smime = "From: a@x.org\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n\
Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7m\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQA=\r\n";
    let app = convert(smime.as_bytes(), &[], &o);
    assert_eq!(text(body(&app), AirSyncBase::Type).unwrap(), "4");
    assert_eq!(text(&app, Email::MessageClass).unwrap(), "IPM.Note.SMIME");
    assert_eq!(mime_payload(&app), smime.as_bytes());
}

#[test]
fn flag_fields_by_version() {
    let flags = [
        "\\Seen",
        "\\Flagged",
        "\\Answered",
        "\\Draft",
        "Work",
        "Red&ACA-category",
        "$MDNSent",
        "\\Recent",
    ];
    let raw = "From: a@x.org\r\nSender: Assistant <assistant@x.org>\r\nSubject: x\r\n\r\nbody";

    let app = convert(
        raw.as_bytes(),
        &flags,
        &opts(ProtocolVersion::V12_1, vec![]),
    );
    assert!(
        app.elements().all(|e| e.tag.page != Email2::PAGE),
        "12.1 got Email2: {:?}",
        tag_names(&app)
    );
    assert!(app.first(Email::Categories).is_none());
    assert!(app.first(AirSyncBase::NativeBodyType).is_none());
    assert_eq!(text(&app, Email::Read).unwrap(), "1");
    let flag = app.first(Email::Flag).unwrap();
    assert_eq!(text(flag, Email::Status).unwrap(), "2");
    assert_eq!(text(flag, Email::FlagType).unwrap(), "Follow up");

    let app = convert(
        raw.as_bytes(),
        &flags,
        &opts(ProtocolVersion::V14_1, vec![]),
    );
    assert_eq!(text(&app, Email2::LastVerbExecuted).unwrap(), "1");
    assert!(app.first(Email2::LastVerbExecutionTime).is_none());
    assert_eq!(
        text(&app, Email2::Sender).unwrap(),
        "Assistant <assistant@x.org>"
    );
    let cats: Vec<String> = app
        .first(Email::Categories)
        .unwrap()
        .all(Email::Category)
        .map(|c| c.text().unwrap().into_owned())
        .collect();
    assert_eq!(cats, ["Red category", "Work"]);
    assert!(app.first(Email2::IsDraft).is_none());

    let app = convert(raw.as_bytes(), &flags, &v161(vec![]));
    assert_eq!(text(&app, Email2::IsDraft).unwrap(), "1");

    let app = convert(raw.as_bytes(), &["$Forwarded"], &v161(vec![]));
    assert_eq!(text(&app, Email2::LastVerbExecuted).unwrap(), "3");
    assert_eq!(text(&app, Email::Read).unwrap(), "0");
    assert_eq!(text(&app, Email2::IsDraft).unwrap(), "0");

    let app = convert(raw.as_bytes(), &["$Completed"], &v161(vec![]));
    assert_eq!(
        text(app.first(Email::Flag).unwrap(), Email::Status).unwrap(),
        "1"
    );
}

#[test]
fn change_application_data_carries_only_flag_fields() {
    let m = meta(&["\\Seen", "Work"]);
    let app = change_application_data(&m, ProtocolVersion::V16_1);
    assert_eq!(
        tag_names(&app),
        [
            "Email:Read",
            "Email:Flag",
            "Email2:LastVerbExecuted",
            "Email:Categories",
            "Email2:IsDraft"
        ]
    );
    assert_eq!(text(&app, Email2::LastVerbExecuted).unwrap(), "0");
    let app = change_application_data(&m, ProtocolVersion::V12_0);
    assert_eq!(tag_names(&app), ["Email:Read", "Email:Flag"]);
    // A client Change built from it maps back to no IMAP change.
    let back = flag_change(
        &change_application_data(&m, ProtocolVersion::V16_1),
        &m.flags,
    );
    assert_eq!(back, FlagChange::default());
}

#[test]
fn file_references() {
    assert_eq!(file_reference("12:345", 2), "12:345:2");
    assert_eq!(
        parse_file_reference(&file_reference("12:345", 2)),
        Some(("12".to_string(), 345, 2))
    );
    assert_eq!(
        parse_file_reference("0:4294967295:0"),
        Some(("0".to_string(), u32::MAX, 0))
    );
    for bad in [
        "",
        "12:345",
        "12:abc:1",
        "12:345:-1",
        "12:-345:1",
        "12:+345:1",
        "12:345:+1",
        "1:2:12:345:1",
        "a:b:345:1",
        "x12:345:1",
        "12::1",
        ":345:1",
        "12:345:",
        "12:4294967296:0",
        "12:345:1 ",
        " 12:345:1",
        "12:345:1\n",
        "１２:345:1",
        "12:345:99999999999999999999999",
        "../12:345:1",
    ] {
        assert_eq!(parse_file_reference(bad), None, "{bad:?}");
    }
}

#[test]
fn bad_input_never_fails_or_panics() {
    assert!(matches!(
        to_application_data(b"", &meta(&[]), &v161(vec![])),
        Err(ConvertError::Empty)
    ));
    let mixed = mixed_message();
    let mut samples: Vec<Vec<u8>> = vec![
        b"\r\n\r\n".to_vec(),
        b"no headers at all, just text".to_vec(),
        b"Subject: only a header".to_vec(),
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n".to_vec(),
        b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n----\r\n--".to_vec(),
        b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n".to_vec(),
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!".to_vec(),
        b"From: <<<@@@>>>\r\nTo: ,,,;;;\r\nDate: 99 Foo 99999 99:99:99 +9999\r\n\r\n".to_vec(),
        b"\x00\x00\x00\xff\xfe".to_vec(),
        vec![b'\n'; 1000],
    ];
    // Every prefix length class of a real multipart message.
    for cut in (1..mixed.len()).step_by(37) {
        samples.push(mixed.as_bytes()[..cut].to_vec());
    }
    // Garbled: bytes flipped.
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..60 {
        let mut m = mixed.as_bytes().to_vec();
        for _ in 0..20 {
            let i = (next() as usize) % m.len();
            m[i] = next() as u8;
        }
        samples.push(m);
    }
    // Random bytes.
    for len in [1usize, 2, 10, 100, 1000, 5000] {
        samples.push((0..len).map(|_| next() as u8).collect());
    }
    let all_prefs = vec![pref(2, Some(50)), pref(1, Some(7)), pref(4, Some(3))];
    for s in &samples {
        for o in [
            v161(all_prefs.clone()),
            v161(vec![pref(4, None)]),
            opts(ProtocolVersion::V12_0, vec![]),
        ] {
            let app = to_application_data(s, &meta(&["\\Seen"]), &o).expect("always converts");
            let bytes = wbxml::encode(&app);
            assert_eq!(wbxml::decode(&bytes, &Limits::default()).unwrap(), app);
            assert!(app.first(AirSyncBase::Body).is_some());
        }
        for i in 0..3 {
            let _ = attachment(s, i);
        }
    }
}

#[test]
fn libwbxml_reads_a_full_sync_response() {
    use crate::wbxml::pages::AirSync;
    let raw = mixed_message();
    let mut p = pref(2, Some(30));
    p.preview = Some(50);
    let app = to_application_data(
        raw.as_bytes(),
        &meta(&["\\Seen", "\\Flagged", "Work", "\\Answered"]),
        &v161(vec![p]),
    )
    .unwrap();
    let doc = Element::new(AirSync::Sync).child(
        Element::new(AirSync::Collections).child(
            Element::new(AirSync::Collection)
                .text_child(AirSync::SyncKey, "2")
                .text_child(AirSync::CollectionId, "5")
                .text_child(AirSync::Status, "1")
                .child(
                    Element::new(AirSync::Commands).child(
                        Element::new(AirSync::Add)
                            .text_child(AirSync::ServerId, SERVER_ID)
                            .child(app),
                    ),
                ),
        ),
    );
    let bytes = wbxml::encode(&doc);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sync.wbxml");
    let output = dir.path().join("sync.xml");
    std::fs::write(&input, &bytes).unwrap();
    let run = std::process::Command::new("wbxml2xml")
        .args(["-l", "ACTIVESYNC", "-m", "1", "-i", "1", "-o"])
        .arg(&output)
        .arg(&input)
        .output();
    let Ok(run) = run else {
        eprintln!("wbxml2xml not installed; libwbxml cross-check skipped");
        return;
    };
    assert!(run.status.success(), "wbxml2xml failed: {run:?}");
    let xml = std::fs::read_to_string(&output).unwrap();
    for needle in [
        ">Report Übersicht</Subject>",
        "<FileReference>5:7:1</FileReference>",
        "<ContentId>logo@x.org</ContentId>",
        "<Truncated>1</Truncated>",
        "<Preview>Logo:</Preview>",
        "<FlagStatus>2</FlagStatus>", // token Email 0x3B: our tables call it Status
        "<Category>Work</Category>",
        ">1</LastVerbExecuted>",
        "<ConversationId",
        ">0</IsDraft>",
    ] {
        assert!(xml.contains(needle), "{needle} missing from:\n{xml}");
    }
}

#[test]
fn conversation_names_the_thread_root_and_matches_the_synced_id() {
    let root = b"Message-ID: <root@x.org>\r\nSubject: hi\r\n\r\nbody\r\n\r\nmore";
    let reply = b"Message-ID: <r1@x.org>\r\nIn-Reply-To: <root@x.org>\r\nSubject: Re: hi\r\n\r\nok";
    let deeper =
        b"Message-ID: <r2@x.org>\nReferences: <root@x.org> <r1@x.org>\nSubject: Re: hi\n\nok";
    let (id, name) = conversation(root).unwrap();
    assert_eq!(name, "root@x.org");
    assert_eq!(conversation(reply).unwrap(), (id, name.clone()));
    assert_eq!(conversation(deeper).unwrap(), (id, name));
    // The id is the one a device receives in Sync.
    let app = convert(reply, &[], &opts(ProtocolVersion::V16_1, vec![]));
    let conv = app.first(Email2::ConversationId).unwrap();
    assert!(matches!(&conv.children[..], [Node::Opaque(b)] if b[..] == id[..]));
    let other = b"Message-ID: <other@x.org>\r\n\r\nx";
    assert_ne!(conversation(other).unwrap().0, id);
    assert!(conversation(b"Subject: no ids\r\n\r\nx").is_none());
}

#[test]
fn one_parse_agrees_with_the_separate_readings() {
    let reply = "From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: Accepted: Lunch\r\n\
        Message-ID: <r1@example.org>\r\nReferences: <root@example.org> <mid@example.org>\r\n\
        MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n\
        BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:lunch-1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let request = reply
        .replace("method=REPLY", "method=REQUEST")
        .replace("METHOD:REPLY", "METHOD:REQUEST");
    let plain = "From: a@x.org\r\nSubject: no ids\r\n\r\nhello";
    let o = v161(vec![pref(1, Some(512))]);
    for (raw, itip_reply) in [(reply, true), (&request[..], false), (plain, false)] {
        let m = meta(&["\\Seen"]);
        let c = super::convert(raw.as_bytes(), &m, &o);
        assert_eq!(
            c.data.unwrap(),
            to_application_data(raw.as_bytes(), &m, &o).unwrap()
        );
        assert_eq!(
            c.conversation,
            conversation(raw.as_bytes()).map(|(id, _)| id)
        );
        assert_eq!(c.itip_reply, itip_reply, "{raw}");
    }
    assert!(
        super::convert(reply.as_bytes(), &meta(&[]), &o)
            .conversation
            .is_some()
    );
    assert!(super::convert(b"", &meta(&[]), &o).data.is_err());
}
