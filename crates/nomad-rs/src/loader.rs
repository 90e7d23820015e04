//! Nomad's side of a launch, for tests and tools that drive a plugin as the agent does
//! (go-plugin's `client.go`): start the binary with the magic cookie and the protocol
//! environment, read the protocol line (`CORE|APP|NETWORK|ADDR|PROTOCOL|CERT`), check it as the
//! host does, and connect a gRPC channel to the unix socket it names.

use crate::handshake::{
    APP_PROTOCOL_VERSION, CORE_PROTOCOL_VERSION, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE,
};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running plugin process; killed and reaped when dropped.
pub struct Launched {
    /// The process.
    pub child: Child,
    /// The unix socket its protocol line named.
    pub socket: PathBuf,
    /// The protocol line, as printed.
    pub line: String,
}

impl Drop for Launched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` as Nomad starts a plugin (cookie, `PLUGIN_PROTOCOL_VERSIONS=2`, the port range,
/// `PLUGIN_UNIX_SOCKET_DIR=socket_dir`; stdout piped) and reads its protocol line.
///
/// # Errors
/// The process does not start, prints no line, or a line the host would refuse (not 1|2|unix|…|grpc).
pub fn launch(cmd: &mut Command, socket_dir: &Path) -> std::io::Result<Launched> {
    let mut child = cmd
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", APP_PROTOCOL_VERSION.to_string())
        .env("PLUGIN_MIN_PORT", "10000")
        .env("PLUGIN_MAX_PORT", "25000")
        .env(crate::server::SOCKET_DIR_KEY, socket_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    let read = child
        .stdout
        .take()
        .map(|o| BufReader::new(o).read_line(&mut line));
    let bad = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    if !matches!(read, Some(Ok(n)) if n > 0) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(bad("the plugin printed no protocol line".into()));
    }
    let f: Vec<&str> = line.trim_end().split('|').collect();
    let ok = f.len() >= 5
        && f[0] == CORE_PROTOCOL_VERSION.to_string()
        && f[1] == APP_PROTOCOL_VERSION.to_string()
        && f[2] == "unix"
        && f[4] == "grpc";
    if !ok {
        let _ = child.kill();
        let _ = child.wait();
        return Err(bad(format!(
            "protocol line {line:?} is not 1|2|unix|ADDR|grpc"
        )));
    }
    let socket = PathBuf::from(f[3]);
    Ok(Launched {
        child,
        socket,
        line,
    })
}

/// A gRPC channel over the plugin's unix socket.
///
/// # Errors
/// The socket does not accept the connection.
pub async fn connect(socket: &Path) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let p = socket.to_path_buf();
    tonic::transport::Endpoint::from_static("http://[::1]:1")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let p = p.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(p).await?,
                ))
            }
        }))
        .await
}
