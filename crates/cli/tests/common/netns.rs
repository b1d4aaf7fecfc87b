//! A two-host network lab in Linux network namespaces, for tests that need
//! real packet loss, slow links, resets and partitions between two stations.
//!
//! Topology (N is an octet chosen per lab, free on the host, so several labs
//! and parallel runs do not collide; names carry the pid and a lab number):
//!
//! ```text
//!            host (the test process)
//!        10.213.N.5 |            | 10.213.N.9          "API" veth pairs: only the test's
//!        10.213.N.6 |            | 10.213.N.10          HTTP and CLI calls use them; no faults
//!      +------------+--+      +--+------------+
//!      |  namespace 0  |      |  namespace 1  |
//!      |   10.213.N.1 -+------+- 10.213.N.2   |       "link" veth pair: the path
//!      |  10.213.N.13 -+------+- 10.213.N.14  |       between the stations; faults go here
//!      +---------------+      +---------------+        (the second pair: another path)
//! ```
//!
//! The host can reach each namespace's API address over its API pair, but
//! nothing routes between the two API pairs (no default route inside the
//! namespaces), so the stations can only talk over the link pair. Faults are
//! iptables rules on `INPUT -i <link veth>` inside the namespaces and `tc`
//! qdiscs on the link veths; deleting the namespaces removes all of them.
//!
//! Every address used lies in 10.213.N.0/24 and exists only inside this lab.
//! Needs root, `ip` (iproute2), `iptables` and `tc`.

#![allow(dead_code)]

use std::process::Command;
use std::sync::Mutex;

const PREFIX: &str = "hlnf";

/// Runs a command; Err with its stderr when it fails.
pub fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let o = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Whether `program` can be run at all.
pub fn have(program: &str, version_flag: &str) -> bool {
    Command::new(program)
        .arg(version_flag)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Moves the calling thread (only) into the named network namespace. Sockets
/// the thread creates afterwards, and threads it spawns, live there.
pub fn enter(ns: &str) -> std::io::Result<()> {
    let f = std::fs::File::open(format!("/run/netns/{ns}"))?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
}

/// Two namespaces joined by a link veth pair, each with an API veth pair to
/// the host. Dropping it deletes everything it created.
pub struct Lab {
    /// Namespace names.
    pub ns: [String; 2],
    /// The link veth inside each namespace.
    pub link_if: [String; 2],
    /// The second link veth inside each namespace: another path between
    /// the stations (10.213.N.13 ↔ 10.213.N.14), for failover tests.
    pub link2_if: [String; 2],
    host_if: [String; 2],
    api_if: [String; 2],
    net: u8,
}

impl Lab {
    /// Builds the lab; Err when this machine or user cannot (not root, no iproute2).
    pub fn new() -> Result<Lab, String> {
        static BUILDING: Mutex<usize> = Mutex::new(0);
        let mut k = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
        if *k == 0 {
            sweep_stale();
        }
        *k += 1;
        let pid = std::process::id();
        // Names stay within the 15 characters Linux allows an interface.
        let n = |s: &str| format!("{PREFIX}{pid}k{}{s}", *k % 10);
        let taken = output("ip", &["-4", "-o", "addr"]);
        let mut net = (20 + (pid as usize * 7 + *k) % 200) as u8;
        while taken.contains(&format!("10.213.{net}.")) {
            net = net.wrapping_add(1).max(20);
        }
        let mut lab = Lab {
            ns: [n("a"), n("b")],
            link_if: [n("la"), n("lb")],
            link2_if: [n("ma"), n("mb")],
            host_if: [n("ha"), n("hb")],
            api_if: [n("na"), n("nb")],
            net,
        };
        if let Err(e) = lab.build() {
            lab.teardown();
            return Err(e);
        }
        Ok(lab)
    }

    fn build(&mut self) -> Result<(), String> {
        for ns in &self.ns {
            run("ip", &["netns", "add", ns])?;
            run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
        }
        let [l0, l1] = &self.link_if;
        run(
            "ip",
            &["link", "add", l0, "type", "veth", "peer", "name", l1],
        )?;
        let [m0, m1] = &self.link2_if;
        run(
            "ip",
            &["link", "add", m0, "type", "veth", "peer", "name", m1],
        )?;
        for i in 0..2 {
            let (ns, mif) = (&self.ns[i], &self.link2_if[i]);
            run("ip", &["link", "set", mif, "netns", ns])?;
            let addr = format!("{}/30", self.link2_ip(i));
            run("ip", &["-n", ns, "addr", "add", &addr, "dev", mif])?;
            run("ip", &["-n", ns, "link", "set", mif, "up"])?;
        }
        for i in 0..2 {
            let (ns, lif) = (&self.ns[i], &self.link_if[i]);
            run("ip", &["link", "set", lif, "netns", ns])?;
            run(
                "ip",
                &[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{}/30", self.link_ip(i)),
                    "dev",
                    lif,
                ],
            )?;
            run("ip", &["-n", ns, "link", "set", lif, "up"])?;
            let hif = &self.host_if[i];
            let nif = &self.api_if[i];
            run(
                "ip",
                &["link", "add", hif, "type", "veth", "peer", "name", nif],
            )?;
            run("ip", &["link", "set", nif, "netns", ns])?;
            run(
                "ip",
                &[
                    "addr",
                    "add",
                    &format!("{}/30", self.host_ip(i)),
                    "dev",
                    hif,
                ],
            )?;
            run("ip", &["link", "set", hif, "up"])?;
            run(
                "ip",
                &[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{}/30", self.api_ip(i)),
                    "dev",
                    nif,
                ],
            )?;
            run("ip", &["-n", ns, "link", "set", nif, "up"])?;
        }
        Ok(())
    }

    fn teardown(&mut self) {
        for ns in &self.ns {
            let _ = run("ip", &["netns", "del", ns]);
        }
        for hif in &self.host_if {
            let _ = run("ip", &["link", "del", hif]);
        }
    }

    /// Namespace `i`'s address on the link pair.
    pub fn link_ip(&self, i: usize) -> String {
        format!("10.213.{}.{}", self.net, 1 + i)
    }
    /// Namespace `i`'s address on the second link pair.
    pub fn link2_ip(&self, i: usize) -> String {
        format!("10.213.{}.{}", self.net, 13 + i)
    }
    /// Namespace `i`'s address on its API pair (reachable from the host).
    pub fn api_ip(&self, i: usize) -> String {
        format!("10.213.{}.{}", self.net, 6 + 4 * i)
    }
    fn host_ip(&self, i: usize) -> String {
        format!("10.213.{}.{}", self.net, 5 + 4 * i)
    }

    /// A command that runs `program` inside namespace `i` (`ip netns exec`
    /// execs it in place, so the child's pid is the program's).
    pub fn command(&self, i: usize, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns[i], program]);
        c
    }

    /// Adds (`on`) or deletes an iptables rule on packets arriving over the
    /// link in namespace `i`: `iptables -A INPUT -i <link veth> RULE…`.
    pub fn input_rule(&self, i: usize, on: bool, rule: &[&str]) -> Result<(), String> {
        self.rule_on(i, &self.link_if[i], on, rule)
    }

    /// An input rule on packets arriving over path `path` (0: the link
    /// pair, 1: the second) in both namespaces.
    pub fn path_rule(&self, path: usize, on: bool, rule: &[&str]) -> Result<(), String> {
        for i in 0..2 {
            let dev = [&self.link_if[i], &self.link2_if[i]][path];
            self.rule_on(i, dev, on, rule)?;
        }
        Ok(())
    }

    /// `iptables -A|-D INPUT -i DEV RULE…` in namespace `i`.
    fn rule_on(&self, i: usize, dev: &str, on: bool, rule: &[&str]) -> Result<(), String> {
        let mut args = vec![
            "netns",
            "exec",
            &self.ns[i],
            "iptables",
            if on { "-A" } else { "-D" },
            "INPUT",
            "-i",
            dev,
        ];
        args.extend_from_slice(rule);
        run("ip", &args)
    }

    /// The same input rule in both namespaces.
    pub fn both_input_rule(&self, on: bool, rule: &[&str]) -> Result<(), String> {
        self.input_rule(0, on, rule)?;
        self.input_rule(1, on, rule)
    }

    /// Adds or deletes a root qdisc on both ends of the link, e.g.
    /// `["tbf", "rate", "256kbit", "burst", "32kbit", "latency", "400ms"]`.
    pub fn link_qdisc(&self, on: bool, qdisc: &[&str]) -> Result<(), String> {
        for i in 0..2 {
            let mut args = vec![
                "-n",
                &self.ns[i],
                "qdisc",
                if on { "add" } else { "del" },
                "dev",
                &self.link_if[i],
                "root",
            ];
            if on {
                args.extend_from_slice(qdisc);
            }
            run("tc", &args)?;
        }
        Ok(())
    }
}

