//! The lease that makes one station process the leader of a shared
//! database, and the fence that keeps a deposed leader from writing.
//!
//! Every time is the database's: `clock_timestamp()`, the time as each
//! statement runs, not `now()`, the time its transaction began, so that a
//! transaction that waited for a lock judges expiry as of when it got it.
//!
//! The fence check holds the lease row `FOR SHARE` until its transaction
//! ends, and a takeover locks the row `FOR UPDATE` before it judges expiry:
//! a write that found the lease held commits before any takeover, and a
//! takeover that commits first makes the write find the new epoch.

use super::*;

/// The lease row as it stands, if it was ever taken.
const READ: &str = "SELECT holder, api, epoch,
        floor(EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::bigint
     FROM lease WHERE id = 1 AND epoch > 0";

fn lease_row(r: &Row) -> Result<Lease> {
    Ok(Lease {
        holder: get(r, 0)?,
        api: get(r, 1)?,
        epoch: get::<i64>(r, 2)? as u64,
        expires_in_ms: get(r, 3)?,
    })
}

pub(super) fn read(q: &mut Q<Client>) -> Result<Option<Lease>> {
    q.opt(READ, &[])?.as_ref().map(lease_row).transpose()
}

pub(super) fn take(c: &mut Conn, holder: &str, api: &str, ttl_ms: u64) -> Result<Lease> {
    let ttl = i64::try_from(ttl_ms).unwrap_or(i64::MAX);
    let mut tx = c
        .client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()?;
    let mut q = Q {
        g: &mut tx,
        cache: &mut c.cache,
    };
    // Waits for the writes in flight under the current lease to commit,
    // but not past the lease asked for: by then it would have expired.
    q.g.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        ttl.clamp(100, 3_600_000)
    ))?;
    q.exec("SELECT 1 FROM lease WHERE id = 1 FOR UPDATE", &[])?;
    let now = q.one(
        "SELECT holder, epoch, expires_at > clock_timestamp() FROM lease WHERE id = 1",
        &[],
    )?;
    let (current, live): (String, bool) = (get(&now, 0)?, get(&now, 2)?);
    if !live {
        q.exec(
            "UPDATE lease SET holder = $1, api = $2, epoch = epoch + 1,
               expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond'
             WHERE id = 1",
            &[&holder, &api, &ttl],
        )?;
    } else if current == holder {
        q.exec(
            "UPDATE lease SET api = $2,
               expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond'
             WHERE id = 1 AND holder = $1",
            &[&holder, &api, &ttl],
        )?;
    }
    let after = q
        .opt(READ, &[])?
        .as_ref()
        .map(lease_row)
        .transpose()?
        .ok_or_else(|| StoreError::Db("the lease row is missing".into()))?;
    tx.commit()?;
    Ok(after)
}

pub(super) fn release(c: &mut Conn, holder: &str, epoch: u64) -> Result<()> {
    let mut q = Q {
        g: &mut c.client,
        cache: &mut c.cache,
    };
    // One statement, its own transaction: it waits for this holder's
    // writes in flight, like a takeover.
    q.exec(
        "UPDATE lease SET expires_at = clock_timestamp()
         WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > clock_timestamp()",
        &[&holder, &(epoch as i64)],
    )?;
    Ok(())
}

/// The first statement of every writing transaction of a fenced store.
pub(super) fn check_fence<G: GenericClient>(q: &mut Q<G>, fence: &Fence) -> Result<()> {
    let held = q.opt(
        "SELECT 1 FROM lease
         WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > clock_timestamp()
         FOR SHARE",
        &[&fence.holder, &(fence.epoch as i64)],
    )?;
    if held.is_some() {
        return Ok(());
    }
    let now = q.one(
        "SELECT holder, epoch, expires_at > clock_timestamp() FROM lease WHERE id = 1",
        &[],
    )?;
    let (holder, epoch, live): (String, i64, bool) = (get(&now, 0)?, get(&now, 1)?, get(&now, 2)?);
    let mine = format!("{} at epoch {}", fence.holder, fence.epoch);
    Err(StoreError::Fenced(
        if holder == fence.holder && epoch as u64 == fence.epoch {
            format!("the lease of {mine} expired")
        } else if epoch == 0 {
            format!("the lease of {mine} was never taken")
        } else {
            format!(
                "the lease of {mine} was taken over: {} by {holder} at epoch {epoch}",
                if live { "held" } else { "last held" }
            )
        },
    ))
}
