//! go-plugin's server side of a launch (hashicorp/go-plugin `server.go` `Serve`,
//! `grpc_server.go`, `grpc_controller.go`): listen on a unix socket in a fresh private
//! directory, tell the host where with the protocol line on stdout, serve the plugin's gRPC
//! services next to the health service (`plugin` SERVING) and `plugin.GRPCController`, and
//! stop when the host calls `Shutdown` (or sends SIGTERM). SIGINT is ignored, as go-plugin
//! does: a Ctrl-C on the agent's terminal reaches the plugin too, and the agent shuts its
//! plugins down itself.

use crate::handshake;
use crate::proto::plugin::{
    grpc_controller_server::{GrpcController, GrpcControllerServer},
    Empty,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

/// The environment variable go-plugin reads for the directory of the socket.
pub const SOCKET_DIR_KEY: &str = "PLUGIN_UNIX_SOCKET_DIR";

/// The `@module` of [`log`]'s lines (the plugin binary's name), set once by the binary.
static MODULE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Names the plugin in its log lines (`@module`); the first call wins.
pub fn set_log_module(name: &'static str) {
    let _ = MODULE.set(name);
}

/// Writes one log line on stderr as hclog's JSON (`@level`, `@message`, `@timestamp`): before
/// and after the handshake, the agent re-logs such lines at their level.
pub fn log(level: &str, message: &str) {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let line = serde_json::json!({
        "@level": level,
        "@message": message,
        "@module": MODULE.get().copied().unwrap_or("nomad-plugin"),
        "@timestamp": format!("{}.{:06}", ts.as_secs(), ts.subsec_micros()),
    });
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

struct Controller(Arc<Notify>);

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        log("info", "shutdown requested by the host");
        self.0.notify_one();
        Ok(Response::new(Empty {}))
    }
}

/// A private directory for the socket: mode 0700, a new name, never an existing directory
/// (another user could have planted it).
fn private_dir(base: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut last = None;
    for i in 0..16u32 {
        let p = base.join(format!(
            "plugin-{}-{:08x}",
            std::process::id(),
            nanos.wrapping_add(i.wrapping_mul(0x9e37_79b9))
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free directory name")))
}

/// Serves `routes` as a go-plugin gRPC plugin until the host calls `Shutdown` or sends SIGTERM:
/// writes the protocol line to `stdout`, then blocks. The socket and its directory are removed
/// on the way out; streams still open end when the caller drops its runtime (the binary gives
/// them one second, `Runtime::shutdown_timeout`).
///
/// # Errors
/// The socket cannot be made or served, or stdout cannot be written.
pub async fn serve(routes: tonic::service::Routes, stdout: &mut dyn Write) -> std::io::Result<()> {
    let base = std::env::var_os(SOCKET_DIR_KEY)
        .filter(|d| !d.is_empty())
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = private_dir(&base)?;
    let socket = dir.join("plugin.sock");
    let result = serve_at(routes, &socket, stdout).await;
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_dir(&dir);
    result
}

async fn serve_at(
    routes: tonic::service::Routes,
    socket: &Path,
    stdout: &mut dyn Write,
) -> std::io::Result<()> {
    let listener = tokio::net::UnixListener::bind(socket)?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let stop = Arc::new(Notify::new());
    let routes = routes
        .add_service(health)
        .add_service(GrpcControllerServer::new(Controller(stop.clone())));
    let path = socket
        .to_str()
        .ok_or_else(|| std::io::Error::other("the socket path is not UTF-8"))?;
    writeln!(stdout, "{}", handshake::protocol_line(path))?;
    stdout.flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let stopped = async move {
        loop {
            tokio::select! {
                () = stop.notified() => {
                    // Let the Shutdown reply reach the host before the server goes.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    break;
                }
                _ = term.recv() => {
                    log("info", "SIGTERM: shutting down");
                    break;
                }
                _ = int.recv() => log("debug", "SIGINT ignored: the host shuts plugins down"),
            }
        }
    };
    // go-plugin's Shutdown stops the server at once (`grpc.Server.Stop`), open streams and all:
    // Nomad keeps Fingerprint open for the plugin's life, so a graceful stop would never end.
    let server = tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener));
    tokio::select! {
        r = server => r.map_err(std::io::Error::other),
        () = stopped => Ok(()),
    }
}

/// A plugin binary's whole `main` after its own flags: checks the launch (cookie, protocol
/// versions: go-plugin's message and exit 1 when run by hand), names the log module, builds the
/// routes (`routes` may log, so it runs after the check), serves them on a two-thread runtime
/// until `Shutdown`, and gives open streams one second to end. Returns the exit status.
pub fn run(
    module: &'static str,
    routes: impl FnOnce() -> tonic::service::Routes,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    set_log_module(module);
    let cookie = std::env::var(handshake::MAGIC_COOKIE_KEY).ok();
    let versions = std::env::var(handshake::PROTOCOL_VERSIONS_KEY).ok();
    if let Err(msg) = handshake::check_launch(cookie.as_deref(), versions.as_deref()) {
        eprint!("{msg}");
        return ExitCode::FAILURE;
    }
    let routes = routes();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log("error", &format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let r = rt.block_on(serve(routes, &mut std::io::stdout()));
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log("error", &format!("plugin server failed: {e}"));
            ExitCode::FAILURE
        }
    }
}
