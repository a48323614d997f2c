//! Ctrl-C and SIGTERM, the two ways a person or a supervisor asks a
//! process to stop; the node and the manager wait for them alike.

/// Waits for Ctrl-C or SIGTERM and says which came.
pub async fn stop_requested() -> &'static str {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            // Without a SIGTERM handler only Ctrl-C can stop the process.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        () = terminate => "SIGTERM",
    }
}
