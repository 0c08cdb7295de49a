//! Contacts: vCard 3.0 (RFC 2426) and 4.0 (RFC 6350) ⇄ MS-ASCNTC (Contacts and
//! Contacts2 code pages), edited in place like events (see [`ical`](super::ical)): a
//! client Change rewrites only the properties EAS carries and keeps every other line,
//! and the existing card's VERSION, as it was. New cards are written as vCard 3.0, the
//! version every CardDAV server must accept (RFC 6352 5.1).
//!
//! * **Slots.** EAS has fixed slots (Email1–3, IMAddress1–3, two business and two home
//!   phones, …); vCard has lists. [`assign`] gives each slot one property of the card,
//!   in document order: EMAIL → Email1–3, IMPP → IMAddress1–3, the first URL →
//!   WebPage, TEL by TYPE (fax+home → HomeFax, other fax → BusinessFax, pager, x-mms →
//!   MMS, cell → Mobile, car, x-radio → Radio, x-assistant → Assistant, x-company-main
//!   → CompanyMainPhone, work → Business/Business2, home → Home/Home2; a TEL with none
//!   of these types fills a free Home/Home2 slot), ADR by TYPE (work, home, other; an
//!   untyped ADR fills a free Other slot). Both directions use the same assignment of
//!   the *existing* card, so a Change that edits one slot rewrites exactly that line;
//!   properties left over (a third work phone, a fourth email) are never touched. A new
//!   slot value appends a property with the TYPE above (upper case in 3.0).
//! * **Names.** N ⇄ LastName;FirstName;MiddleName;Title;Suffix. FN is the display name:
//!   recomposed from the name parts when the client changes them (else kept). FileAs
//!   is FN unless the client filed the contact differently: then X-AIRSYNC-FILEAS.
//! * **Yomi.** vCard has no phonetic fields: X-PHONETIC-FIRST-NAME,
//!   X-PHONETIC-LAST-NAME and X-PHONETIC-ORG, the names Apple and Android write.
//! * **Dates.** BDAY, and ANNIVERSARY (4.0) or X-ANNIVERSARY (3.0), are dates; EAS sends
//!   midnight UTC (`1980-05-17T00:00:00.000Z`). Clients that store local midnight send
//!   e.g. `1980-05-16T22:00:00.000Z`: the nearest midnight is the date. A date without
//!   year (`--0517`) is year 1604 in EAS (Outlook's and Apple's convention), written
//!   back as `--0517` in 4.0 and `1604-05-17` with X-APPLE-OMIT-YEAR in 3.0.
//! * **Related people.** 4.0: Spouse and Children ⇄ `RELATED;TYPE=spouse|child;
//!   VALUE=text`; 3.0 has no RELATED: X-AIRSYNC-SPOUSE, X-AIRSYNC-CHILD. AssistantName,
//!   ManagerName, OfficeLocation, CustomerId, GovernmentId, AccountName and Alias have
//!   no twin: X-AIRSYNC-… properties.
//! * **Picture** ⇄ the first PHOTO (`data:` URI in 4.0, `ENCODING=b` in 3.0); a photo
//!   whose decoded size is over [`ContactOptions::picture_max_bytes`], or that is only
//!   a link, is not sent, and a Change without Picture then keeps it (the client never
//!   had it). An empty Picture element removes the photo.
//! * **Versions.** Every Contacts and Contacts2 element exists from 2.5 on, except
//!   Alias (14.0, MS-ASCNTC 2.2.2.2) and WeightedRank (14.0; not in vCard: never sent).
//!   Notes go as AirSyncBase:Body (12.0+) through the shared PIM body helper.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{Datelike, Duration, NaiveDate};

use super::ical::{self, Component, Prop};
use super::pim::{self, ConvertError};
use crate::eas::ProtocolVersion;
use crate::eas::sync::BodyPreference;
use crate::wbxml::pages::{AirSync, Contacts as C, Contacts2 as C2};
use crate::wbxml::{Element, Tag};

/// What the client asked for.
#[derive(Debug, Clone)]
pub struct ContactOptions {
    pub version: ProtocolVersion,
    pub body_preferences: Vec<BodyPreference>,
    /// A photo whose decoded size is over this is not sent.
    pub picture_max_bytes: usize,
}

