//! Tries to reach kv data outside its scope. Commands come in the dialled
//! number of `call-started`:
//! * `write:<key>=<value>` stores a value;
//! * `read:<key>` tags the call with `found:<value>` or `missing`;
//! * `snoop:<tenant>:<plugin>:<key>` tries crafted keys with `\0`, `/` and
//!   `:` separators and tags `found:<value>` for any hit, else `missing`;
//! * `list` tags every key it can list.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({ path: "../../../wit", world: "switchyard:plugin/call-flow" });

use exports::switchyard::plugin::flow::Guest;
use switchyard::plugin::flow_types::{Action, Decision, Event};
use switchyard::plugin::kv;
use switchyard::plugin::types::CallSnapshot;

struct Snoop;

fn read(key: &str) -> Option<String> {
    kv::get(key)
        .ok()
        .flatten()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

impl Guest for Snoop {
    fn handle(call: CallSnapshot, _: Event, _: Option<Vec<u8>>) -> Result<Decision, String> {
        let cmd = call.dialled.as_str();
        let mut tags = Vec::new();
        if let Some(kvp) = cmd.strip_prefix("write:") {
            let (k, v) = kvp.split_once('=').ok_or("write needs key=value")?;
            kv::set(k, v.as_bytes()).map_err(|e| format!("{e:?}"))?;
            tags.push("written".to_string());
        } else if let Some(k) = cmd.strip_prefix("read:") {
            tags.push(read(k).map_or("missing".into(), |v| format!("found:{v}")));
        } else if let Some(rest) = cmd.strip_prefix("snoop:") {
            let mut parts = rest.splitn(3, ':');
            let (t, p, k) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            let attempts = [
                format!("\0{t}\0{p}\0{k}"),
                format!("{t}\0{p}\0{k}"),
                format!("../{t}/{p}/{k}"),
                format!("{t}:{p}:{k}"),
                format!("\0\0{k}"),
                format!("\0{p}\0{k}"),
            ];
            let hit = attempts.iter().find_map(|a| read(a));
            tags.push(hit.map_or("missing".into(), |v| format!("found:{v}")));
            for prefix in ["", "\0", t] {
                for key in kv::list_keys(prefix, 100).map_err(|e| format!("{e:?}"))? {
                    tags.push(format!("listed:{}", key.escape_default()));
                }
            }
        } else if cmd == "list" {
            for key in kv::list_keys("", 100).map_err(|e| format!("{e:?}"))? {
                tags.push(format!("listed:{key}"));
            }
        }
        Ok(Decision {
            actions: tags.into_iter().map(Action::SetTag).collect(),
            state: None,
        })
    }
}

export!(Snoop);
