//! Loading uploads: checks, compilation, and the compiled-component cache.
//!
//! Compiled components are keyed by sha256 of the upload plus the engine's
//! precompile-compatibility hash. Each is compiled for the engine of the
//! pool its initial memory puts it in ([`Pool`]); the two engines compile
//! alike, so the hash is the same for both. The optional on-disk cache only ever
//! deserializes files this host wrote: every file ends with a sha256 of a
//! secret kept in the same directory and the file body, and a file without
//! the right tag is ignored (and recompiled), never deserialized.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::engine::Pool;
use crate::validate::{self, Capabilities, InterfaceVersion, LoadError, World};

/// A validated, compiled component, shared by every tenant that installs
/// the same bytes.
pub struct LoadedComponent {
    pub(crate) component: Component,
    world: World,
    version: InterfaceVersion,
    capabilities: Capabilities,
    sha256: [u8; 32],
    size: usize,
    initial_memory: u64,
    pool: Pool,
}

impl LoadedComponent {
    /// The world it targets.
    pub fn world(&self) -> World {
        self.world
    }
    /// The version of `switchyard:plugin` it was built against.
    pub fn interface_version(&self) -> InterfaceVersion {
        self.version
    }
    /// The capabilities it imports: its invocations get these, and no
    /// others.
    pub(crate) fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
    /// sha256 of the uploaded bytes.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }
    /// sha256 of the uploaded bytes, lower-case hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
    /// Size of the upload, bytes.
    pub fn size(&self) -> usize {
        self.size
    }
    /// Linear memory it has before it runs, bytes: the initial sizes of
    /// its memories. An instance needs at least this much (see
    /// [`Self::check_fits`]); Python and JavaScript components snapshot
    /// their initialised interpreter into it, so theirs is megabytes.
    pub fn initial_memory_bytes(&self) -> u64 {
        self.initial_memory
    }
    /// The pool its instances come from (by its initial memory).
    pub fn pool(&self) -> Pool {
        self.pool
    }
    /// `Ok` when an instance can start within `memory_bytes` of linear
    /// memory (a tenant's [`crate::TenantLimits::memory_bytes`]); a
    /// [`LoadError::NeedsMoreMemory`] naming both sizes when not.
    pub fn check_fits(&self, memory_bytes: usize) -> Result<(), LoadError> {
        validate::check_memory_fits(self.initial_memory, memory_bytes)
    }
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("world", &self.world)
            .field("version", &self.version)
            .field("sha256", &self.sha256_hex())
            .field("size", &self.size)
            .field("pool", &self.pool)
            .finish()
    }
}

/// The component cache: in memory, optionally backed by a directory.
pub(crate) struct ComponentCache {
    small: Engine,
    large: Engine,
    /// Components starting with this much memory or more go to `large`.
    large_memory_bytes: u64,
    max_bytes: usize,
    engine_hash: String,
    memory: Mutex<HashMap<[u8; 32], Arc<LoadedComponent>>>,
    disk: Option<DiskCache>,
}

struct DiskCache {
    dir: PathBuf,
    secret: [u8; 32],
}

impl ComponentCache {
    pub(crate) fn new(
        [small, large]: [Engine; 2],
        large_memory_bytes: usize,
        max_bytes: usize,
        dir: Option<&Path>,
    ) -> std::io::Result<Self> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        small.precompile_compatibility_hash().hash(&mut h);
        let engine_hash = format!("{:016x}", h.finish());
        let disk = dir.map(DiskCache::open).transpose()?;
        Ok(Self {
            small,
            large,
            large_memory_bytes: large_memory_bytes as u64,
            max_bytes,
            engine_hash,
            memory: Mutex::new(HashMap::new()),
            disk,
        })
    }

    /// Checks, compiles (or finds) and validates `bytes`.
    pub(crate) fn load(&self, bytes: &[u8]) -> Result<Arc<LoadedComponent>, LoadError> {
        check_header(bytes, self.max_bytes)?;
        let sha256: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(hit) = self
            .memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&sha256)
        {
            return Ok(hit.clone());
        }
        let initial_memory = validate::initial_memory_bytes(bytes);
        let (pool, engine) = if initial_memory >= self.large_memory_bytes {
            (Pool::Large, &self.large)
        } else {
            (Pool::Small, &self.small)
        };
        let file = format!("{}-{}.cwasm", hex::encode(sha256), self.engine_hash);
        let component = match self.disk.as_ref().and_then(|d| d.read(engine, &file)) {
            Some(c) => c,
            None => {
                let c = Component::new(engine, bytes)
                    .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
                if let Some(d) = &self.disk
                    && let Err(e) = d.write(&c, &file)
                {
                    tracing::warn!(error = %e, "could not write the compiled component cache");
                }
                c
            }
        };
        let checked = validate::check_component(engine, &component)?;
        let loaded = Arc::new(LoadedComponent {
            component,
            world: checked.world,
            version: checked.version,
            capabilities: checked.capabilities,
            sha256,
            size: bytes.len(),
            initial_memory,
            pool,
        });
        self.memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sha256, loaded.clone());
        Ok(loaded)
    }
}

/// Cheap checks before handing bytes to the compiler.
fn check_header(bytes: &[u8], max: usize) -> Result<(), LoadError> {
    if bytes.len() > max {
        return Err(LoadError::TooLarge {
            size: bytes.len(),
            max,
        });
    }
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotAComponent(
            "it does not start with the WebAssembly magic bytes".into(),
        ));
    }
    // Bytes 4..8: version + layer. Core modules are version 1 layer 0;
    // components are layer 1.
    match bytes[4..8] {
        [1, 0, 0, 0] => Err(LoadError::CoreModule),
        [_, _, 1, 0] => Ok(()),
        _ => Err(LoadError::NotAComponent(
            "unknown WebAssembly version/layer in the header".into(),
        )),
    }
}

const SECRET_FILE: &str = "cache-secret";

impl DiskCache {
    fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(SECRET_FILE);
        let secret = match std::fs::read(&path) {
            Ok(s) if s.len() == 32 => s.try_into().expect("length checked"),
            _ => {
                // Not cryptographic randomness, but unique and unguessable
                // enough to tell our own files from anything dropped here.
                let seed = format!(
                    "{:?}{:?}{}",
                    std::time::SystemTime::now(),
                    std::thread::current().id(),
                    std::process::id()
                );
                let secret: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
                std::fs::write(&path, secret)?;
                secret
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            secret,
        })
    }

    fn tag(&self, body: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(body);
        h.update(self.secret);
        h.finalize().into()
    }

    fn read(&self, engine: &Engine, file: &str) -> Option<Component> {
        let data = std::fs::read(self.dir.join(file)).ok()?;
        let (body, tag) = data.split_at_checked(data.len().checked_sub(32)?)?;
        if self.tag(body) != tag {
            tracing::warn!(file, "ignoring a cached component this host did not write");
            return None;
        }
        // SAFETY: `body` was produced by `Component::serialize` of this
        // host's engine (the tag proves it was written with our secret) and
        // the file name carries the engine compatibility hash.
        unsafe { Component::deserialize(engine, body) }.ok()
    }

    fn write(&self, component: &Component, file: &str) -> wasmtime::Result<()> {
        let mut body = component.serialize()?;
        let tag = self.tag(&body);
        body.extend_from_slice(&tag);
        let tmp = self.dir.join(format!("{file}.tmp"));
        std::fs::write(&tmp, &body)?;
        std::fs::rename(&tmp, self.dir.join(file))?;
        Ok(())
    }
}