impl ContactOptions {
    /// Picture cap: MS-ASCNTC 2.2.2.58 allows 48 KB of base64, about 36 KB of image.
    pub fn new(version: ProtocolVersion) -> ContactOptions {
        ContactOptions {
            version,
            body_preferences: Vec::new(),
            picture_max_bytes: 36 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ver {
    V3,
    V4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phone {
    Work,
    Home,
    Mobile,
    Car,
    Pager,
    Radio,
    WorkFax,
    HomeFax,
    Assistant,
    CompanyMain,
    Mms,
    /// No type we know: fills a free Home slot.
    Untyped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Addr {
    Work,
    Home,
    Other,
    /// No work/home/other type: fills a free Other slot.
    Untyped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Email,
    Impp,
    Url,
    Spouse,
    Tel(Phone),
    Adr(Addr),
}

/// The EAS slots, in the order they are filled and sent. An address slot is keyed by
/// its Street tag (see [`ADDRESS_TAGS`]).
const SLOTS: &[(Tag, Family)] = &[
    (C::Email1Address, Family::Email),
    (C::Email2Address, Family::Email),
    (C::Email3Address, Family::Email),
    (C2::IMAddress, Family::Impp),
    (C2::IMAddress2, Family::Impp),
    (C2::IMAddress3, Family::Impp),
    (C::WebPage, Family::Url),
    (C::Spouse, Family::Spouse),
    (C::BusinessPhoneNumber, Family::Tel(Phone::Work)),
    (C::Business2PhoneNumber, Family::Tel(Phone::Work)),
    (C::HomePhoneNumber, Family::Tel(Phone::Home)),
    (C::Home2PhoneNumber, Family::Tel(Phone::Home)),
    (C::MobilePhoneNumber, Family::Tel(Phone::Mobile)),
    (C::CarPhoneNumber, Family::Tel(Phone::Car)),
    (C::PagerNumber, Family::Tel(Phone::Pager)),
    (C::RadioPhoneNumber, Family::Tel(Phone::Radio)),
    (C::BusinessFaxNumber, Family::Tel(Phone::WorkFax)),
    (C::HomeFaxNumber, Family::Tel(Phone::HomeFax)),
    (C::AssistantPhoneNumber, Family::Tel(Phone::Assistant)),
    (C2::CompanyMainPhone, Family::Tel(Phone::CompanyMain)),
    (C2::MMS, Family::Tel(Phone::Mms)),
    (C::BusinessAddressStreet, Family::Adr(Addr::Work)),
    (C::HomeAddressStreet, Family::Adr(Addr::Home)),
    (C::OtherAddressStreet, Family::Adr(Addr::Other)),
];

/// Street, City, State, PostalCode, Country: ADR components 2–6.
const ADDRESS_TAGS: [(Addr, [Tag; 5]); 3] = [
    (
        Addr::Work,
        [
            C::BusinessAddressStreet,
            C::BusinessAddressCity,
            C::BusinessAddressState,
            C::BusinessAddressPostalCode,
            C::BusinessAddressCountry,
        ],
    ),
    (
        Addr::Home,
        [
            C::HomeAddressStreet,
            C::HomeAddressCity,
            C::HomeAddressState,
            C::HomeAddressPostalCode,
            C::HomeAddressCountry,
        ],
    ),
    (
        Addr::Other,
        [
            C::OtherAddressStreet,
            C::OtherAddressCity,
            C::OtherAddressState,
            C::OtherAddressPostalCode,
            C::OtherAddressCountry,
        ],
    ),
];

/// EAS text element ⇄ one TEXT property, the same in both vCard versions.
const TEXT_FIELDS: &[(Tag, &str)] = &[
    (C::JobTitle, "TITLE"),
    (C::OfficeLocation, "X-AIRSYNC-OFFICE"),
    (C::AssistantName, "X-AIRSYNC-ASSISTANT"),
    (C::YomiFirstName, "X-PHONETIC-FIRST-NAME"),
    (C::YomiLastName, "X-PHONETIC-LAST-NAME"),
    (C::YomiCompanyName, "X-PHONETIC-ORG"),
    (C2::ManagerName, "X-AIRSYNC-MANAGER"),
    (C2::NickName, "NICKNAME"),
    (C2::CustomerId, "X-AIRSYNC-CUSTOMERID"),
    (C2::GovernmentId, "X-AIRSYNC-GOVERNMENTID"),
    (C2::AccountName, "X-AIRSYNC-ACCOUNTNAME"),
];

/// LastName, FirstName, MiddleName, Title, Suffix: N's five components in order.
const NAME_TAGS: [Tag; 5] = [
    C::LastName,
    C::FirstName,
    C::MiddleName,
    C::Title,
    C::Suffix,
];

const FILE_AS: &str = "X-AIRSYNC-FILEAS";
const ALIAS: &str = "X-AIRSYNC-ALIAS";
/// 3.0 has no RELATED.
const CHILD_V3: &str = "X-AIRSYNC-CHILD";

fn parse(vcf: &[u8]) -> Result<(Component, Ver), ConvertError> {
    let card = ical::parse(vcf).ok_or(ConvertError::Invalid("vCard"))?;
    if card.name != "VCARD" {
        return Err(ConvertError::Invalid("vCard"));
    }
    let ver = match card.text("VERSION").as_deref().map(str::trim) {
        Some("4.0") => Ver::V4,
        _ => Ver::V3,
    };
    Ok((card, ver))
}

fn is_text_related(p: &Prop, t: &str) -> bool {
    p.has_type(t)
        && p.param("VALUE")
            .is_some_and(|v| v.eq_ignore_ascii_case("text"))
}

/// TEL TYPE values in the order they decide the slot (after fax, see [`phone_kind`]).
const PHONE_TYPES: [(&str, Phone); 9] = [
    ("pager", Phone::Pager),
    ("x-mms", Phone::Mms),
    ("cell", Phone::Mobile),
    ("car", Phone::Car),
    ("x-radio", Phone::Radio),
    ("x-assistant", Phone::Assistant),
    ("x-company-main", Phone::CompanyMain),
    ("work", Phone::Work),
    ("home", Phone::Home),
];

fn phone_kind(p: &Prop) -> Phone {
    if p.has_type("fax") {
        return if p.has_type("home") {
            Phone::HomeFax
        } else {
            Phone::WorkFax
        };
    }
    PHONE_TYPES
        .iter()
        .find(|(t, _)| p.has_type(t))
        .map_or(Phone::Untyped, |(_, k)| *k)
}

fn family_of(p: &Prop, ver: Ver) -> Option<Family> {
    Some(match p.name.as_str() {
        "EMAIL" => Family::Email,
        "IMPP" => Family::Impp,
        "URL" => Family::Url,
        "TEL" => Family::Tel(phone_kind(p)),
        "ADR" if p.has_type("work") => Family::Adr(Addr::Work),
        "ADR" if p.has_type("home") => Family::Adr(Addr::Home),
        "ADR" if p.has_type("other") => Family::Adr(Addr::Other),
        "ADR" => Family::Adr(Addr::Untyped),
        "RELATED" if ver == Ver::V4 && is_text_related(p, "spouse") => Family::Spouse,
        "X-AIRSYNC-SPOUSE" if ver == Ver::V3 => Family::Spouse,
        _ => return None,
    })
}

/// The family whose free slots a property without a slot of its own may fill.
fn fallback(f: Family) -> Option<Family> {
    match f {
        Family::Tel(Phone::Untyped) => Some(Family::Tel(Phone::Home)),
        Family::Adr(Addr::Untyped) => Some(Family::Adr(Addr::Other)),
        _ => None,
    }
}

/// For each entry of [`SLOTS`], the index in `card.props` of the property filling it.
fn assign(card: &Component, ver: Ver) -> Vec<Option<usize>> {
    let mut taken: Vec<Option<usize>> = vec![None; SLOTS.len()];
    let mut take = |f: Family, i: usize| {
        let free = SLOTS
            .iter()
            .zip(taken.iter())
            .position(|((_, sf), t)| *sf == f && t.is_none());
        if let Some(s) = free {
            taken[s] = Some(i);
        }
        free.is_some()
    };
    let mut later = Vec::new();
    for (i, p) in card.props.iter().enumerate() {
        if let Some(f) = family_of(p, ver)
            && !take(f, i)
            && let Some(fb) = fallback(f)
        {
            later.push((fb, i));
        }
    }
    for (fb, i) in later {
        take(fb, i);
    }
    taken
}

fn strip_scheme<'a>(v: &'a str, scheme: &str) -> Option<&'a str> {
    v.get(..scheme.len())
        .filter(|s| s.eq_ignore_ascii_case(scheme))
        .map(|_| &v[scheme.len()..])
}

/// A single-valued slot's value as EAS shows it.
fn slot_value(f: Family, p: &Prop) -> String {
    match f {
        Family::Tel(_) => match strip_scheme(&p.value, "tel:") {
            Some(n) => n.to_string(),
            None => p.text_value(),
        },
        // a URI; `im:` is what we write for a bare address
        Family::Impp => strip_scheme(&p.value, "im:")
            .unwrap_or(&p.value)
            .to_string(),
        _ => p.text_value(),
    }
}

/// The bare address of `"Name" <a@b>`, as clients may send an EmailNAddress.
fn bare_address(s: &str) -> String {
    let s = s.trim();
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].trim().to_string(),
        _ => s.to_string(),
    }
}

fn uri_value(f: Family, v: &str) -> String {
    match f {
        Family::Impp if !v.contains(':') => format!("im:{v}"),
        _ => v.to_string(),
    }
}

/// Sets a slot property's value, keeping its parameters (a `tel:` URI stays one when
/// the number can be one).
fn set_slot_value(f: Family, p: &mut Prop, v: &str) {
    match f {
        Family::Tel(_) => {
            let uri = p
                .param("VALUE")
                .is_some_and(|x| x.eq_ignore_ascii_case("uri"))
                || strip_scheme(&p.value, "tel:").is_some();
            if uri && !v.contains(char::is_whitespace) {
                p.set_value(format!("tel:{v}"));
            } else {
                p.remove_param("VALUE");
                p.set_value(ical::escape(v));
            }
        }
        Family::Impp | Family::Url => p.set_value(uri_value(f, v)),
        _ => p.set_value(ical::escape(v)),
    }
}

fn with_types(mut p: Prop, types: &[&str], ver: Ver) -> Prop {
    let vals = types
        .iter()
        .map(|t| match ver {
            Ver::V3 => t.to_ascii_uppercase(),
            Ver::V4 => t.to_string(),
        })
        .collect();
    p.params.push(("TYPE".to_string(), vals));
    p
}

fn phone_types(k: Phone) -> &'static [&'static str] {
    match k {
        Phone::Work => &["work", "voice"],
        Phone::Home | Phone::Untyped => &["home", "voice"],
        Phone::Mobile => &["cell", "voice"],
        Phone::Car => &["car", "voice"],
        Phone::Pager => &["pager"],
        Phone::Radio => &["x-radio"],
        Phone::WorkFax => &["work", "fax"],
        Phone::HomeFax => &["home", "fax"],
        Phone::Assistant => &["x-assistant"],
        Phone::CompanyMain => &["x-company-main"],
        Phone::Mms => &["x-mms"],
    }
}

