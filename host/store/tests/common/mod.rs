//! Fixtures shared by the store tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use switchyard_store::*;

pub fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

pub fn tenant(id: &str, domains: &[&str]) -> Tenant {
    Tenant {
        id: id.into(),
        name: format!("Tenant {id}"),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        time_zone: "Europe/Paris".into(),
        limits: TenantQuota {
            max_concurrent_calls: 10,
            max_calls_per_second: 5,
            plugin_memory_mib: 64,
            plugin_cpu_ms: 50,
            max_extensions: 0,
            max_numbers: 0,
            recording_storage_mib: 0,
        },
        features: Features {
            recording: true,
            ..Features::all()
        },
        plan: None,
        suspended: false,
        created_at_ms: 1,
        pause_reasons: default_pause_reasons(),
    }
}

pub fn extension(tenant: &str, number: &str) -> Extension {
    Extension {
        tenant: tenant.into(),
        number: number.into(),
        display_name: Some(format!("Ext {number}")),
        ha1_md5: "0".repeat(32),
        ha1_sha256: "f".repeat(64),
        voicemail: true,
        created_at_ms: 2,
        pickup_group: None,
        supervisor: false,
        email: None,
        missed_call_email: false,
        srtp: "off".into(),
    }
}

pub fn binding(tenant: &str, ext: &str, contact: &str, expires_at_ms: u64) -> Binding {
    Binding {
        tenant: tenant.into(),
        extension: ext.into(),
        contact: contact.into(),
        expires_at_ms,
        q: Some(0.5),
        call_id: "c".into(),
        cseq: 1,
        source: "127.0.0.1:5062".into(),
        transport: "UDP".into(),
        user_agent: None,
    }
}

pub fn cdr(tenant: &str, id: &str, start_ms: u64) -> Cdr {
    Cdr {
        id: id.into(),
        tenant: tenant.into(),
        call_id: format!("call-{id}"),
        direction: "internal".into(),
        caller: "1001".into(),
        caller_name: None,
        callee: "1002".into(),
        dialled: "1002".into(),
        start_ms,
        answer_ms: Some(start_ms + 1000),
        end_ms: start_ms + 5000,
        disposition: Disposition::Answered,
        hangup_by: Some("caller".into()),
        sip_code: 200,
        queue: None,
        agent: None,
        tags: vec![],
        recording: None,
        flow_plugin: Some("router".into()),
        plugin_version: Some(1),
        legs: vec![CdrLeg {
            target: "1002".into(),
            start_ms,
            answer_ms: Some(start_ms + 1000),
            end_ms: start_ms + 5000,
            sip_code: 200,
        }],
        monitors: vec![],
    }
}

pub fn trunk(tenant: &str, name: &str) -> Trunk {
    Trunk {
        tenant: tenant.into(),
        name: name.into(),
        host: "sip.carrier.example:5060".into(),
        transport: "udp".into(),
        username: Some("acct".into()),
        password: Some("s3cret".into()),
        register: true,
        register_expires: 600,
        from_domain: None,
        max_concurrent_calls: 30,
        max_calls_per_second: 5,
        caller_id: Some("+15550100".into()),
        allow_caller_id_passthrough: false,
        srtp: "off".into(),
        inbound_addresses: vec!["192.0.2.10".into()],
    }
}

pub fn file(tenant: &str, kind: &str, id: &str) -> FileRecord {
    FileRecord {
        tenant: tenant.into(),
        kind: kind.into(),
        id: id.into(),
        name: "greeting.wav".into(),
        content_type: "audio/wav".into(),
        size: 0,
        created_at_ms: 3,
        meta: BTreeMap::from([("duration_ms".to_string(), "1200".to_string())]),
    }
}

/// Copy the files of a data directory as they are on disk: what a restart
/// after a crash would find (the original is still locked by the
/// forgotten store).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn version(
    tenant: &str,
    name: &str,
    number: u32,
    sha: &str,
    size: usize,
) -> PluginVersionRecord {
    PluginVersionRecord {
        tenant: tenant.into(),
        name: name.into(),
        number,
        world: "call-flow".into(),
        sha256: sha.into(),
        size: size as u64,
        created_at_ms: 5,
        config: Default::default(),
        source: None,
    }
}
