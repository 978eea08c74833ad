//! The tokio runtime every test that runs the engine against an in-process sandbox uses.

/// The in-process sandbox serves each request inside the client's future, so a reconcile's stack holds the
/// server's too; debug builds need more than tokio's default 2 MiB per worker.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .expect("test runtime")
}
