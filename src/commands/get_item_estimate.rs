//! GetItemEstimate (MS-ASCMD 2.2.1.9): how many items a Sync of each collection would
//! bring, so the phone can show progress. Nothing is stored.

use crate::eas::item_estimate::{self, status};
use crate::error::Error;
use crate::mapping::folders::Resolved;
use crate::wbxml::Element;

use super::sync::{mail, pim};
use super::{Reply, RequestContext};

pub async fn run(ctx: &RequestContext<'_>, document: Element) -> Result<Reply, Error> {
    let collections = item_estimate::parse(&document)?;
    let view = ctx.folder_view().await?;
    let mut answers = Vec::with_capacity(collections.len());
    for c in collections {
        let answer = match view.resolve(&c.collection_id) {
            None => Err(status::INVALID_COLLECTION),
            Some(Resolved::Outbox) => Ok(0),
            Some(Resolved::Mail { mailbox, .. }) => {
                mail::estimate(ctx, &c.collection_id, &mailbox, &c.sync_key, c.filter_type).await?
            }
            Some(Resolved::Pim {
                folder_id,
                class,
                href,
            }) => {
                let folder = pim::PimFolder {
                    folder_id,
                    class,
                    href: &href,
                };
                pim::estimate(ctx, &c.collection_id, &folder, &c.sync_key, c.filter_type).await?
            }
        };
        answers.push(match answer {
            Ok(n) => (c.collection_id, status::SUCCESS, Some(n)),
            Err(s) => (c.collection_id, s, None),
        });
    }
    Ok(Reply::Wbxml(item_estimate::response(&answers)))
}
