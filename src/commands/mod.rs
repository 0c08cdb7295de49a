//! One module per EAS command, each doing parse → apply → respond. This module holds
//! what they share: the request context, the reply type, the provisioning gate and the
//! dispatch table.

mod compose;
mod conversation;
mod folder_ops;
mod folder_sync;
mod get_item_estimate;
mod item_operations;
pub(crate) mod meeting_response;
mod move_items;
pub(crate) mod paging;
mod ping;
mod provision;
mod resolve_recipients;
mod search;
mod settings;
pub(crate) mod sync;
mod validate_cert;

use crate::app::App;
use crate::auth::Principal;
use crate::eas::{Command, ProtocolVersion};
use crate::error::Error;
use crate::http::query::RequestLine;
use crate::mapping::folders::{FolderView, TreeRules};
use crate::policy::{self, KeyCheck, effective};
use crate::state::{Device, Overrides, Store};
use crate::wbxml::Element;

/// The commands airsync implements today, as announced in `MS-ASProtocolCommands`.
pub const SUPPORTED: &[Command] = &[
    Command::Provision,
    Command::FolderSync,
    Command::FolderCreate,
    Command::FolderUpdate,
    Command::FolderDelete,
    Command::Sync,
    Command::GetItemEstimate,
    Command::MoveItems,
    Command::ItemOperations,
    Command::GetAttachment,
    Command::Search,
    Command::Find,
    Command::ResolveRecipients,
    Command::Settings,
    Command::ValidateCert,
    Command::SendMail,
    Command::SmartReply,
    Command::SmartForward,
    Command::MeetingResponse,
    Command::Ping,
];

/// Everything a command may use about the request it answers.
pub struct RequestContext<'a> {
    pub app: &'a App,
    pub principal: &'a Principal,
    /// The device as stored before this request.
    pub device: &'a Device,
    pub version: ProtocolVersion,
    pub line: &'a RequestLine,
    /// The policy key the request carried (header or base64 query), if any.
    pub policy_key: Option<u32>,
    /// The client accepts multipart ItemOperations answers.
    pub accept_multipart: bool,
    /// The account's and its domain's administrator overrides.
    pub layers: &'a [Overrides; 2],
    /// The folder view the previous request of a paging chain read (`paging.rs`).
    pub reused_view: Option<&'a FolderView>,
}

impl RequestContext<'_> {
    pub fn login(&self) -> &str {
        &self.principal.login
    }

    /// The rules that shape this account's folder tree on this device: hidden
    /// mailboxes (server-wide and the account's own), aliases, and whether INBOX's
    /// children are shown.
    pub async fn tree_rules(&self) -> Result<TreeRules, Error> {
        Ok(self.folder_view().await?.rules)
    }

    /// The account's folder map and rules: every device-supplied CollectionId is
    /// resolved against this. One read of the store (none when the request continues a
    /// paging chain, which reuses the view of the request before it).
    pub async fn folder_view(&self) -> Result<FolderView, Error> {
        if let Some(view) = self.reused_view {
            return Ok(view.clone());
        }
        let account = self.app.store.account_folders(self.login()).await?;
        let folders = &self.app.settings.folders;
        let device_type = &self.device.device_type;
        let hide_inbox_children = folders
            .hide_inbox_children_for
            .iter()
            .any(|v| v == self.version.as_str() || v.eq_ignore_ascii_case(device_type));
        let mut hidden = folders.hidden.clone();
        hidden.extend(account.hidden);
        Ok(FolderView {
            rows: account.rows,
            rules: TreeRules {
                hide_inbox_children,
                hidden,
                aliases: account.aliases,
            },
            always_moves: account.always_moves.into_iter().collect(),
        })
    }
    pub fn device_id(&self) -> &str {
        &self.device.device_id
    }
}

/// What a command answers.
#[derive(Debug)]
pub enum Reply {
    Wbxml(Element),
    /// HTTP 200 with no body (e.g. a SendMail that succeeded in 12.x).
    Empty,
    /// Raw bytes of a given type (GetAttachment).
    Raw {
        content_type: String,
        body: Vec<u8>,
    },
    /// An ItemOperations answer with binary parts (MS-ASCMD 2.2.2.9.1).
    Multipart {
        document: Element,
        parts: Vec<Vec<u8>>,
    },
}

impl Reply {
    /// The WBXML document of the reply, if it has one.
    pub fn document(&self) -> Option<&Element> {
        match self {
            Reply::Wbxml(doc) | Reply::Multipart { document: doc, .. } => Some(doc),
            Reply::Empty | Reply::Raw { .. } => None,
        }
    }
}

