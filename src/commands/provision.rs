//! Provision (MS-ASPROV 3.2.5.1): the two-phase exchange that hands a device its
//! policy and the policy key every later request must carry.
//!
//! Phase 1: the device asks for the policy; we answer with the policy document and a
//! temporary key. Phase 2: the device acknowledges with that temporary key; we answer
//! with the final key, which becomes the only one accepted.
//!
//! A device with a remote wipe pending (or done) gets the wipe directive instead of a
//! policy, whatever it asks, until it acknowledges it (MS-ASPROV 3.2.5.1.2.2); after
//! that it still gets nothing but the directive.

use crate::eas::provision::{
    POLICY_TYPE, PolicyAnswer, PolicyStatus, ProvisionRequest, ProvisionResponse, ProvisionStatus,
};
use crate::error::Error;
use crate::policy::effective;
use crate::state::WipeState;

use super::{Reply, RequestContext};

pub async fn run(
    ctx: &RequestContext<'_>,
    document: crate::wbxml::Element,
) -> Result<Reply, Error> {
    let request = ProvisionRequest::parse(&document)?;
    let response = apply(ctx, &request).await?;
    Ok(Reply::Wbxml(response.to_element()))
}

async fn apply(
    ctx: &RequestContext<'_>,
    request: &ProvisionRequest,
) -> Result<ProvisionResponse, Error> {
    let store = &ctx.app.store;
    if let Some(info) = &request.device_information {
        store
            .set_device_info(ctx.login(), ctx.device_id(), info)
            .await?;
    }
    let mut response = ProvisionResponse {
        status: ProvisionStatus::Success,
        device_information_ok: request.device_information.is_some(),
        policy: None,
        remote_wipe: false,
        account_only_remote_wipe: false,
    };
    let wipe = ctx.device.wipe();
    if wipe.active() {
        return wipe_answer(ctx, request, wipe, response).await;
    }
    let Some(policy_type) = &request.policy_type else {
        // Neither a policy request nor a wipe acknowledgement: nothing to provision.
        response.status = ProvisionStatus::ProtocolError;
        return Ok(response);
    };
    if policy_type != POLICY_TYPE {
        response.policy = Some(PolicyAnswer {
            status: PolicyStatus::UnknownPolicyType,
            policy_key: None,
            document: None,
        });
        return Ok(response);
    }
    let device = ctx.device;
    let policy = effective::effective_policy(&ctx.app.settings, ctx.layers, device);
    let answer = match request.ack_key {
        // Phase 1.
        None => {
            let temporary = new_key();
            store
                .start_provisioning(ctx.login(), ctx.device_id(), temporary)
                .await?;
            PolicyAnswer {
                status: PolicyStatus::Success,
                policy_key: Some(temporary),
                document: Some(policy.policy.document(ctx.version)),
            }
        }
        // Phase 2, or its repetition after a lost answer.
        Some(key) if key != 0 && key == device.pending_policy_key => {
            if request.ack_status != Some(1) {
                // MS-ASPROV 2.2.2.54.2: 2 = partially applied, 3 = not applied, 4 = externally
                // managed. airsync does not refuse such devices (as Exchange with
                // AllowNonProvisionableDevices), but says so in the log.
                tracing::info!(target: "airsync", login = ctx.login(), device = ctx.device_id(),
                    status = ?request.ack_status, "device did not fully apply the policy");
            }
            let final_key = if device.policy_key != 0 && device.policy_hash == policy.fingerprint {
                device.policy_key
            } else {
                let k = new_key();
                store
                    .set_policy_key(
                        ctx.login(),
                        ctx.device_id(),
                        k,
                        &policy.fingerprint,
                        &policy.name,
                    )
                    .await?;
                k
            };
            PolicyAnswer {
                status: PolicyStatus::Success,
                policy_key: Some(final_key),
                document: None,
            }
        }
        // An acknowledgement of a key we never handed out: the device starts over.
        Some(_) => PolicyAnswer {
            status: PolicyStatus::WrongPolicyKey,
            policy_key: None,
            document: None,
        },
    };
    response.policy = Some(answer);
    Ok(response)
}

/// The answer while a wipe is pending or done: the directive (RemoteWipe, or for an
/// account-only wipe AccountOnlyRemoteWipe), or, to the device's acknowledgement with
/// Status 1, a plain Status 1 — the device is then recorded as wiped. A failed wipe
/// (any other Status) gets Status 2 and the directive again (MS-ASPROV 3.2.5.1.2.2).
async fn wipe_answer(
    ctx: &RequestContext<'_>,
    request: &ProvisionRequest,
    wipe: WipeState,
    mut response: ProvisionResponse,
) -> Result<ProvisionResponse, Error> {
    let ack = if wipe.account_only() {
        request.account_only_remote_wipe_status
    } else {
        request.remote_wipe_status
    };
    let directive = match ack {
        Some(1) => {
            if !matches!(wipe, WipeState::Wiped | WipeState::AccountWiped) {
                ctx.app
                    .store
                    .wipe_acknowledged(ctx.login(), ctx.device_id())
                    .await?;
                ctx.app
                    .store
                    .audit(
                        "device",
                        "wipe-acknowledged",
                        ctx.login(),
                        ctx.device_id(),
                        wipe.as_str(),
                    )
                    .await?;
                tracing::warn!(target: "airsync", login = ctx.login(), device = ctx.device_id(), "device acknowledged the remote wipe");
            }
            false
        }
        Some(status) => {
            tracing::warn!(target: "airsync", login = ctx.login(), device = ctx.device_id(), status, "device reports a failed remote wipe");
            response.status = ProvisionStatus::ProtocolError;
            true
        }
        None => true,
    };
    if directive {
        response.remote_wipe = !wipe.account_only();
        response.account_only_remote_wipe = wipe.account_only();
    }
    Ok(response)
}

/// A random non-zero policy key (0 means "no key" on the wire).
fn new_key() -> u32 {
    loop {
        let k: u32 = rand::random();
        // Some clients parse the key as a signed 32-bit number: keep it positive.
        let k = k & 0x7fff_ffff;
        if k != 0 {
            return k;
        }
    }
}
