//! CalDAV/CardDAV backend for airsync: [`DavClient`] implements
//! [`airsync_model::DavStore`] over reqwest (rustls/ring) with quick-xml.
//!
//! One shared HTTP client serves every user (connection pooling); each request carries
//! the user's Basic credentials. Discovery (RFC 6764 well-known URIs, RFC 5397
//! current-user-principal, RFC 4791/6352 home sets) is cached per login.
//!
//! Modules: [`href`] keeps every href in one canonical form, `xml` parses multistatus
//! answers and writes request bodies, `client` sends requests and maps statuses, `store`
//! implements the trait.

mod client;
pub mod href;
mod store;
mod xml;

pub use client::{DEFAULT_MAX_RESPONSE, DavClient, DavConfig};
