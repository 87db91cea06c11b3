//! `switchyard serve [--data-dir DIR] [--sip-listen ADDR:PORT]`

use std::path::PathBuf;

use switchyard_server::{Config, start};

fn usage() -> ! {
    eprintln!(
        "usage: switchyard serve [--data-dir DIR] [--sip-listen ADDR:PORT]\n\
         environment: SWITCHYARD_DATA_DIR, SWITCHYARD_SIP_LISTEN"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let mut cfg = Config::default();
    if let Ok(d) = std::env::var("SWITCHYARD_DATA_DIR") {
        cfg.data_dir = PathBuf::from(d);
    }
    if let Ok(a) = std::env::var("SWITCHYARD_SIP_LISTEN") {
        cfg.sip_listen = a.parse()?;
    }
    match args.next().as_deref() {
        Some("serve") | None => {}
        _ => usage(),
    }
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data-dir" => cfg.data_dir = PathBuf::from(args.next().unwrap_or_else(|| usage())),
            "--sip-listen" => cfg.sip_listen = args.next().unwrap_or_else(|| usage()).parse()?,
            _ => usage(),
        }
    }
    let running = start(cfg.clone()).await?;
    println!("Switchyard is running.");
    println!("  SIP (UDP): {}", running.sip_udp);
    println!("  SIP (TCP): {}", running.sip_tcp);
    println!("  data:      {}", cfg.data_dir.display());
    println!("  demo tenant: domain demo.localhost");
    for (n, p) in &running.demo_credentials {
        println!("    extension {n}  password {p}");
    }
    println!(
        "  (passwords saved in {})",
        cfg.data_dir.join("demo-credentials.txt").display()
    );
    tokio::signal::ctrl_c().await?;
    running.store.flush()?;
    Ok(())
}