/// Service access, before the password is checked (so that a refused account costs
/// no upstream login): the account the Authorization header names must be allowed to
/// use ActiveSync. `claimed` is that login ([`crate::auth::Authenticator::claimed_login`]);
/// its override layers are read unless `known` (a paging chain's, see `paging.rs`).
pub async fn admit(
    app: &App,
    claimed: Option<String>,
    known: Option<[Overrides; 2]>,
) -> Result<Admitted, Error> {
    let Some(login) = claimed else {
        return Ok(Admitted(None));
    };
    let layers = match known {
        Some(layers) => layers,
        None => effective::layers(&app.store, &login).await?,
    };
    if effective::account_allowed(&app.settings, &layers) {
        Ok(Admitted(Some((login, layers))))
    } else {
        tracing::info!(target: "airsync", login = %login, "ActiveSync is not enabled for this account");
        Err(Error::AccountDisabled)
    }
}

/// The account's override layers as [`admit`] read them, for the login the request
/// claimed: the rest of the request uses them instead of reading them again.
pub struct Admitted(Option<(String, [Overrides; 2])>);

impl Admitted {
    /// The layers of `login`: those already read when it is the login admitted.
    pub async fn layers(self, store: &Store, login: &str) -> Result<[Overrides; 2], Error> {
        match self.0 {
            Some((admitted, layers)) if admitted == login => Ok(layers),
            _ => Ok(effective::layers(store, login).await?),
        }
    }
}

/// Before every command: a device with a pending or done remote wipe is told to
/// provision, where it gets the wipe directive — even if it is also blocked, so that
/// a lost device can be blocked and still wiped; the device must be allowed
/// (administrator, then the "Enabled Mobile Device IDs" rules; the outcome is
/// recorded in the registry); and (MS-ASPROV 3.2.5.1.1) every command but Provision
/// needs the key of the device's current effective policy, unless provisioning is
/// switched off.
pub async fn gate(ctx: &RequestContext<'_>, command: Command) -> Result<(), Error> {
    let (app, device) = (ctx.app, ctx.device);
    if device.wipe().active() {
        return if command == Command::Provision {
            Ok(())
        } else {
            Err(Error::WipeRequested)
        };
    }
    let layers = ctx.layers;
    let access = effective::device_access(&app.settings, layers, device);
    if access.allowed() == device.blocked {
        app.store
            .set_blocked(ctx.login(), ctx.device_id(), !access.allowed())
            .await?;
    }
    if !access.allowed() {
        tracing::info!(target: "airsync", login = ctx.login(), device = ctx.device_id(), why = ?access, "device refused");
        return Err(Error::DeviceBlocked);
    }
    if command == Command::Provision || !app.settings.provision.required {
        return Ok(());
    }
    let policy = effective::effective_policy(&app.settings, layers, device);
    match policy::check_key(device, ctx.policy_key, &policy.fingerprint) {
        KeyCheck::Ok => Ok(()),
        other => Err(Error::Provision(other)),
    }
}

/// Runs one command. `document` is the decoded WBXML body, `raw` the body's bytes.
pub async fn dispatch(
    ctx: &RequestContext<'_>,
    command: Command,
    document: Option<Element>,
    raw: Vec<u8>,
) -> Result<Reply, Error> {
    let need = |d: Option<Element>| d.ok_or(crate::eas::EasError::Missing("a WBXML request body"));
    match command {
        Command::Provision => provision::run(ctx, need(document)?).await,
        Command::FolderSync => folder_sync::run(ctx, need(document)?).await,
        Command::Sync => sync::run(ctx, document).await,
        Command::Ping => ping::run(ctx, document).await,
        Command::GetItemEstimate => get_item_estimate::run(ctx, need(document)?).await,
        Command::ItemOperations => {
            item_operations::run(ctx, need(document)?, ctx.accept_multipart).await
        }
        Command::GetAttachment => item_operations::get_attachment(ctx).await,
        Command::MoveItems => move_items::run(ctx, need(document)?).await,
        Command::FolderCreate => folder_ops::create(ctx, need(document)?).await,
        Command::FolderUpdate => folder_ops::update(ctx, need(document)?).await,
        Command::FolderDelete => folder_ops::delete(ctx, need(document)?).await,
        Command::Search => search::run(ctx, need(document)?).await,
        Command::Find => search::find(ctx, need(document)?).await,
        Command::ResolveRecipients => resolve_recipients::run(ctx, need(document)?).await,
        Command::Settings => settings::run(ctx, need(document)?).await,
        Command::ValidateCert => validate_cert::run(ctx, need(document)?).await,
        Command::SendMail | Command::SmartReply | Command::SmartForward => {
            compose::run(ctx, command, document, raw).await
        }
        Command::MeetingResponse => meeting_response::run(ctx, need(document)?).await,
    }
}
