//! The server-rendered pages: the public ones (home, the privacy notice,
//! the exit page), the patron's (sign-in, My account) and the staff's.
//!
//! Every page is an askama template under `templates/`, checked when the
//! crate compiles and escaped by default; all of them extend one layout
//! (`layout.html`), which a page fills through its [`Frame`]. No page
//! needs a script or loads anything from another host (the CSP forbids
//! both; see `routes::CONTENT_SECURITY_POLICY`). The security headers of
//! every answer come from the router's layers, not from here.
//!
//! Forms: every form that changes something carries a form token
//! ([`forms`]), checked once for all of them by [`forms::guard`] before
//! any handler runs, which also refuses a form posted from another origin.

pub mod catalogue;
pub mod desk;
pub mod forms;
pub mod home;
pub mod leaving;
pub mod my_choices;
pub mod my_data;
pub mod notice;
pub mod package;
pub mod patron;
pub mod staff_corrections;
pub mod staff_disclosures;
pub mod staff_patrons;
pub mod staff_privacy;
pub mod staff_sign_in;

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use carrel_store::Error;

use crate::api::ApiError;

pub use forms::form_token;

/// A link, as the layout's menu and a message page show it.
pub struct Link {
    pub href: String,
    pub label: String,
    /// Whether it is the page being shown (`aria-current`).
    pub current: bool,
}

impl Link {
    pub fn to(href: impl Into<String>, label: impl Into<String>) -> Link {
        Link {
            href: href.into(),
            label: label.into(),
            current: false,
        }
    }
}

/// Who is signed in, as the layout shows it, and the form that signs out.
pub struct SignedIn {
    /// What the page says: never a name (a screen may be seen by others),
    /// only the role or the card's last digits.
    pub label: String,
    /// Where the sign-out form posts.
    pub sign_out: &'static str,
    /// The form token of the session (see [`forms`]).
    pub form_token: String,
}

/// Whose pages these are, for the menu.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Nobody is signed in.
    Public,
    /// A patron, signed in with card and PIN.
    Patron,
    /// A staff member.
    Staff,
}

/// What the layout needs from every page: the library, who is signed in,
/// and which page this is.
pub struct Frame {
    pub library: String,
    pub signed_in: Option<SignedIn>,
    pub audience: Audience,
    /// The staff pages the signed-in role may use (its menu).
    pub staff_pages: Vec<Link>,
    /// The signed-in staff member's role, on staff pages.
    pub role: Option<String>,
    /// The path of the page, to mark it in the menu.
    pub path: String,
    /// A file to keep (a download): no menu and no footer.
    pub standalone: bool,
}

impl Frame {
    /// A page anyone may see.
    pub fn public(library: &str, path: &str) -> Frame {
        Frame {
            library: library.to_string(),
            signed_in: None,
            audience: Audience::Public,
            staff_pages: Vec::new(),
            role: None,
            path: path.to_string(),
            standalone: false,
        }
    }

    /// A page for the signed-in patron.
    pub fn patron(library: &str, path: &str, session: &str) -> Frame {
        Frame {
            signed_in: Some(SignedIn {
                label: "with your library card".into(),
                sign_out: "/my/sign-out",
                form_token: form_token(session),
            }),
            audience: Audience::Patron,
            ..Frame::public(library, path)
        }
    }