/// A new property for a slot the card had no property for.
fn new_slot_prop(f: Family, v: &str, ver: Ver) -> Prop {
    match (f, ver) {
        (Family::Email, Ver::V3) => with_types(Prop::text("EMAIL", v), &["internet"], ver),
        (Family::Email, Ver::V4) => Prop::text("EMAIL", v),
        (Family::Impp, _) => Prop::new("IMPP", uri_value(f, v)),
        (Family::Url, _) => Prop::new("URL", v),
        (Family::Spouse, Ver::V3) => Prop::text("X-AIRSYNC-SPOUSE", v),
        (Family::Spouse, Ver::V4) => {
            with_types(Prop::text("RELATED", v), &["spouse"], ver).with_param("VALUE", "text")
        }
        (Family::Tel(k), _) => with_types(Prop::text("TEL", v), phone_types(k), ver),
        (Family::Adr(k), _) => {
            let t = match k {
                Addr::Work => "work",
                Addr::Home => "home",
                Addr::Other | Addr::Untyped => "other",
            };
            with_types(Prop::new("ADR", ";;;;;;"), &[t], ver)
        }
    }
}

fn address_tags(k: Addr) -> &'static [Tag; 5] {
    ADDRESS_TAGS
        .iter()
        .find(|(a, _)| *a == k)
        .map_or(&ADDRESS_TAGS[2].1, |(_, t)| t)
}

/// Street, locality, region, postal code, country of an ADR.
fn address_fields(p: &Prop) -> [String; 5] {
    let parts = p.parts(';');
    std::array::from_fn(|i| parts.get(i + 2).cloned().unwrap_or_default())
}

/// Replaces components `from..` of a structured value, keeping the others as written.
/// N and ADR keep every separator (RFC 6350 6.2.2, 6.3.1); `trim` drops trailing
/// empty components (ORG).
fn set_components(p: &mut Prop, from: usize, values: &[String], trim: bool) {
    let mut parts = ical::split_escaped(&p.value, ';');
    if parts.len() < from + values.len() {
        parts.resize(from + values.len(), String::new());
    }
    for (i, v) in values.iter().enumerate() {
        parts[from + i] = ical::escape(v);
    }
    while trim && parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    p.set_value(parts.join(";"));
}

fn name_parts(card: &Component) -> [String; 5] {
    let parts = card.prop("N").map(|p| p.parts(';')).unwrap_or_default();
    std::array::from_fn(|i| parts.get(i).cloned().unwrap_or_default())
}

/// Title First Middle Last Suffix.
fn display_name(n: &[String; 5]) -> String {
    [&n[3], &n[1], &n[2], &n[0], &n[4]]
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn anniversary_name(ver: Ver) -> &'static str {
    match ver {
        Ver::V3 => "X-ANNIVERSARY",
        Ver::V4 => "ANNIVERSARY",
    }
}

const NO_YEAR: i32 = 1604;

/// A vCard date (`19800517`, `1980-05-17`, `1980-05-17T…`, `--0517`, `--05-17`).
fn vcard_date(p: &Prop) -> Option<NaiveDate> {
    let v = p.value.trim();
    let date = v.split(['T', 't']).next()?;
    if let Some(md) = date.strip_prefix("--") {
        let md = md.replace('-', "");
        let (m, d) = (md.get(..2)?, md.get(2..4)?);
        return NaiveDate::from_ymd_opt(NO_YEAR, m.parse().ok()?, d.parse().ok()?);
    }
    NaiveDate::parse_from_str(date, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(date, "%Y-%m-%d"))
        .ok()
}

/// The date an EAS date-time means: the nearest midnight (see the module docs).
fn eas_date(s: &str) -> Option<NaiveDate> {
    pim::parse_eas_datetime(s)?
        .checked_add_signed(Duration::hours(12))
        .map(|t| t.date())
}

fn write_date(p: &mut Prop, d: NaiveDate, ver: Ver) {
    p.remove_param("VALUE");
    p.remove_param("X-APPLE-OMIT-YEAR");
    let no_year = d.year() == NO_YEAR;
    p.set_value(match (ver, no_year) {
        (Ver::V4, true) => d.format("--%m%d").to_string(),
        (Ver::V4, false) => d.format("%Y%m%d").to_string(),
        (Ver::V3, _) => d.format("%Y-%m-%d").to_string(),
    });
    if no_year && ver == Ver::V3 {
        p.set_param("X-APPLE-OMIT-YEAR", "1604");
    }
}

/// The photo bytes when the property holds them inline.
fn photo_bytes(p: &Prop) -> Option<Vec<u8>> {
    let v = p.value.trim();
    let data = if let Some(rest) = strip_scheme(v, "data:") {
        let (head, data) = rest.split_once(',')?;
        if !head.to_ascii_lowercase().ends_with(";base64") {
            return None;
        }
        data
    } else if p
        .param("ENCODING")
        .is_some_and(|e| e.eq_ignore_ascii_case("b") || e.eq_ignore_ascii_case("base64"))
    {
        v
    } else {
        return None;
    };
    let clean: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(clean).ok()
}

fn photo_prop(bytes: &[u8], ver: Ver) -> Prop {
    let (mime, kind) = if bytes.starts_with(b"\x89PNG") {
        ("image/png", "PNG")
    } else if bytes.starts_with(b"GIF8") {
        ("image/gif", "GIF")
    } else {
        ("image/jpeg", "JPEG")
    };
    let data = B64.encode(bytes);
    match ver {
        Ver::V4 => Prop::new("PHOTO", format!("data:{mime};base64,{data}")),
        Ver::V3 => Prop::new("PHOTO", data)
            .with_param("ENCODING", "b")
            .with_param("TYPE", kind),
    }
}

fn is_child(p: &Prop, ver: Ver) -> bool {
    match ver {
        Ver::V4 => p.name == "RELATED" && is_text_related(p, "child"),
        Ver::V3 => p.name == CHILD_V3,
    }
}

fn children_of(card: &Component, ver: Ver) -> Vec<String> {
    card.props
        .iter()
        .filter(|p| is_child(p, ver))
        .map(Prop::text_value)
        .filter(|c| !c.trim().is_empty())
        .collect()
}

fn push_text(app: &mut Element, tag: Tag, v: impl Into<String>) {
    let v = v.into();
    if !v.trim().is_empty() {
        app.push(Element::with_text(tag, v));
    }
}