impl Lab {
    /// Packets dropped so far in namespace `i` by INPUT rules whose listing
    /// contains `needle` (e.g. "statistic").
    pub fn input_packets(&self, i: usize, needle: &str) -> u64 {
        output(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns[i],
                "iptables",
                "-L",
                "INPUT",
                "-v",
                "-x",
                "-n",
            ],
        )
        .lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
    }

    /// `overlimits` of the root qdisc on namespace `i`'s link veth.
    pub fn qdisc_overlimits(&self, i: usize) -> u64 {
        let text = output(
            "tc",
            &[
                "-n",
                &self.ns[i],
                "-s",
                "qdisc",
                "show",
                "dev",
                &self.link_if[i],
            ],
        );
        let words: Vec<&str> = text.split_whitespace().collect();
        words
            .windows(2)
            .find(|w| w[0] == "overlimits")
            .and_then(|w| w[1].parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Deletes namespaces and host veths left by lab processes that no longer
/// run, and the processes still running inside those namespaces (a test
/// killed with SIGKILL cannot clean up after itself).
fn sweep_stale() {
    let dead = |name: &str| -> bool {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            return false;
        };
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        !digits.is_empty()
            && digits != std::process::id().to_string()
            && !std::path::Path::new(&format!("/proc/{digits}")).exists()
    };
    for line in output("ip", &["netns", "list"]).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if dead(name) {
            // Stations a killed test left running in its namespace.
            for pid in output("ip", &["netns", "pids", name]).split_whitespace() {
                let _ = run("kill", &["-9", pid]);
            }
            let _ = run("ip", &["netns", "del", name]);
        }
    }
    for line in output("ip", &["-o", "link"]).lines() {
        let name = line
            .split(':')
            .nth(1)
            .unwrap_or("")
            .trim()
            .split('@')
            .next()
            .unwrap_or("");
        if dead(name) {
            let _ = run("ip", &["link", "del", name]);
        }
    }
}
