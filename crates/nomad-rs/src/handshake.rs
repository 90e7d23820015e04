//! go-plugin's launch handshake as Nomad configures it (`plugins/base/plugin.go`
//! `Handshake`; go-plugin `server.go`).

/// The environment variable Nomad sets on the plugin process.
pub const MAGIC_COOKIE_KEY: &str = "NOMAD_PLUGIN_MAGIC_COOKIE";
/// Its value.
pub const MAGIC_COOKIE_VALUE: &str =
    "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255";
/// go-plugin's core protocol version.
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// Nomad's plugin (app) protocol version (`PLUGIN_PROTOCOL_VERSIONS=2`).
pub const APP_PROTOCOL_VERSION: u32 = 2;
/// The plugin API version Nomad's loader requires in `PluginInfo`.
pub const PLUGIN_API_VERSION: &str = "v0.1.0";

/// What go-plugin prints (to stderr) and exits 1 with when the cookie is wrong or missing: the
/// binary was run by hand, not by Nomad.
pub const NOT_A_COMMAND: &str =
    "This binary is a plugin. These are not meant to be executed directly.\n\
Please execute the program that consumes these plugins, which will\n\
load any plugins automatically\n";

/// Whether this process was launched by Nomad: `Err` with [`NOT_A_COMMAND`] otherwise.
///
/// # Errors
/// The cookie is missing or wrong.
pub fn check_cookie(value: Option<&str>) -> Result<(), &'static str> {
    if value == Some(MAGIC_COOKIE_VALUE) {
        Ok(())
    } else {
        Err(NOT_A_COMMAND)
    }
}

/// The environment variable with the app protocol versions the host speaks (`2` from Nomad).
pub const PROTOCOL_VERSIONS_KEY: &str = "PLUGIN_PROTOCOL_VERSIONS";

/// Checks the launch environment as go-plugin's `Serve` does: the cookie (else
/// [`NOT_A_COMMAND`]), then the host's protocol versions, which must include
/// [`APP_PROTOCOL_VERSION`] when the host names any.
///
/// # Errors
/// The message to print on stderr before exiting 1.
pub fn check_launch(cookie: Option<&str>, versions: Option<&str>) -> Result<(), String> {
    check_cookie(cookie).map_err(str::to_string)?;
    match versions {
        None | Some("") => Ok(()),
        Some(v)
            if v.split(',')
                .any(|x| x.trim() == APP_PROTOCOL_VERSION.to_string()) =>
        {
            Ok(())
        }
        Some(v) => Err(format!(
            "incompatible plugin protocol: the host speaks version(s) {v}, this plugin speaks \
             {APP_PROTOCOL_VERSION} (Nomad's plugin API v0.1.0); use a Nomad release that loads \
             protocol 2 plugins\n"
        )),
    }
}

/// The first line the plugin writes on stdout: `CORE|APP|NETWORK|ADDR|PROTOCOL|CERT`, for a
/// gRPC server on a unix socket with no certificate (no AutoMTLS).
pub fn protocol_line(socket: &str) -> String {
    format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|unix|{socket}|grpc|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_and_the_line() {
        assert!(check_cookie(Some(MAGIC_COOKIE_VALUE)).is_ok());
        assert_eq!(check_cookie(None), Err(NOT_A_COMMAND));
        assert_eq!(check_cookie(Some("x")), Err(NOT_A_COMMAND));
        let l = protocol_line("/tmp/plugin123");
        let f: Vec<&str> = l.split('|').collect();
        // The host's parser: at least 4 fields, core 1, app 2, network unix, protocol grpc.
        assert_eq!(f, ["1", "2", "unix", "/tmp/plugin123", "grpc", ""]);
        let c = Some(MAGIC_COOKIE_VALUE);
        assert!(check_launch(c, Some("2")).is_ok());
        assert!(check_launch(c, Some("1,2")).is_ok());
        assert!(check_launch(c, None).is_ok());
        assert!(check_launch(c, Some("1"))
            .unwrap_err()
            .contains("incompatible"));
        assert_eq!(check_launch(None, Some("2")).unwrap_err(), NOT_A_COMMAND);
    }
}