/// vCard → `<AirSync:ApplicationData>` with the Contacts and Contacts2 elements.
pub fn contact_to_eas(vcf: &[u8], opts: &ContactOptions) -> Result<Element, ConvertError> {
    let (card, ver) = parse(vcf)?;
    let mut app = Element::new(AirSync::ApplicationData);
    let note = card.text("NOTE").unwrap_or_default();
    app.push(pim::body_element(
        &note,
        None,
        &opts.body_preferences,
        opts.version,
    ));
    let fname = card.text("FN").unwrap_or_default();
    push_text(&mut app, C::FileAs, card.text(FILE_AS).unwrap_or(fname));
    for (tag, v) in NAME_TAGS.iter().zip(name_parts(&card)) {
        push_text(&mut app, *tag, v);
    }
    let org = card.prop("ORG").map(|p| p.parts(';')).unwrap_or_default();
    for (tag, v) in [C::CompanyName, C::Department].iter().zip(org) {
        push_text(&mut app, *tag, v);
    }
    for (tag, name) in TEXT_FIELDS {
        push_text(&mut app, *tag, card.text(name).unwrap_or_default());
    }
    for ((tag, f), idx) in SLOTS.iter().zip(assign(&card, ver)) {
        let Some(p) = idx.map(|i| &card.props[i]) else {
            continue;
        };
        match f {
            Family::Adr(k) => {
                for (t, v) in address_tags(*k).iter().zip(address_fields(p)) {
                    push_text(&mut app, *t, v);
                }
            }
            _ => push_text(&mut app, *tag, slot_value(*f, p)),
        }
    }
    for (tag, name) in [
        (C::Birthday, "BDAY"),
        (C::Anniversary, anniversary_name(ver)),
    ] {
        if let Some(d) = card.prop(name).and_then(vcard_date) {
            let t = d.and_hms_opt(0, 0, 0).unwrap_or_default();
            app.push(Element::with_text(tag, pim::long_utc(t)));
        }
    }
    let children = children_of(&card, ver);
    if !children.is_empty() {
        app.push(pim::categories_element(C::Children, C::Child, &children));
    }
    let cats = pim::categories_of(&card);
    if !cats.is_empty() {
        app.push(pim::categories_element(C::Categories, C::Category, &cats));
    }
    if let Some(photo) = card.prop("PHOTO").and_then(photo_bytes)
        && photo.len() <= opts.picture_max_bytes
    {
        app.push(Element::with_text(C::Picture, B64.encode(photo)));
    }
    if opts.version >= ProtocolVersion::V14_0 {
        push_text(&mut app, C::Alias, card.text(ALIAS).unwrap_or_default());
    }
    Ok(app)
}

fn new_card() -> Component {
    let mut c = Component::new("VCARD");
    c.props.push(Prop::new("VERSION", "3.0"));
    c.props.push(Prop::new("PRODID", "-//airsync//EN"));
    c.props.push(Prop::new("UID", pim::new_uid()));
    c
}

fn field(data: &Element, tag: Tag) -> Option<String> {
    data.child_text(tag)
        .map(|s| s.to_string())
        .filter(|s| !s.trim().is_empty())
}

/// Writes every slot (see the module docs): edits in place, removes, appends.
fn apply_slots(card: &mut Component, data: &Element, ver: Ver) {
    let slots = assign(card, ver);
    let mut dead = vec![false; card.props.len()];
    for ((tag, f), idx) in SLOTS.iter().zip(slots) {
        if let Family::Adr(k) = f {
            let new: [String; 5] = address_tags(*k).map(|t| field(data, t).unwrap_or_default());
            let empty = new.iter().all(|s| s.is_empty());
            match idx {
                Some(i) if empty => dead[i] = true,
                Some(i) if address_fields(&card.props[i]) != new => {
                    set_components(&mut card.props[i], 2, &new, false)
                }
                None if !empty => {
                    let mut p = new_slot_prop(*f, "", ver);
                    set_components(&mut p, 2, &new, false);
                    card.props.push(p);
                }
                _ => {}
            }
            continue;
        }
        let new = field(data, *tag).map(|v| match f {
            Family::Email => bare_address(&v),
            _ => v,
        });
        match (idx, new) {
            (Some(i), None) => dead[i] = true,
            (Some(i), Some(v)) if slot_value(*f, &card.props[i]) != v => {
                set_slot_value(*f, &mut card.props[i], &v)
            }
            (None, Some(v)) => card.props.push(new_slot_prop(*f, &v, ver)),
            _ => {}
        }
    }
    let mut i = 0;
    card.props.retain(|_| {
        i += 1;
        !dead.get(i - 1).copied().unwrap_or(false)
    });
}

/// N, FN, FileAs and ORG.
fn apply_names(card: &mut Component, data: &Element, ver: Ver) {
    let old = name_parts(card);
    let new: [String; 5] = NAME_TAGS.map(|t| field(data, t).unwrap_or_default());
    if old != new {
        match card.prop_mut("N") {
            Some(p) => set_components(p, 0, &new, false),
            None => card
                .props
                .push(Prop::new("N", ical::join_escaped(&new, ';'))),
        }
    } else if ver == Ver::V3 && card.prop("N").is_none() {
        card.props.push(Prop::new("N", ";;;;"));
    }
    let company = field(data, C::CompanyName);
    let file_as = field(data, C::FileAs);
    let current = card.text("FN").filter(|f| !f.trim().is_empty());
    let fname = match current {
        Some(f) if old == new => f,
        current => Some(display_name(&new))
            .filter(|s| !s.is_empty())
            .or_else(|| file_as.clone())
            .or_else(|| company.clone())
            .or_else(|| field(data, C::Email1Address).map(|e| bare_address(&e)))
            .or(current)
            .unwrap_or_default(),
    };
    if card.text("FN").as_deref() != Some(fname.as_str()) {
        card.set(Prop::text("FN", &fname));
    }
    match file_as {
        Some(f) if f != fname => card.set_text(FILE_AS, Some(&f)),
        _ => card.remove(FILE_AS),
    }
    let org = [
        company.unwrap_or_default(),
        field(data, C::Department).unwrap_or_default(),
    ];
    let old_org = card.prop("ORG").map(|p| p.parts(';')).unwrap_or_default();
    let old_pair = [0, 1].map(|i| old_org.get(i).cloned().unwrap_or_default());
    if old_pair != org {
        match card.prop_mut("ORG") {
            Some(p) => set_components(p, 0, &org, true),
            None => {
                let mut p = Prop::new("ORG", "");
                set_components(&mut p, 0, &org, true);
                card.props.push(p);
            }
        }
        if card
            .prop("ORG")
            .is_some_and(|p| p.parts(';').iter().all(String::is_empty))
        {
            card.remove("ORG");
        }
    }
}

fn apply_dates(card: &mut Component, data: &Element, ver: Ver) -> Result<(), ConvertError> {
    for (tag, name, what) in [
        (C::Birthday, "BDAY", "Birthday"),
        (C::Anniversary, anniversary_name(ver), "Anniversary"),
    ] {
        let new = field(data, tag)
            .map(|s| eas_date(&s).ok_or(ConvertError::BadValue(what)))
            .transpose()?;
        let old = card.prop(name).and_then(vcard_date);
        match (old, new) {
            (o, Some(n)) if o != Some(n) => match card.prop_mut(name) {
                Some(p) => write_date(p, n, ver),
                None => {
                    let mut p = Prop::new(name, "");
                    write_date(&mut p, n, ver);
                    card.props.push(p);
                }
            },
            // a date we could not read was never sent: keep it
            (Some(_), None) => card.remove(name),
            _ => {}
        }
    }
    Ok(())
}

fn apply_picture(
    card: &mut Component,
    data: &Element,
    ver: Ver,
    opts: &ContactOptions,
) -> Result<(), ConvertError> {
    let old = card.prop("PHOTO").and_then(photo_bytes);
    match data.first(C::Picture).map(|p| p.text().unwrap_or_default()) {
        Some(b) if b.trim().is_empty() => card.remove("PHOTO"),
        Some(b) => {
            let clean: String = b.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = B64
                .decode(clean)
                .map_err(|_| ConvertError::BadValue("Picture"))?;
            if old.as_deref() != Some(bytes.as_slice()) {
                let new = photo_prop(&bytes, ver);
                match card.prop_mut("PHOTO") {
                    Some(p) => {
                        let group = p.group.take();
                        *p = new;
                        p.group = group;
                    }
                    None => card.props.push(new),
                }
            }
        }
        None => {
            if old.is_some_and(|o| o.len() <= opts.picture_max_bytes) {
                card.remove("PHOTO");
            }
        }
    }
    Ok(())
}