    /// A page for a signed-in staff member; the menu lists the staff
    /// pages the policy lets the role use.
    pub fn staff(policy: &carrel_policy::Policy, path: &str, role: &str, session: &str) -> Frame {
        use carrel_policy::{Action, RecordClass};
        let may = |action, class| policy.roles.get(role).is_some_and(|r| r.may(action, class));
        let rules = &policy.disclosure;
        let works_requests = [&rules.recorded_by, &rules.counsel, &rules.gag_circle]
            .iter()
            .any(|roles| roles.iter().any(|r| r == role))
            || rules.bases.values().any(|b| b.decided_by(role));
        let mut staff_pages = Vec::new();
        if may(Action::Read, RecordClass::Audit) {
            staff_pages.push(Link::to("/staff/privacy", "Privacy dashboard"));
        }
        // The auditor oversees the requests too (the queue shows every
        // role what its circle lets it see).
        if works_requests || may(Action::Read, RecordClass::Audit) {
            staff_pages.push(Link::to("/staff/disclosures", "Disclosure requests"));
        }
        if may(Action::Create, RecordClass::Circulation) {
            staff_pages.push(Link::to(desk::DESK, "Circulation desk"));
        }
        if may(Action::Read, RecordClass::Registration) {
            staff_pages.push(Link::to("/staff/patrons", "Patrons"));
        }
        if may(Action::Read, RecordClass::Catalogue) {
            staff_pages.push(Link::to(catalogue::ITEMS, "Catalogue"));
        }
        if may(Action::Update, RecordClass::Registration) {
            staff_pages.push(Link::to("/staff/corrections", "Corrections"));
        }
        Frame {
            signed_in: Some(SignedIn {
                label: format!("staff, {}", role.replace('_', " ")),
                sign_out: "/staff/sign-out",
                form_token: form_token(session),
            }),
            audience: Audience::Staff,
            staff_pages,
            role: Some(role.to_string()),
            ..Frame::public(&policy.library.name, path)
        }
    }

    /// The form token of the signed-in session, for the page's forms
    /// (empty when nobody is signed in).
    pub fn form_token(&self) -> String {
        self.signed_in
            .as_ref()
            .map(|s| s.form_token.clone())
            .unwrap_or_default()
    }

    /// A file to keep: the layout without menu or footer.
    pub fn standalone(library: &str) -> Frame {
        Frame {
            standalone: true,
            ..Frame::public(library, "")
        }
    }

    /// Whether the page may use the screen's width: the staff pages' wide
    /// tables need it; patrons' pages read better narrow.
    pub fn wide(&self) -> bool {
        self.audience == Audience::Staff
    }

    /// The menu: the public pages, then the audience's own.
    pub fn nav(&self) -> Vec<Link> {
        let mut links = vec![
            Link::to("/", "Home"),
            Link::to("/privacy", "Privacy notice"),
        ];
        match self.audience {
            Audience::Public => {
                links.push(Link::to("/my/sign-in", "Patron sign-in"));
                links.push(Link::to("/staff/sign-in", "Staff sign-in"));
            }
            Audience::Patron => {
                links.push(Link::to("/my", "My account"));
                links.push(Link::to("/my/data", "My data"));
                links.push(Link::to("/my/choices", "My choices"));
            }
            Audience::Staff => {
                links.push(Link::to("/staff", "Staff pages"));
                links.extend(self.staff_pages.iter().map(|l| Link::to(&l.href, &l.label)));
            }
        }
        for link in &mut links {
            link.current = link.href == self.path;
        }
        links
    }
}

/// A page with a title, some paragraphs and links: errors, confirmations.
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub frame: Frame,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub links: Vec<Link>,
}

impl Message {
    pub fn new(frame: Frame, title: &str, paragraphs: &[&str]) -> Message {
        Message {
            frame,
            title: title.to_string(),
            paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
            links: Vec::new(),
        }
    }

    pub fn link(mut self, href: &str, label: &str) -> Message {
        self.links.push(Link::to(href, label));
        self
    }

    pub fn answer(self, status: StatusCode) -> Response {
        render(status, &self)
    }
}

/// A page as an answer. A template that fails to render (it cannot, short
/// of a bug: askama checks templates when the crate compiles) is a 500
/// with nothing of the page in it.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => ApiError(Error::Internal(format!("a page did not render: {e}"))).into_response(),
    }
}

