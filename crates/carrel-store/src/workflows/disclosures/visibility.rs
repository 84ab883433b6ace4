//! Who can see a disclosure request (L6, D6).
//!
//! An ordinary request is seen by the roles that work disclosure requests:
//! those who record them, decide them or review them as counsel, and those
//! who read the audit log (the privacy auditor oversees the queue). The
//! administrator sees none.
//!
//! A request under a non-disclosure (gag) order is seen only by the staff
//! member who took it, that person's supervisor, and the roles of the
//! policy's `gag_circle` (the Director and legal counsel). For everyone
//! else it does not exist: it is in no list, count, search, alert or
//! dashboard, fetching its reference answers "not found" exactly as for a
//! reference never used, and it is numbered in a series of its own (R-1,
//! R-2, ...) so the ordinary numbers (D-1, D-2, ...) show no gap. The same
//! rule is written twice, once as a check on one request and once as SQL
//! for lists and counts; the gag test (`l6_...` in the API tests) holds
//! them to each other from every role's view.

use carrel_policy::{Action, RecordClass};

use crate::db::Param;
use crate::error::Error;
use crate::gate::Actor;
use crate::{staff, Tx};

/// What one staff member may see, worked out once per request.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub staff_id: i64,
    /// Sees requests not under a gag order.
    pub sees_ordinary: bool,
    /// In the policy's gag circle by role.
    pub in_circle: bool,
}

impl Viewer {
    pub(crate) fn of(tx: &Tx<'_>, actor: &Actor) -> Viewer {
        let policy = tx.policy();
        let rules = &policy.disclosure;
        let role = actor.role();
        let listed = |roles: &[String]| roles.iter().any(|r| r == role);
        let sees_ordinary = listed(&rules.recorded_by)
            || listed(&rules.counsel)
            || listed(&rules.gag_circle)
            || rules.bases.values().any(|b| b.decided_by(role))
            || policy
                .roles
                .get(role)
                .is_some_and(|r| r.may(Action::Read, RecordClass::Audit));
        Viewer {
            staff_id: actor.staff_id(),
            sees_ordinary,
            in_circle: rules.in_gag_circle(role),
        }
    }

    /// Whether this viewer sees a request taken by `received_by` (None:
    /// asked online), gagged or not.
    pub(crate) fn sees(
        &self,
        tx: &mut Tx<'_>,
        gagged: bool,
        received_by: Option<i64>,
    ) -> Result<bool, Error> {
        if !gagged {
            return Ok(self.sees_ordinary);
        }
        if self.in_circle {
            return Ok(true);
        }
        let Some(taker) = received_by else {
            return Ok(false);
        };
        Ok(taker == self.staff_id || staff::supervisor_of(tx, taker)? == Some(self.staff_id))
    }

    /// The same rule as [`Self::sees`], as a condition on `r`, a row of
    /// `disclosure_requests`, with its parameters.
    pub(crate) fn sql(&self) -> (String, Vec<Param<'static>>) {
        (
            self.condition("?"),
            vec![Param::Int(self.staff_id), Param::Int(self.staff_id)],
        )
    }

    /// [`Self::sql`] with the viewer's staff id (a number from the
    /// database, never typed by anyone) written in, for a condition nested
    /// in SQL whose parameters are bound elsewhere.
    pub(crate) fn sql_literal(&self) -> String {
        self.condition(&self.staff_id.to_string())
    }

    fn condition(&self, me: &str) -> String {
        let ordinary = if self.sees_ordinary { "1 = 1" } else { "1 = 0" };
        let circle = if self.in_circle { "1 = 1" } else { "1 = 0" };
        format!(
            "((r.gagged = 0 AND {ordinary}) OR (r.gagged = 1 AND ({circle} OR r.received_by = {me} OR r.received_by IN (SELECT s.id FROM staff s WHERE s.supervisor_id = {me}))))"
        )
    }
}

/// SQL true for a legal hold `h` placed for a gagged request that the
/// viewer cannot see, with its parameters. With no viewer (the CLI's dry
/// run), every gagged request's holds are hidden. Counts shown to someone
/// leave these holds out, so that nothing they see moves when a restricted
/// case preserves records (L6): to them the records are as if unheld.
pub(crate) fn hidden_hold_sql(viewer: Option<&Viewer>) -> (String, Vec<Param<'static>>) {
    let gagged =
        "SELECT 1 FROM disclosure_requests r WHERE r.id = h.disclosure_id AND r.gagged = 1";
    match viewer {
        Some(viewer) => {
            let (visible, params) = viewer.sql();
            (format!("EXISTS ({gagged} AND NOT {visible})"), params)
        }
        None => (format!("EXISTS ({gagged})"), Vec::new()),
    }
}