fn apply_children(card: &mut Component, data: &Element, ver: Ver) {
    let new = data
        .first(C::Children)
        .map(|c| pim::categories_from(c, C::Child))
        .unwrap_or_default();
    if children_of(card, ver) == new {
        return;
    }
    card.props.retain(|p| !is_child(p, ver));
    for c in &new {
        card.props.push(match ver {
            Ver::V4 => {
                with_types(Prop::text("RELATED", c), &["child"], ver).with_param("VALUE", "text")
            }
            Ver::V3 => Prop::text(CHILD_V3, c),
        });
    }
}

/// Client Add/Change → vCard. `existing` is the upstream card for a Change: only what
/// EAS carries is rewritten (see the module docs).
pub fn eas_to_contact(
    data: &Element,
    existing: Option<&[u8]>,
    opts: &ContactOptions,
) -> Result<Vec<u8>, ConvertError> {
    let (mut card, ver) = match existing {
        Some(e) => parse(e)?,
        None => (new_card(), Ver::V3),
    };
    apply_slots(&mut card, data, ver);
    apply_names(&mut card, data, ver);
    for (tag, name) in TEXT_FIELDS {
        card.set_text(name, field(data, *tag).as_deref());
    }
    apply_dates(&mut card, data, ver)?;
    apply_picture(&mut card, data, ver, opts)?;
    apply_children(&mut card, data, ver);
    pim::set_body_text(&mut card, data, "NOTE");
    let cats = data
        .first(C::Categories)
        .map(|c| pim::categories_from(c, C::Category))
        .unwrap_or_default();
    pim::set_categories(&mut card, &cats);
    if opts.version >= ProtocolVersion::V14_0 {
        card.set_text(ALIAS, field(data, C::Alias).as_deref());
    }
    Ok(card.to_text().into_bytes())
}

