//! A crm-connector whose `lookup(number)` fetches `number` as a URL, so a
//! test can point it anywhere: an allowed local server, a host outside the
//! allowlist, a private address. A `200` body `id|name` is the contact,
//! `none` is no contact; any failure comes back as `err(<error code>)`.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({
    path: "../../../wit",
    world: "switchyard:plugin/crm-connector",
    generate_all,
});

use exports::switchyard::plugin::crm::Guest;
use switchyard::plugin::types::{CallRecord, Contact};
use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;

struct HttpCrm;

fn fetch(url: &str) -> Result<(u16, Vec<u8>), String> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("http://") {
        (Scheme::Http, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (Scheme::Https, r)
    } else {
        return Err(format!("not a URL: {url}"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let req = OutgoingRequest::new(Fields::new());
    req.set_scheme(Some(&scheme)).map_err(|_| "scheme")?;
    req.set_authority(Some(authority))
        .map_err(|_| "authority")?;
    req.set_path_with_query(Some(path)).map_err(|_| "path")?;
    let fut = outgoing_handler::handle(req, None).map_err(|e| format!("{e:?}"))?;
    let resp = loop {
        match fut.get() {
            Some(r) => break r,
            None => fut.subscribe().block(),
        }
    };
    let resp = resp
        .map_err(|_| "response taken twice")?
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status();
    let body = resp.consume().map_err(|_| "body taken twice")?;
    let stream = body.stream().map_err(|_| "body stream taken twice")?;
    let mut buf = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => buf.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                let code = wasi::http::types::http_error_code(&e);
                return Err(format!("body: {code:?} {}", e.to_debug_string()));
            }
        }
    }
    Ok((status, buf))
}

impl Guest for HttpCrm {
    fn lookup(number: String) -> Result<Option<Contact>, String> {
        let (status, body) = fetch(&number)?;
        if status != 200 {
            return Err(format!("status {status}"));
        }
        let body = String::from_utf8_lossy(&body);
        if body.trim() == "none" {
            return Ok(None);
        }
        let (id, name) = body.trim().split_once('|').ok_or("bad body")?;
        Ok(Some(Contact {
            id: id.into(),
            name: name.into(),
            company: None,
            email: None,
            owner: None,
            url: None,
            tags: vec![],
            fields: vec![],
        }))
    }

    fn log_call(_call: CallRecord) -> Result<(), String> {
        Ok(())
    }
}

export!(HttpCrm);
