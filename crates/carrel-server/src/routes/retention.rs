//! Retention: what a purge would do, running one now, and the anonymous
//! statistics kept from destroyed records.

use axum::extract::State;
use axum::Json;
use carrel_policy::purpose;
use carrel_policy::RecordClass;
use carrel_store::gate::{authorize, AuditLog, Read, Statistics};
use carrel_store::retention::{self, Plan, PurgeOptions, PurgeSummary, Report};
use carrel_store::Error;
use serde::Deserialize;

use crate::api::{ApiError, AppState, NoBody, PathParam, QueryParams, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NoRequestBody, NotFound, NotJson, Unauthenticated,
};

/// The retention plan: per class, held, due, kept and why. Counts only; for
/// roles that may read the audit log (they oversee privacy).
#[utoipa::path(
    get,
    path = "/api/v1/retention",
    operation_id = "retention_plan",
    summary = "What a purge would do now, per class (counts only)",
    responses(
        (status = 200, description = "The plan", body = Plan),
        Errors<(Unauthenticated, Denied)>,
    ),
)]
pub async fn plan(State(state): State<AppState>, token: Token) -> Result<Json<Plan>, ApiError> {
    let plan = state
        .as_staff(token, move |tx, actor| {
            let grant = authorize::<Read, AuditLog>(tx, actor, purpose::ACCOUNTABILITY)?;
            retention::plan_for(tx, &grant, actor)
        })
        .await?;
    Ok(Json(plan))
}

/// Runs the scheduled purge now. It destroys only what is due, so the same
/// oversight roles may start it; the run is recorded as started by them.
#[utoipa::path(
    post,
    path = "/api/v1/retention/runs",
    operation_id = "retention_run",
    summary = "Run the retention purge now (destroys only what is due)",
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "What was destroyed", body = PurgeSummary),
        Errors<(Unauthenticated, Denied, NotJson, Invalid)>,
    ),
)]
pub async fn run(
    State(state): State<AppState>,
    token: Token,
    no_body: NoBody,
) -> Result<Json<PurgeSummary>, ApiError> {
    let staff_id = state
        .as_staff(token, move |tx, actor| {
            no_body.0?;
            authorize::<Read, AuditLog>(tx, actor, purpose::ACCOUNTABILITY)?;
            Ok(actor.staff_id())
        })
        .await?;
    let summary = state
        .blocking(move |store| {
            let options = PurgeOptions {
                started_by: format!("staff:{staff_id}"),
                ..PurgeOptions::default()
            };
            retention::purge(store, &options, &mut |_| {})
        })
        .await?;
    Ok(Json(summary))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Comma-separated dimensions, for example `age,category`.
    #[param(value_type = Option<crate::description::StatisticsDimensions>, inline)]
    by: Option<String>,
    #[serde(default)]
    monthly: bool,
    /// `YYYY-MM`, inclusive.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    from: Option<String>,
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    to: Option<String>,
}

fn month(field: &str, text: &str) -> Result<String, Error> {
    let ok = text.len() == 7
        && text.as_bytes()[4] == b'-'
        && text[..4].bytes().all(|b| b.is_ascii_digit())
        && text[5..]
            .parse::<u32>()
            .is_ok_and(|m| (1..=12).contains(&m));
    if ok {
        Ok(text.to_string())
    } else {
        Err(Error::invalid(
            "bad_month",
            format!("{field} must be a month written YYYY-MM, for example 2026-03"),
        ))
    }
}

/// Anonymous statistics of one class, published only as far as no small
/// count can be worked out from them (D3), to the roles the policy grants
/// `read` on `statistics`.
#[utoipa::path(
    get,
    path = "/api/v1/statistics/{class}",
    operation_id = "retention_statistics",
    summary = "Anonymous statistics of a class, published only as far as no small count can be worked out (D3); for roles the policy grants read on statistics",
    params(
        ("class" = inline(crate::description::StatisticsClass), Path, ),
        ReportQuery,
    ),
    responses(
        (status = 200, description = "The report", body = Report),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
pub async fn statistics(
    State(state): State<AppState>,
    token: Token,
    PathParam(class): PathParam<String>,
    QueryParams(query): QueryParams<ReportQuery>,
) -> Result<Json<Report>, ApiError> {
    let report = state
        .as_staff(token, move |tx, actor| {
            let class = class?;
            let query = query?;
            let class = RecordClass::from_name(&class)
                .filter(|c| retention::has_statistics(*c))
                .ok_or_else(|| {
                Error::invalid(
                    "bad_record_class",
                    "no such record class; use circulation, fines, interlibrary_loan, home_delivery, program_registration, electronic_access, mailing_list or registration",
                )
            })?;
            let by: Vec<String> = query
                .by
                .as_deref()
                .unwrap_or("")
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if by
                .iter()
                .any(|d| !d.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            {
                return Err(Error::invalid(
                    "bad_dimension",
                    "by must list dimension names such as item, category, age, terminal, separated by commas",
                ));
            }
            let months = match (query.from, query.to) {
                (None, None) => None,
                (from, to) => Some((
                    from.map_or(Ok("0000-00".into()), |f| month("from", &f))?,
                    to.map_or(Ok("9999-99".into()), |t| month("to", &t))?,
                )),
            };
            let grant = authorize::<Read, Statistics>(tx, actor, purpose::STATISTICS)?;
            retention::report(tx, &grant, class, &by, query.monthly, months)
        })
        .await?;
    Ok(Json(report))
}
