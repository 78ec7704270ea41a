//! A small client of systemd's D-Bus API: connecting to a bus, finding a unit's object and reading
//! its properties. Every call is bounded by the connection's method timeout.
//!
//! # How a unit is found without loading it for good
//!
//! `Manager.GetUnit` answers only for units systemd already holds in memory, and changes nothing.
//! Every unit that is running, failed, or wanted by another loaded unit is among them. For any
//! other name it fails with `NoSuchUnit`, and only then is `Manager.LoadUnit` called. That is the
//! same request `systemctl show` makes (it reads the unit's object path, whose lookup loads the
//! unit), so eidos loads nothing that asking systemd itself would not: systemd reads the unit
//! file if there is one, or makes a `LoadState=not-found` placeholder if there is none, and queues
//! the unit for garbage collection. Nothing holds on to it: eidos takes no job and no D-Bus
//! reference (`Manager.RefUnit`), so systemd frees the inactive unit on its next main-loop turn.
//! `ListUnitFilesByPatterns` would avoid even that brief load, but it tells only a file path and
//! an enablement state, not the properties (`LoadState`, `UnitFileState`, `Description`, …)
//! operators compare between nodes; a property read on the unit's object would load it anyway.

use crate::render::to_reading;
use eidos_plugin_api::Reading;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::time::Duration;
use zbus::connection::Builder;
use zbus::{Address, Connection, OwnedObjectPath, Variant};

/// systemd's well-known name on the bus.
pub const SYSTEMD_NAME: &str = "org.freedesktop.systemd1";
/// The interface every unit object has.
pub const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER_INTERFACE: &str = "org.freedesktop.systemd1.Manager";
const PROPERTIES_INTERFACE: &str = "org.freedesktop.DBus.Properties";
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";
const BUS_NAME: &str = "org.freedesktop.DBus";
const BUS_PATH: &str = "/org/freedesktop/DBus";

/// What went wrong talking to systemd.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    /// Nothing listens at the bus address: this node has no such bus.
    #[error("no D-Bus message bus at {address}: {reason}")]
    NoBus {
        /// The address tried.
        address: String,
        /// Why the connection failed.
        reason: String,
    },
    /// The bus answered, but systemd is not on it.
    #[error("systemd is not on the D-Bus message bus at {address}: {reason}")]
    NoSystemd {
        /// The bus address.
        address: String,
        /// The bus's answer.
        reason: String,
    },
    /// The bus exists but could not be used (permission denied, failed authentication, …).
    #[error("connecting to the D-Bus message bus at {address}: {source}")]
    Connect {
        /// The bus address.
        address: String,
        /// The underlying error.
        source: zbus::Error,
    },
    /// systemd did not answer in time.
    #[error("systemd did not answer {call} for {unit} within {timeout:?}")]
    TimedOut {
        /// The call that timed out.
        call: &'static str,
        /// The unit it was for.
        unit: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The connection broke during a call.
    #[error("the D-Bus connection broke during {call} for {unit}: {source}")]
    Broken {
        /// The call.
        call: &'static str,
        /// The unit it was for.
        unit: String,
        /// The underlying error.
        source: zbus::Error,
    },
    /// systemd refused one request about one unit (invalid name, access denied, …).
    #[error("{call} for {unit}: {source}")]
    Refused {
        /// The call.
        call: &'static str,
        /// The unit it was for.
        unit: String,
        /// systemd's answer.
        source: zbus::Error,
    },
    /// A broken invariant of eidos itself.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl SystemdError {
    /// Whether the error concerns only one unit, so that the other units can still be read.
    pub fn is_about_one_unit(&self) -> bool {
        matches!(self, SystemdError::Refused { .. })
    }

    /// Whether the error means systemd cannot be reached here at all ("not applicable").
    pub fn means_no_systemd(&self) -> bool {
        matches!(
            self,
            SystemdError::NoBus { .. } | SystemdError::NoSystemd { .. }
        )
    }
}

/// A connection to the bus systemd is on.
pub struct Systemd {
    connection: Connection,
    address: String,
    timeout: Duration,
}

impl Systemd {
    /// Connects to the bus at `address` and checks that systemd is on it; each call waits at
    /// most `timeout` for its answer.
    ///
    /// The check asks the bus whether systemd's name has an owner rather than calling systemd
    /// straight away: a call to a name without an owner makes the bus try to start a service
    /// for it (session buses ship an activation file for systemd's name that only fails).
    pub async fn connect(address: Address, timeout: Duration) -> Result<Self, SystemdError> {
        let shown = address.to_string();
        let connection = Builder::address(address)
            .method_timeout(timeout)
            .build()
            .await
            .map_err(|e| classify_connect_error(&shown, e))?;
        let systemd = Systemd {
            connection,
            address: shown,
            timeout,
        };
        const CALL: &str = "NameHasOwner";
        let reply = systemd
            .connection
            .call_method(
                Some(BUS_NAME),
                BUS_PATH,
                Some(BUS_NAME),
                CALL,
                &SYSTEMD_NAME,
            )
            .await
            .map_err(|e| systemd.classify_call_error(CALL, SYSTEMD_NAME, e))?;
        let owned: bool = reply
            .body()
            .deserialize()
            .map_err(|e| systemd.classify_call_error(CALL, SYSTEMD_NAME, e))?;
        if owned {
            Ok(systemd)
        } else {
            Err(SystemdError::NoSystemd {
                address: systemd.address,
                reason: format!("nothing owns the name {SYSTEMD_NAME}"),
            })
        }
    }

