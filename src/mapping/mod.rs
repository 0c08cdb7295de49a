//! The account's EAS view of its upstream data: which upstream collections become
//! which EAS folders, with which types, names and parents (and, from the mail and PIM
//! issues on, the item conversions MIME / iCalendar / vCard ⇄ EAS).

pub mod calendar;
pub mod contacts;
pub mod draft;
pub mod email;
pub mod folders;
pub mod ical;
pub mod pim;
pub mod tasks;
pub mod timezone;