/// The answer to a page request that failed: sign in, not allowed, not
/// found, or the store's own message (which names what was wrong, never
/// personal data). `sign_in` is the sign-in page for this audience;
/// `not_allowed` says, in the library's words, why the role may not.
pub fn failure(frame: Frame, error: ApiError, sign_in: &str, not_allowed: &str) -> Response {
    // Back to the page the request came from, where there is one.
    let back = if frame.path.starts_with('/') && frame.path.len() > 1 {
        (frame.path.clone(), "Back to the page".to_string())
    } else {
        let (href, label) = match frame.audience {
            Audience::Staff => ("/staff", "Staff pages"),
            Audience::Patron => ("/my", "My account"),
            Audience::Public => ("/", "Home"),
        };
        (href.to_string(), label.to_string())
    };
    match error {
        // A staff page reached without a session: sign in, then back here.
        ApiError(Error::Unauthenticated) if sign_in == staff_sign_in::SIGN_IN => {
            see_other(&staff_sign_in::sign_in_then(&frame.path))
        }
        ApiError(Error::Unauthenticated) => {
            let public = Frame::public(&frame.library, &frame.path);
            Message::new(
                public,
                "Please sign in",
                &["You are not signed in, or your session has ended. Sign in, then open this page again."],
            )
            .link(sign_in, "Sign in")
            .answer(StatusCode::UNAUTHORIZED)
        }
        ApiError(Error::Denied { reason, .. }) if reason.code() == "denied" => {
            Message::new(frame, "Not allowed", &[not_allowed])
                .link(&back.0, &back.1)
                .answer(StatusCode::FORBIDDEN)
        }
        other @ ApiError(
            Error::Denied { .. }
            | Error::NotFound { .. }
            | Error::Invalid { .. }
            | Error::Refused { .. }
            | Error::Request { .. }
            | Error::Conflict { .. }
            | Error::TooManyAttempts,
        ) => {
            let message = sentence(&other.0.to_string());
            let status = other.into_response().status();
            Message::new(
                frame,
                "That could not be done",
                &[&message, "Nothing was changed."],
            )
            .link(&back.0, &back.1)
            .answer(status)
        }
        other => other.into_response(),
    }
}

