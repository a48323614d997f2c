use clap::Parser;

#[tokio::main]
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