    /// The object path of `unit`: from `GetUnit` when systemd holds the unit, else from
    /// `LoadUnit` (see the module documentation for why that leaves nothing loaded).
    pub async fn unit_path(&self, unit: &str) -> Result<OwnedObjectPath, SystemdError> {
        match self.manager_call("GetUnit", unit).await {
            Err(SystemdError::Refused { source, .. }) if is_no_such_unit(&source) => {
                tracing::debug!(unit, "not loaded in systemd; asking it to load the unit");
                self.manager_call("LoadUnit", unit).await
            }
            other => other,
        }
    }

    /// Every property of `interface` on the unit object at `path`, as readings.
    pub async fn properties(
        &self,
        unit: &str,
        path: &OwnedObjectPath,
        interface: &str,
    ) -> Result<Vec<(String, Reading)>, SystemdError> {
        const CALL: &str = "Properties.GetAll";
        let reply = self
            .connection
            .call_method(
                Some(SYSTEMD_NAME),
                path.as_str(),
                Some(PROPERTIES_INTERFACE),
                "GetAll",
                &interface,
            )
            .await
            .map_err(|e| self.classify_call_error(CALL, unit, e))?;
        let body = reply.body();
        let values: HashMap<&str, Variant<'_>> = body
            .deserialize()
            .map_err(|e| self.classify_call_error(CALL, unit, e))?;
        Ok(values
            .iter()
            .map(|(name, value)| ((*name).to_owned(), to_reading(value)))
            .collect())
    }

    async fn manager_call(
        &self,
        method: &'static str,
        unit: &str,
    ) -> Result<OwnedObjectPath, SystemdError> {
        let reply = self
            .connection
            .call_method(
                Some(SYSTEMD_NAME),
                MANAGER_PATH,
                Some(MANAGER_INTERFACE),
                method,
                &unit,
            )
            .await
            .map_err(|e| self.classify_call_error(method, unit, e))?;
        reply
            .body()
            .deserialize::<OwnedObjectPath>()
            .map_err(|e| self.classify_call_error(method, unit, e))
    }

    fn classify_call_error(
        &self,
        call: &'static str,
        unit: &str,
        error: zbus::Error,
    ) -> SystemdError {
        let unit = unit.to_owned();
        match &error {
            zbus::Error::FDO(fdo) => match fdo.as_ref() {
                zbus::fdo::Error::ServiceUnknown(reason)
                | zbus::fdo::Error::NameHasNoOwner(reason) => SystemdError::NoSystemd {
                    address: self.address.clone(),
                    reason: reason.clone(),
                },
                zbus::fdo::Error::TimedOut(_)
                | zbus::fdo::Error::Timeout(_)
                | zbus::fdo::Error::NoReply(_) => SystemdError::TimedOut {
                    call,
                    unit,
                    timeout: self.timeout,
                },
                zbus::fdo::Error::Disconnected(_) => SystemdError::Broken {
                    call,
                    unit,
                    source: error,
                },
                _ => SystemdError::Refused {
                    call,
                    unit,
                    source: error,
                },
            },
            zbus::Error::InputOutput(io) if io.kind() == ErrorKind::TimedOut => {
                SystemdError::TimedOut {
                    call,
                    unit,
                    timeout: self.timeout,
                }
            }
            zbus::Error::MethodError(..) => SystemdError::Refused {
                call,
                unit,
                source: error,
            },
            _ => SystemdError::Broken {
                call,
                unit,
                source: error,
            },
        }
    }
}

fn is_no_such_unit(error: &zbus::Error) -> bool {
    matches!(error, zbus::Error::MethodError(name, _, _) if name.as_str() == NO_SUCH_UNIT)
}

fn classify_connect_error(address: &str, error: zbus::Error) -> SystemdError {
    let missing = |kind: ErrorKind| {
        matches!(
            kind,
            ErrorKind::NotFound | ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable
        )
    };
    match &error {
        zbus::Error::Connection(io, _) if missing(io.kind()) => SystemdError::NoBus {
            address: address.to_owned(),
            reason: io.to_string(),
        },
        zbus::Error::InputOutput(io) if missing(io.kind()) => SystemdError::NoBus {
            address: address.to_owned(),
            reason: io.to_string(),
        },
        _ => SystemdError::Connect {
            address: address.to_owned(),
            source: error,
        },
    }
}