/// Runs `work` for the signed-in member of staff, in one transaction, and
/// gives its result with the frame of the staff page at `path`. On
/// failure, the answer to send instead: to sign in (and back), "not
/// allowed" in the words of `not_allowed`, or what was wrong.
pub async fn as_staff_page<T, F>(
    state: &crate::api::AppState,
    token: Result<crate::api::Token, ApiError>,
    path: &str,
    not_allowed: &str,
    work: F,
) -> Result<(T, Frame), Response>
where
    T: Send + 'static,
    F: FnOnce(&mut carrel_store::Tx<'_>, &carrel_store::gate::Actor) -> Result<T, Error>
        + Send
        + 'static,
{
    let policy = state.store.policy();
    let public = || Frame::public(&policy.library.name, path);
    let token = token.map_err(|e| failure(public(), e, staff_sign_in::SIGN_IN, not_allowed))?;
    let session = token.0.clone();
    // The work's error is the transaction's: it rolls back (nothing half
    // written) and a refusal is written to the audit log on its own.
    let result = state
        .as_staff(token, move |tx, actor| {
            let role = actor.role().to_string();
            work(tx, actor).map(|value| (value, role))
        })
        .await;
    match result {
        Ok((value, role)) => Ok((value, Frame::staff(policy, path, &role, &session))),
        Err(e @ ApiError(Error::Unauthenticated)) => {
            Err(failure(public(), e, staff_sign_in::SIGN_IN, not_allowed))
        }
        Err(e) => Err(failure(
            staff_frame(state, &session, path).await,
            e,
            staff_sign_in::SIGN_IN,
            not_allowed,
        )),
    }
}

/// The work of a page that shows nothing but is only for roles the policy
/// grants action `A` on class `C` (a form to fill in): asks the gate, and
/// a refusal is audited like any other.
pub fn only_for_roles_that_may<A, C>(
    purpose: &'static str,
) -> impl FnOnce(&mut carrel_store::Tx<'_>, &carrel_store::gate::Actor) -> Result<(), Error>
       + Send
       + 'static
where
    A: carrel_store::gate::ActionKind + 'static,
    C: carrel_store::gate::ClassKind + 'static,
{
    move |tx, actor| carrel_store::gate::authorize::<A, C>(tx, actor, purpose).map(drop)
}

/// How a step on a staff page ended.
pub enum Step<T> {
    /// It was done (and committed).
    Done(T),
    /// It was refused for a reason the page shows on itself, ready to try
    /// again: an unknown card or item, a value the rules refuse. Nothing
    /// was written: the step's transaction was rolled back.
    Problem(StatusCode, String),
    /// Anything else (not signed in, not allowed): the answer to send.
    Answer(Response),
}

/// Runs one step of a staff page in one transaction: an error rolls all of
/// it back (a step must never catch its own error and commit: a write made
/// before the error would stay). Refusals the page can show come back as
/// [`Step::Problem`]; anything else as the failure page, in the words of
/// `not_allowed` for a role the policy does not allow.
pub async fn staff_step<T, F>(
    state: &crate::api::AppState,
    token: Result<crate::api::Token, ApiError>,
    path: &str,
    not_allowed: &str,
    work: F,
) -> Step<T>
where
    T: Send + 'static,
    F: FnOnce(&mut carrel_store::Tx<'_>, &carrel_store::gate::Actor) -> Result<T, Error>
        + Send
        + 'static,
{
    let library = state.store.policy().library.name.clone();
    let result = match token {
        Ok(token) => state.as_staff(token, work).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(value) => Step::Done(value),
        Err(ApiError(
            e @ (Error::NotFound { .. }
            | Error::Invalid { .. }
            | Error::Refused { .. }
            | Error::Conflict { .. }),
        )) => {
            let text = sentence(&e.to_string());
            let status = ApiError(e).into_response().status();
            Step::Problem(status, text)
        }
        Err(e) => Step::Answer(failure(
            Frame::public(&library, path),
            e,
            staff_sign_in::SIGN_IN,
            not_allowed,
        )),
    }
}

/// The session token of a request, to open a second transaction with it.
pub fn session_of(token: &Result<crate::api::Token, ApiError>) -> String {
    token.as_ref().map(|t| t.0.clone()).unwrap_or_default()
}

/// The frame of the staff page at `path` for the session (its role read
/// in a transaction of its own: after a step was refused and rolled back).
pub async fn staff_frame(state: &crate::api::AppState, session: &str, path: &str) -> Frame {
    let role = state
        .as_staff(crate::api::Token(session.to_string()), |_, actor| {
            Ok(actor.role().to_string())
        })
        .await
        .unwrap_or_default();
    Frame::staff(state.store.policy(), path, &role, session)
}

/// The answer to a page that does not exist (a path outside the API).
pub fn not_found(library: &str, path: &str) -> Response {
    Message::new(
        Frame::public(library, path),
        "No such page",
        &["There is no page at this address. It may have moved, or the link may be mistyped."],
    )
    .link("/", "Home")
    .link("/privacy", "Privacy notice")
    .answer(StatusCode::NOT_FOUND)
}

/// A message as a sentence for a page: a capital first letter and a full
/// stop, and without the requirement ids the API's messages cite for
/// developers ("(REQUIREMENTS L2)").
pub fn sentence(message: &str) -> String {
    let mut text = message.trim().to_string();
    if let Some(at) = text.find(" (REQUIREMENTS ") {
        if let Some(end) = text[at..].find(')') {
            text.replace_range(at..at + end + 1, "");
        }
    }
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// A field of a posted form, trimmed; empty when it is missing.
pub fn field(form: &std::collections::HashMap<String, String>, name: &str) -> String {
    form.get(name)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// A record id from a page's address: a positive whole number, or "not
/// found" (as a record that does not exist is).
pub fn record_id(text: &str, what: &'static str) -> Result<i64, Error> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(Error::NotFound { what })
}

/// Sends the browser on to `to` after a form (303, so a reload does not
/// post it again).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// Text with a capital first letter.
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A vocabulary's name as words: "under_review" as "under review".
pub fn words(name: &str) -> String {
    name.replace('_', " ")
}

/// An instant (Unix seconds) as the library's local date and time.
pub fn local_time(at: i64, zone: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// An instant (Unix seconds) as the library's local date.
pub fn local_date(at: i64, zone: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.with_timezone(&zone).format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}
