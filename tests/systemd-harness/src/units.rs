//! Test units, and the standard set that stands in for a GPU node's container stack.

use std::path::Path;

/// A running containerd stand-in.
pub const CONTAINERD: &str = "containerd.service";
/// An installed docker stand-in that is never started (so systemd does not keep it loaded).
pub const DOCKER: &str = "docker.service";
/// Not installed.
pub const KUBELET: &str = "kubelet.service";
/// A unit whose program fails.
pub const BROKEN: &str = "broken.service";
/// The `LimitNOFILE` of the containerd stand-in.
pub const CONTAINERD_NOFILE: u64 = 1_048_576;

/// A unit file to install.
#[derive(Debug, Clone)]
pub struct TestUnit {
    /// The unit name, e.g. `containerd.service`.
    pub name: String,
    /// The unit file's contents.
    pub contents: String,
    /// `Some(state)`: start the unit and wait until its `ActiveState` is `state`; `None`: only
    /// install it.
    pub expected_state: Option<&'static str>,
}

/// containerd running (a long sleep with `LimitNOFILE=1048576`), docker installed but never
/// started, and a unit that failed. kubelet is not installed.
pub fn node_units() -> Vec<TestUnit> {
    let sleep = program("sleep");
    let fail = program("false");
    vec![
        TestUnit {
            name: CONTAINERD.into(),
            contents: format!(
                "[Unit]\n\
                 Description=containerd container runtime (eidos test double)\n\
                 Documentation=https://containerd.io\n\
                 After=basic.target\n\
                 \n\
                 [Service]\n\
                 ExecStart={sleep} infinity\n\
                 LimitNOFILE={CONTAINERD_NOFILE}\n\
                 Environment=EIDOS_HARNESS=1 SECOND=two\n\
                 \n\
                 [Install]\n\
                 WantedBy=default.target\n"
            ),
            expected_state: Some("active"),
        },
        TestUnit {
            name: DOCKER.into(),
            contents: format!(
                "[Unit]\n\
                 Description=Docker Application Container Engine (eidos test double)\n\
                 \n\
                 [Service]\n\
                 ExecStart={sleep} infinity\n\
                 \n\
                 [Install]\n\
                 WantedBy=default.target\n"
            ),
            expected_state: None,
        },
        TestUnit {
            name: BROKEN.into(),
            contents: format!(
                "[Unit]\n\
                 Description=a unit whose program fails (eidos test double)\n\
                 \n\
                 [Service]\n\
                 ExecStart={fail}\n"
            ),
            expected_state: Some("failed"),
        },
    ]
}

/// The absolute path of a coreutils program (`/usr/bin/NAME` on merged-/usr systems).
fn program(name: &str) -> String {
    ["/usr/bin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| Path::new("/bin").join(name))
        .display()
        .to_string()
}
