use clap::Parser;

// One thread for the async work: a node's requests and peer messages are
// short, its long work (mining, validation, disk) runs on blocking threads,
// and hundreds of nodes share a machine's few cores, where a worker pool per
// node would only add threads, memory and wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let config = node::Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    node::run(config).await
}
