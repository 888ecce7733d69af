//! The IdP's own pages: sign in, sign out, change password. Each calls `emit()` after the
//! IdP's own change is done.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use ssf_provider::Transmitter;
use ssf_provider::idp::{IdpEvent, IdpEventKind};

use crate::accounts::Accounts;

const SESSION_COOKIE: &str = "idp_session";

#[derive(Clone)]
pub struct AppState {
    pub transmitter: Transmitter,
    pub provider_id: String,
    pub accounts: Arc<Accounts>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/password", post(change_password))
        .with_state(state)
}

impl AppState {
    /// Tells the transmitter. The IdP's own action already happened and stands even if this
    /// fails (the database is down, say): log it, do not fail the user's request. emit() only
    /// writes to the database, so it never waits on a receiver.
    async fn emit(&self, user_id: &str, kind: IdpEventKind) {
        let Some(user) = self.accounts.with_account(user_id, |a| a.ssf_user()) else {
            return;
        };
        let name = kind.name();
        // One request id per IdP request: it becomes the `txn` of every SET it causes.
        let event = IdpEvent::new(user, kind).with_request_id(uuid::Uuid::new_v4().to_string());
        match self.transmitter.emit(&self.provider_id, event).await {
            Ok(outcome) => {
                tracing::info!(event = name, txn = %outcome.txn, sets = outcome.stream_events, "emitted")
            }
            Err(error) => tracing::error!(event = name, %error, "could not record security events"),
        }
    }
}

fn session_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Html<String> {
    let signed_in = session_of(&headers)
        .and_then(|session| state.accounts.user_of_session(&session))
        .and_then(|user_id| state.accounts.with_account(&user_id, |a| a.email.clone()));
    Html(match signed_in {
        Some(email) => format!(
            "<h1>Signed in as {email}</h1>\
             <form method=post action=/password><input type=password name=new_password placeholder='new password'>\
             <button>Change password</button></form>\
             <form method=post action=/logout><button>Sign out</button></form>"
        ),
        None => "<h1>Minimal IdP</h1>\
                 <form method=post action=/login><input name=username placeholder=username>\
                 <input type=password name=password placeholder=password><button>Sign in</button></form>"
            .to_owned(),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let Some((user_id, session_id)) = state.accounts.login(&form.username, &form.password) else {
        return (StatusCode::UNAUTHORIZED, Html("wrong username or password")).into_response();
    };
    state
        .emit(
            &user_id,
            IdpEventKind::SessionEstablished {
                session_id: session_id.clone(),
                amr: Some(vec!["pwd".to_owned()]),
                acr: None,
            },
        )
        .await;
    let cookie = format!("{SESSION_COOKIE}={session_id}; Path=/; HttpOnly; SameSite=Lax");
    with_cookie(cookie)
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(session_id) = session_of(&headers)
        && let Some(user_id) = state.accounts.logout(&session_id)
    {
        state
            .emit(
                &user_id,
                IdpEventKind::SessionLogout {
                    session_id: Some(session_id),
                },
            )
            .await;
    }
    with_cookie(format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
}

#[derive(Deserialize)]
struct PasswordForm {
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let Some(user_id) = session_of(&headers).and_then(|s| state.accounts.user_of_session(&s))
    else {
        return (StatusCode::UNAUTHORIZED, Html("sign in first")).into_response();
    };
    if form.new_password.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Html("the new password must not be empty"),
        )
            .into_response();
    }
    if state.accounts.set_password(&user_id, &form.new_password) {
        state.emit(&user_id, IdpEventKind::PasswordChanged).await;
    }
    Redirect::to("/").into_response()
}

fn with_cookie(cookie: String) -> Response {
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