/// The card's UID.
pub fn contact_uid(vcf: &[u8]) -> Option<String> {
    parse(vcf).ok()?.0.text("UID")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::pages::AirSyncBase;
    use crate::wbxml::{Node, to_xml};

    /// Every field, vCard 3.0; canonical (CRLF, no line over 75 octets) so that an
    /// unchanged write-back must be byte-identical.
    const V3_FULL: &str = "BEGIN:VCARD\r\n\
VERSION:3.0\r\n\
PRODID:-//Example//EN\r\n\
UID:c1@example.com\r\n\
N:Müller;Jörg;Anton;Dr.;Jr.\r\n\
FN:Dr. Jörg Anton Müller Jr.\r\n\
X-AIRSYNC-FILEAS:Müller\\, Jörg\r\n\
ORG:Acme\\, Inc.;Research\r\n\
TITLE:Chief Tinkerer\r\n\
X-AIRSYNC-OFFICE:B2-17\r\n\
X-AIRSYNC-ASSISTANT:Ann Assist\r\n\
X-AIRSYNC-MANAGER:Max Boss\r\n\
X-PHONETIC-FIRST-NAME:Yorg\r\n\
X-PHONETIC-LAST-NAME:Myuller\r\n\
X-PHONETIC-ORG:Akme\r\n\
NICKNAME:JJ\r\n\
X-AIRSYNC-CUSTOMERID:C-42\r\n\
X-AIRSYNC-GOVERNMENTID:G-7\r\n\
X-AIRSYNC-ACCOUNTNAME:jmueller\r\n\
EMAIL;TYPE=INTERNET:joerg@example.com\r\n\
EMAIL;TYPE=INTERNET,HOME:j@home.example\r\n\
EMAIL;TYPE=INTERNET:third@example.org\r\n\
IMPP:xmpp:joerg@jabber.example\r\n\
IMPP:im:joerg@chat.example\r\n\
IMPP:sip:joerg@voip.example\r\n\
URL:https://example.com/~joerg\r\n\
X-AIRSYNC-SPOUSE:Sara\r\n\
X-AIRSYNC-CHILD:Kid One\r\n\
X-AIRSYNC-CHILD:Kid Two\r\n\
TEL;TYPE=WORK,VOICE:+49 30 1\r\n\
TEL;TYPE=WORK:+49 30 2\r\n\
TEL;TYPE=HOME,VOICE:+49 30 3\r\n\
TEL;TYPE=HOME:+49 30 4\r\n\
TEL;TYPE=CELL:+49 170 5\r\n\
TEL;TYPE=CAR:+49 170 6\r\n\
TEL;TYPE=PAGER:+49 170 7\r\n\
TEL;TYPE=X-RADIO:+49 170 8\r\n\
TEL;TYPE=WORK,FAX:+49 30 9\r\n\
TEL;TYPE=HOME,FAX:+49 30 10\r\n\
TEL;TYPE=X-ASSISTANT:+49 30 11\r\n\
TEL;TYPE=X-COMPANY-MAIN:+49 30 12\r\n\
TEL;TYPE=X-MMS:+49 170 13\r\n\
ADR;TYPE=WORK:;;Hauptstr. 1;Berlin;BE;10115;Germany\r\n\
ADR;TYPE=HOME:;;Gartenweg 2\\nHinterhaus;Potsdam;BB;14467;Germany\r\n\
ADR;TYPE=OTHER:;;Ferienweg 3;Sylt;SH;25980;Germany\r\n\
BDAY:1980-05-17\r\n\
X-ANNIVERSARY:2010-06-30\r\n\
CATEGORIES:Family,Work\r\n\
NOTE:Met at the conference\\; likes tea.\\nSecond line.\r\n\
PHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgo=\r\n\
X-AIRSYNC-ALIAS:jm\r\n\
END:VCARD\r\n";

    /// The same person in vCard 4.0 idioms: RELATED, ANNIVERSARY without year, tel:
    /// URIs, a data: photo.
    const V4_FULL: &str = "BEGIN:VCARD\r\n\
VERSION:4.0\r\n\
UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\n\
N:Smith;Jane;Q.;Ms.;PhD\r\n\
FN:Ms. Jane Q. Smith PhD\r\n\
ORG:Contoso;Sales\r\n\
TITLE:Director\r\n\
X-PHONETIC-FIRST-NAME:Jein\r\n\
NICKNAME:Janie\r\n\
EMAIL;TYPE=work:jane@contoso.com\r\n\
IMPP;PREF=1:xmpp:jane@contoso.com\r\n\
URL:https://contoso.com/jane\r\n\
RELATED;TYPE=spouse;VALUE=text:John Smith\r\n\
RELATED;TYPE=child;VALUE=text:Ann Smith\r\n\
TEL;VALUE=uri;TYPE=\"work,voice\":tel:+1-206-555-0100\r\n\
TEL;VALUE=uri;TYPE=cell:tel:+1-206-555-0101\r\n\
TEL;TYPE=home:+1 206 555 0102\r\n\
ADR;TYPE=work:;Suite 5;1 Microsoft Way;Redmond;WA;98052;USA\r\n\
BDAY:19800517\r\n\
ANNIVERSARY:--0630\r\n\
CATEGORIES:VIP\r\n\
NOTE:Prefers email.\r\n\
PHOTO:data:image/jpeg;base64,/9j/4AAQSkZJRg==\r\n\
END:VCARD\r\n";

    fn opts() -> ContactOptions {
        ContactOptions::new(ProtocolVersion::V16_1)
    }

    fn text(el: &Element, tag: Tag) -> Option<String> {
        el.child_text(tag).map(|s| s.to_string())
    }

    /// `app` with `tag`'s text replaced (or the element removed when `v` is None).
    fn with(app: &Element, tag: Tag, v: Option<&str>) -> Element {
        let mut out = Element::new(app.tag);
        out.children = app
            .children
            .iter()
            .filter_map(|n| match n {
                Node::Element(e) if e.tag == tag => {
                    v.map(|v| Node::Element(Element::with_text(tag, v)))
                }
                n => Some(n.clone()),
            })
            .collect();
        if app.first(tag).is_none()
            && let Some(v) = v
        {
            out.push(Element::with_text(tag, v));
        }
        out
    }

    fn s(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn v3_every_field_to_eas_and_back() {
        let app = contact_to_eas(V3_FULL.as_bytes(), &opts()).unwrap();
        let expect: &[(Tag, &str)] = &[
            (C::FileAs, "Müller, Jörg"),
            (C::LastName, "Müller"),
            (C::FirstName, "Jörg"),
            (C::MiddleName, "Anton"),
            (C::Title, "Dr."),
            (C::Suffix, "Jr."),
            (C::CompanyName, "Acme, Inc."),
            (C::Department, "Research"),
            (C::JobTitle, "Chief Tinkerer"),
            (C::OfficeLocation, "B2-17"),
            (C::AssistantName, "Ann Assist"),
            (C2::ManagerName, "Max Boss"),
            (C::YomiFirstName, "Yorg"),
            (C::YomiLastName, "Myuller"),
            (C::YomiCompanyName, "Akme"),
            (C2::NickName, "JJ"),
            (C2::CustomerId, "C-42"),
            (C2::GovernmentId, "G-7"),
            (C2::AccountName, "jmueller"),
            (C::Email1Address, "joerg@example.com"),
            (C::Email2Address, "j@home.example"),
            (C::Email3Address, "third@example.org"),
            (C2::IMAddress, "xmpp:joerg@jabber.example"),
            (C2::IMAddress2, "joerg@chat.example"),
            (C2::IMAddress3, "sip:joerg@voip.example"),
            (C::WebPage, "https://example.com/~joerg"),
            (C::Spouse, "Sara"),
            (C::BusinessPhoneNumber, "+49 30 1"),
            (C::Business2PhoneNumber, "+49 30 2"),
            (C::HomePhoneNumber, "+49 30 3"),
            (C::Home2PhoneNumber, "+49 30 4"),
            (C::MobilePhoneNumber, "+49 170 5"),
            (C::CarPhoneNumber, "+49 170 6"),
            (C::PagerNumber, "+49 170 7"),
            (C::RadioPhoneNumber, "+49 170 8"),
            (C::BusinessFaxNumber, "+49 30 9"),
            (C::HomeFaxNumber, "+49 30 10"),
            (C::AssistantPhoneNumber, "+49 30 11"),
            (C2::CompanyMainPhone, "+49 30 12"),
            (C2::MMS, "+49 170 13"),
            (C::BusinessAddressStreet, "Hauptstr. 1"),
            (C::BusinessAddressCity, "Berlin"),
            (C::BusinessAddressState, "BE"),
            (C::BusinessAddressPostalCode, "10115"),
            (C::BusinessAddressCountry, "Germany"),
            (C::HomeAddressStreet, "Gartenweg 2\nHinterhaus"),
            (C::HomeAddressCity, "Potsdam"),
            (C::OtherAddressStreet, "Ferienweg 3"),
            (C::OtherAddressCountry, "Germany"),
            (C::Birthday, "1980-05-17T00:00:00.000Z"),
            (C::Anniversary, "2010-06-30T00:00:00.000Z"),
            (C::Picture, "iVBORw0KGgo="),
            (C::Alias, "jm"),
        ];
        for (tag, v) in expect {
            assert_eq!(text(&app, *tag).as_deref(), Some(*v), "{tag}");
        }
        let kids: Vec<_> = app
            .first(C::Children)
            .unwrap()
            .all(C::Child)
            .map(|c| c.text().unwrap().to_string())
            .collect();
        assert_eq!(kids, ["Kid One", "Kid Two"]);
        let cats = pim::categories_from(app.first(C::Categories).unwrap(), C::Category);
        assert_eq!(cats, ["Family", "Work"]);
        let body = app.first(AirSyncBase::Body).unwrap();
        assert_eq!(
            text(body, AirSyncBase::Data).as_deref(),
            Some("Met at the conference; likes tea.\nSecond line.")
        );
        assert!(app.first(C::WeightedRank).is_none());

        // the client sends everything back unchanged: not one byte moves
        let same = eas_to_contact(&app, Some(V3_FULL.as_bytes()), &opts()).unwrap();
        assert_eq!(s(same), V3_FULL);

        // an Add of the same data makes a new 3.0 card that converts to the same EAS
        let new = eas_to_contact(&app, None, &opts()).unwrap();
        let back = contact_to_eas(&new, &opts()).unwrap();
        assert_eq!(to_xml(&back), to_xml(&app));
        let new = s(new);
        assert!(new.starts_with("BEGIN:VCARD\r\nVERSION:3.0\r\n"));
        assert!(new.contains("\r\nFN:Dr. Jörg Anton Müller Jr.\r\n"));
        assert!(new.contains("\r\nTEL;TYPE=CELL,VOICE:+49 170 5\r\n"));
        assert!(
            new.contains(
                "\r\nADR;TYPE=HOME:;;Gartenweg 2\\nHinterhaus;Potsdam;BB;14467;Germany\r\n"
            )
        );
        assert!(new.contains("\r\nPHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgo=\r\n"));
        assert!(contact_uid(new.as_bytes()).unwrap().ends_with("@airsync"));
    }

    #[test]
    fn v4_every_field_to_eas_and_back() {
        let app = contact_to_eas(V4_FULL.as_bytes(), &opts()).unwrap();
        let expect: &[(Tag, &str)] = &[
            (C::FileAs, "Ms. Jane Q. Smith PhD"),
            (C::LastName, "Smith"),
            (C::FirstName, "Jane"),
            (C::Title, "Ms."),
            (C::Suffix, "PhD"),
            (C::CompanyName, "Contoso"),
            (C::Department, "Sales"),
            (C::Email1Address, "jane@contoso.com"),
            (C2::IMAddress, "xmpp:jane@contoso.com"),
            (C::Spouse, "John Smith"),
            (C::BusinessPhoneNumber, "+1-206-555-0100"),
            (C::MobilePhoneNumber, "+1-206-555-0101"),
            (C::HomePhoneNumber, "+1 206 555 0102"),
            (C::BusinessAddressStreet, "1 Microsoft Way"),
            (C::BusinessAddressPostalCode, "98052"),
            (C::Birthday, "1980-05-17T00:00:00.000Z"),
            (C::Anniversary, "1604-06-30T00:00:00.000Z"),
            (C::Picture, "/9j/4AAQSkZJRg=="),
        ];
        for (tag, v) in expect {
            assert_eq!(text(&app, *tag).as_deref(), Some(*v), "{tag}");
        }
        assert!(app.first(C::Email2Address).is_none());
        let same = eas_to_contact(&app, Some(V4_FULL.as_bytes()), &opts()).unwrap();
        assert_eq!(s(same), V4_FULL);

        let new = eas_to_contact(&app, None, &opts()).unwrap();
        assert_eq!(
            to_xml(&contact_to_eas(&new, &opts()).unwrap()),
            to_xml(&app)
        );

        // edits written in 4.0 idioms: tel: URI kept, no-year date, new child
        let app2 = with(&app, C::MobilePhoneNumber, Some("+1-206-555-0199"));
        let app2 = with(&app2, C::Anniversary, Some("1604-07-01T00:00:00.000Z"));
        let mut app2 = with(&app2, C::Spouse, None);
        app2.children
            .retain(|n| !matches!(n, Node::Element(e) if e.tag == C::Children));
        app2.push(
            Element::new(C::Children)
                .text_child(C::Child, "Ann Smith")
                .text_child(C::Child, "Bo Smith"),
        );
        let out = s(eas_to_contact(&app2, Some(V4_FULL.as_bytes()), &opts()).unwrap());
        assert!(out.contains("\r\nTEL;VALUE=uri;TYPE=cell:tel:+1-206-555-0199\r\n"));
        assert!(out.contains("\r\nANNIVERSARY:--0701\r\n"));
        assert!(!out.contains("spouse"));
        assert!(out.contains("\r\nRELATED;TYPE=child;VALUE=text:Bo Smith\r\n"));
        assert!(out.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"));
    }

    #[test]
    fn editing_the_mobile_number_changes_only_that_line() {
        let vcf = "BEGIN:VCARD\r\n\
VERSION:4.0\r\n\
UID:lossless-1\r\n\
FN:Alex Example\r\n\
N:Example;Alex;;;\r\n\
X-SOCIALPROFILE;TYPE=twitter:https://twitter.com/alex\r\n\
RELATED;TYPE=friend:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af\r\n\
GEO:geo:52.52,13.405\r\n\
TEL;TYPE=work:+49 30 100\r\n\
TEL;TYPE=work:+49 30 200\r\n\
TEL;TYPE=work:+49 30 300\r\n\
item1.TEL;TYPE=cell;X-CARRIER=\"Foo;Bar\":+49 170 1\r\n\
item1.X-ABLABEL:mobile\r\n\
EMAIL;PID=1.1:alex@example.com\r\n\
X-UNKNOWN;X-P=1:keep me\r\n\
END:VCARD\r\n";
        let app = contact_to_eas(vcf.as_bytes(), &opts()).unwrap();
        assert_eq!(
            text(&app, C::MobilePhoneNumber).as_deref(),
            Some("+49 170 1")
        );
        assert_eq!(
            text(&app, C::Business2PhoneNumber).as_deref(),
            Some("+49 30 200")
        );
        // the third work phone has no slot: not sent, never touched
        assert!(!to_xml(&app).contains("+49 30 300"));
        let edited = with(&app, C::MobilePhoneNumber, Some("+49 170 2"));
        let out = s(eas_to_contact(&edited, Some(vcf.as_bytes()), &opts()).unwrap());
        let want = vcf.replace(
            "item1.TEL;TYPE=cell;X-CARRIER=\"Foo;Bar\":+49 170 1",
            "item1.TEL;TYPE=cell;X-CARRIER=\"Foo;Bar\":+49 170 2",
        );
        assert_ne!(want, vcf);
        assert_eq!(out, want);

        // removing Business2 removes exactly the second work line
        let cleared = with(&app, C::Business2PhoneNumber, None);
        let out = s(eas_to_contact(&cleared, Some(vcf.as_bytes()), &opts()).unwrap());
        assert_eq!(out, vcf.replace("TEL;TYPE=work:+49 30 200\r\n", ""));
    }

    #[test]
    fn untyped_phone_fills_home_and_new_values_get_types() {
        let vcf = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nN:;A;;;\r\nTEL:555-1\r\nEND:VCARD\r\n";
        let app = contact_to_eas(vcf.as_bytes(), &opts()).unwrap();
        assert_eq!(text(&app, C::HomePhoneNumber).as_deref(), Some("555-1"));
        let app = with(&app, C::HomePhoneNumber, Some("555-2"));
        let app = with(&app, C::PagerNumber, Some("555-3"));
        let app = with(&app, C::Email1Address, Some("\"A B\" <a@b.example>"));
        let out = s(eas_to_contact(&app, Some(vcf.as_bytes()), &opts()).unwrap());
        assert!(out.contains("\r\nTEL:555-2\r\n"), "{out}");
        assert!(out.contains("\r\nTEL;TYPE=PAGER:555-3\r\n"));
        assert!(out.contains("\r\nEMAIL;TYPE=INTERNET:a@b.example\r\n"));
    }

    #[test]
    fn picture_under_and_over_the_cap() {
        let jpeg: Vec<u8> = [0xFF, 0xD8, 0xFF, 0xE0]
            .into_iter()
            .chain([7u8; 96])
            .collect();
        let vcf = format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:P\r\nN:;P;;;\r\nPHOTO;ENCODING=b;TYPE=JPEG:{}\r\nEND:VCARD\r\n",
            B64.encode(&jpeg)
        );
        let mut o = opts();
        o.picture_max_bytes = 100;
        let app = contact_to_eas(vcf.as_bytes(), &o).unwrap();
        assert_eq!(text(&app, C::Picture), Some(B64.encode(&jpeg)));
        // the client removed it
        let out =
            s(eas_to_contact(&with(&app, C::Picture, None), Some(vcf.as_bytes()), &o).unwrap());
        assert!(!out.contains("PHOTO"));

        o.picture_max_bytes = 99;
        let app = contact_to_eas(vcf.as_bytes(), &o).unwrap();
        assert!(app.first(C::Picture).is_none());
        // never sent, so a Change without it keeps it (refolded at 75 octets)
        let out = s(eas_to_contact(&app, Some(vcf.as_bytes()), &o).unwrap());
        assert_eq!(out.replace("\r\n ", ""), vcf);
        // an empty Picture deletes it
        let out = s(
            eas_to_contact(&with(&app, C::Picture, Some("")), Some(vcf.as_bytes()), &o).unwrap(),
        );
        assert!(!out.contains("PHOTO"));
        // a new PNG from the client, in each version's form
        let png = B64.encode(b"\x89PNG\r\n\x1a\nxx");
        let out = s(eas_to_contact(
            &with(&app, C::Picture, Some(&png)),
            Some(vcf.as_bytes()),
            &o,
        )
        .unwrap());
        assert!(out.contains(&format!("PHOTO;ENCODING=b;TYPE=PNG:{png}")));
        let v4 = vcf.replace("VERSION:3.0", "VERSION:4.0");
        let out = s(
            eas_to_contact(&with(&app, C::Picture, Some(&png)), Some(v4.as_bytes()), &o).unwrap(),
        );
        assert!(out.contains(&format!("PHOTO:data:image/png;base64,{png}")));
        assert!(matches!(
            eas_to_contact(&with(&app, C::Picture, Some("!!")), None, &o),
            Err(ConvertError::BadValue("Picture"))
        ));
    }

    /// A contact Add shaped like MS-ASCNTC's Sync example (FileAs, names, company,
    /// phones, email, address, body, categories).
    #[test]
    fn spec_style_add_converts_and_back() {
        let app = Element::new(AirSync::ApplicationData)
            .child(
                Element::new(AirSyncBase::Body)
                    .text_child(AirSyncBase::Type, "1")
                    .text_child(AirSyncBase::Data, "Some notes\r\nabout Jane"),
            )
            .text_child(C::FileAs, "Smith, Jane")
            .text_child(C::FirstName, "Jane")
            .text_child(C::LastName, "Smith")
            .text_child(C::CompanyName, "Contoso")
            .text_child(C::JobTitle, "Manager")
            .text_child(C::BusinessPhoneNumber, "(206) 555-0100")
            .text_child(C::MobilePhoneNumber, "(206) 555-0101")
            .text_child(C::Email1Address, "jane@contoso.com")
            .text_child(C::BusinessAddressStreet, "1 Microsoft Way")
            .text_child(C::BusinessAddressCity, "Redmond")
            .text_child(C::BusinessAddressState, "WA")
            .text_child(C::BusinessAddressPostalCode, "98052")
            .text_child(C::BusinessAddressCountry, "United States")
            .text_child(C::Birthday, "1975-01-31T08:00:00.000Z")
            .text_child(C2::NickName, "JJ")
            .child(Element::new(C::Categories).text_child(C::Category, "Business"))
            .text_child(C::WeightedRank, "3");
        let vcf = eas_to_contact(&app, None, &opts()).unwrap();
        let card = s(vcf.clone());
        assert!(card.contains("\r\nFN:Jane Smith\r\n"));
        assert!(card.contains("\r\nX-AIRSYNC-FILEAS:Smith\\, Jane\r\n"));
        assert!(card.contains("\r\nN:Smith;Jane;;;\r\n"));
        assert!(card.contains("\r\nBDAY:1975-01-31\r\n"));
        let back = contact_to_eas(&vcf, &opts()).unwrap();
        for tag in [
            C::FileAs,
            C::FirstName,
            C::LastName,
            C::CompanyName,
            C::JobTitle,
            C::BusinessPhoneNumber,
            C::MobilePhoneNumber,
            C::Email1Address,
            C::BusinessAddressStreet,
            C::BusinessAddressCity,
            C::BusinessAddressState,
            C::BusinessAddressPostalCode,
            C::BusinessAddressCountry,
            C2::NickName,
        ] {
            assert_eq!(text(&back, tag), text(&app, tag), "{tag}");
        }
        assert_eq!(
            text(&back, C::Birthday).as_deref(),
            Some("1975-01-31T00:00:00.000Z")
        );
        assert!(back.first(C::WeightedRank).is_none());
        let body = back.first(AirSyncBase::Body).unwrap();
        assert_eq!(
            text(body, AirSyncBase::Data).as_deref(),
            Some("Some notes\nabout Jane")
        );
        assert_eq!(
            pim::categories_from(back.first(C::Categories).unwrap(), C::Category),
            ["Business"]
        );
    }

    #[test]
    fn dates_take_the_nearest_midnight() {
        let base = contact_to_eas(V3_FULL.as_bytes(), &opts()).unwrap();
        for (sent, want) in [
            ("1980-05-17T22:00:00.000Z", "BDAY:1980-05-18"),
            ("1980-05-18T05:00:00.000Z", "BDAY:1980-05-18"),
            ("19800518T000000Z", "BDAY:1980-05-18"),
            (
                "1604-05-18T00:00:00.000Z",
                "BDAY;X-APPLE-OMIT-YEAR=1604:1604-05-18",
            ),
        ] {
            let app = with(&base, C::Birthday, Some(sent));
            let out = s(eas_to_contact(&app, Some(V3_FULL.as_bytes()), &opts()).unwrap());
            assert!(out.contains(&format!("\r\n{want}\r\n")), "{sent}: {out}");
        }
        // local midnight in UTC+2 is the date the card has: nothing changes
        let app = with(&base, C::Birthday, Some("1980-05-16T22:00:00.000Z"));
        let out = s(eas_to_contact(&app, Some(V3_FULL.as_bytes()), &opts()).unwrap());
        assert_eq!(out, V3_FULL);
        let app = with(&base, C::Birthday, Some("yesterday"));
        assert_eq!(
            eas_to_contact(&app, Some(V3_FULL.as_bytes()), &opts()),
            Err(ConvertError::BadValue("Birthday"))
        );
    }

    #[test]
    fn commas_and_semicolons_in_names_are_escaped() {
        let app = Element::new(AirSync::ApplicationData)
            .text_child(C::LastName, "O'Neil; Jr, III")
            .text_child(C::FirstName, "Back\\slash")
            .text_child(C::CompanyName, "A;B, C")
            .text_child(C::Department, "R&D")
            .text_child(C::HomeAddressStreet, "1, Main; St");
        let vcf = eas_to_contact(&app, None, &opts()).unwrap();
        let card = s(vcf.clone());
        assert!(
            card.contains("\r\nN:O'Neil\\; Jr\\, III;Back\\\\slash;;;\r\n"),
            "{card}"
        );
        assert!(card.contains("\r\nFN:Back\\\\slash O'Neil\\; Jr\\, III\r\n"));
        assert!(card.contains("\r\nORG:A\\;B\\, C;R&D\r\n"));
        assert!(card.contains("\r\nADR;TYPE=HOME:;;1\\, Main\\; St;;;;\r\n"));
        let back = contact_to_eas(&vcf, &opts()).unwrap();
        for tag in [
            C::LastName,
            C::FirstName,
            C::CompanyName,
            C::Department,
            C::HomeAddressStreet,
        ] {
            assert_eq!(text(&back, tag), text(&app, tag), "{tag}");
        }
    }

    #[test]
    fn folded_lines_and_non_ascii() {
        let vcf = "BEGIN:VCARD\nVERSION:3.0\nFN:Zoë\nN:;Zoë;;;\nNOTE:This note is long enough that the writer fo\n lded it across\n\t three lines: 日本語テキスト\nORG:Ünïcödé GmbH\nEND:VCARD\n";
        let app = contact_to_eas(vcf.as_bytes(), &opts()).unwrap();
        let body = app.first(AirSyncBase::Body).unwrap();
        assert_eq!(
            text(body, AirSyncBase::Data).as_deref(),
            Some(
                "This note is long enough that the writer folded it across three lines: 日本語テキスト"
            )
        );
        assert_eq!(text(&app, C::CompanyName).as_deref(), Some("Ünïcödé GmbH"));
        let long = "日本語".repeat(40);
        let app = with(&app, C::JobTitle, Some(&long));
        let out = s(eas_to_contact(&app, Some(vcf.as_bytes()), &opts()).unwrap());
        assert!(out.split("\r\n").all(|l| l.len() <= 75));
        let back = contact_to_eas(out.as_bytes(), &opts()).unwrap();
        assert_eq!(text(&back, C::JobTitle), Some(long));
        assert_eq!(text(&back, C::FileAs).as_deref(), Some("Zoë"));
    }

    #[test]
    fn versions_get_only_what_they_define() {
        let v12 = ContactOptions::new(ProtocolVersion::V12_1);
        let app = contact_to_eas(V3_FULL.as_bytes(), &v12).unwrap();
        assert!(app.first(C::Alias).is_none());
        assert!(app.first(C2::NickName).is_some());
        // a 12.1 client cannot carry Alias: its Change keeps it
        let out = s(eas_to_contact(&app, Some(V3_FULL.as_bytes()), &v12).unwrap());
        assert_eq!(out, V3_FULL);
        let v14 = ContactOptions::new(ProtocolVersion::V14_0);
        let app = contact_to_eas(V3_FULL.as_bytes(), &v14).unwrap();
        assert_eq!(text(&app, C::Alias).as_deref(), Some("jm"));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for bad in [
            &b"garbage"[..],
            b"",
            b"BEGIN:VCARD\r\nFN:x\r\n",
            b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
            b"\xff\xfe\x00",
            b"BEGIN:VCARD\r\nno colon here\r\nEND:VCARD\r\n",
        ] {
            assert!(contact_to_eas(bad, &opts()).is_err());
            let app = Element::new(AirSync::ApplicationData);
            assert!(eas_to_contact(&app, Some(bad), &opts()).is_err());
            assert_eq!(contact_uid(bad), None);
        }
        let odd = "BEGIN:VCARD\r\nVERSION:4.0\r\nN:;;;;;;;;\r\nADR:\r\nTEL:tel:\r\nBDAY:--\r\nANNIVERSARY:--1\r\nPHOTO:data:\r\nPHOTO;ENCODING=b:***\r\nORG:\r\nEND:VCARD\r\n";
        let app = contact_to_eas(odd.as_bytes(), &opts()).unwrap();
        eas_to_contact(&app, Some(odd.as_bytes()), &opts()).unwrap();
        // every prefix of a real card: Ok or Err, never a panic
        for cut in 0..V3_FULL.len() {
            let _ = contact_to_eas(&V3_FULL.as_bytes()[..cut], &opts());
        }
    }
}
