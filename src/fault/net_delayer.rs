//! The delay helper behind network-delay's user-space path
//! (`faultdrill helper delay --injection ID ...`): it creates the injection's
//! TUN device, reads every packet policy routing sends into it, holds each for
//! the delay (with jitter), and sends it back out through a raw socket whose
//! firewall mark the routing rule and the mark rule both skip.
//!
//! Order: packets of one flow (protocol, addresses, ports) leave in the order
//! they came. With jitter, each packet draws its own delay as netem does, but a
//! packet never leaves before an earlier one of its flow: a draw shorter than
//! its predecessor's waits for it. netem lets such packets overtake; we do not,
//! because a reordered TCP stream looks like loss to the receiver and measures
//! the stack's reordering handling instead of the latency asked for. Packets
//! farther apart than the jitter (a ping a second) see the full spread.
//!
//! At its deadline the helper removes its rules (the undo it was given), lets
//! the packets it holds go, and exits; its TUN device and the routes through it
//! vanish with it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tracing::debug;

use crate::platform::linux::tun::{RawSender, Tun, TunError};
use crate::platform::linux::{helpers, iproute, netns};

use super::undo::Undo;

/// The helper's command line; built by the fault and parsed by `faultdrill helper delay`.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct DelayArgs {
    /// The injection this helper belongs to (how rollback finds it).
    #[arg(long)]
    pub injection: String,
    /// Unix milliseconds at which the helper removes its rules and exits.
    #[arg(long)]
    pub deadline_ms: i64,
    /// Named network namespace to work in.
    #[arg(long)]
    pub netns: Option<String>,
    /// The TUN device to create.
    #[arg(long)]
    pub device: String,
    /// Its MTU: the shaped device's, so every packet fits when it is sent back out.
    #[arg(long)]
    pub mtu: u32,
    /// The firewall mark of the packets sent back out.
    #[arg(long)]
    pub bypass_mark: u32,
    #[arg(long, default_value_t = 0)]
    pub latency_us: u64,
    /// Uniform random variation of the delay, plus or minus.
    #[arg(long, default_value_t = 0)]
    pub jitter_us: u64,
    /// Percent: how much each jitter draw leans on the previous one.
    #[arg(long, default_value_t = 0.0)]
    pub correlation: f64,
    /// Percent of packets dropped.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Percent of packets with one bit flipped past the IP header.
    #[arg(long, default_value_t = 0.0)]
    pub corrupt: f64,
    /// Percent of packets sent twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate: f64,
    /// The undo (JSON) of the rules that feed the device, carried out at the deadline.
    #[arg(long)]
    pub at_deadline: String,
}

impl DelayArgs {
    /// The words after `faultdrill helper delay`.
    pub fn to_argv(&self) -> Vec<String> {
        let mut argv = vec!["--injection".to_string(), self.injection.clone()];
        argv.extend(["--deadline-ms".into(), self.deadline_ms.to_string()]);
        if let Some(ns) = &self.netns {
            argv.extend(["--netns".into(), ns.clone()]);
        }
        argv.extend(["--device".into(), self.device.clone(), "--mtu".into(), self.mtu.to_string()]);
        argv.extend(["--bypass-mark".into(), self.bypass_mark.to_string()]);
        argv.extend(["--latency-us".into(), self.latency_us.to_string()]);
        argv.extend(["--jitter-us".into(), self.jitter_us.to_string()]);
        for (name, value) in [
            ("--correlation", self.correlation),
            ("--loss", self.loss),
            ("--corrupt", self.corrupt),
            ("--duplicate", self.duplicate),
        ] {
            if value > 0.0 {
                argv.extend([name.into(), value.to_string()]);
            }
        }
        argv.extend(["--at-deadline".into(), self.at_deadline.clone()]);
        argv
    }
}

/// Why the delay helper could not run. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum DelayerError {
    #[error("enter the network namespace: {0}")]
    Netns(#[from] netns::NetnsError),
    #[error(transparent)]
    Tun(#[from] TunError),
    #[error("bring up the TUN device: {0}")]
    Link(#[from] iproute::IpError),
    #[error("read the undo to carry out at the deadline: {0}")]
    Undo(#[source] serde_json::Error),
}

/// One packet waiting for its time.
type Held = Reverse<(Instant, u64, Vec<u8>)>;

/// The packets held, earliest first, and a wake-up for the sender.
struct Queue {
    held: Mutex<BinaryHeap<Held>>,
    wake: Condvar,
}

/// Runs the helper until its deadline (the body of `faultdrill helper delay`).
pub fn run_delayer(args: DelayArgs) -> Result<(), DelayerError> {
    let at_deadline: Undo = serde_json::from_str(&args.at_deadline).map_err(DelayerError::Undo)?;
    let hold = Duration::from_micros(args.latency_us + args.jitter_us);
    // The alarm backstop leaves time to remove the rules and let held packets go.
    let Some(left) = helpers::become_helper(args.deadline_ms, Duration::from_secs(30) + hold) else {
        return Ok(());
    };
    let until = Instant::now() + left;
    // Held packets must leave on time even while cpu-burn loads every core
    // (netem runs in the kernel and has no such problem).
    helpers::prefer_cpu(-10);
    if let Some(name) = &args.netns {
        netns::enter(name)?;
    }
    let tun = Tun::create(&args.device)?;
    let link = ["link", "set", "dev", &args.device, "mtu", &args.mtu.to_string(), "up"];
    iproute::ip(None, &link.map(String::from))?;
    let sender = RawSender::open(args.bypass_mark)?;
    let queue = Arc::new(Queue { held: Mutex::new(BinaryHeap::new()), wake: Condvar::new() });
    let shaping = Shaping::from_args(&args);
    {
        let queue = Arc::clone(&queue);
        std::thread::Builder::new()
            .name("delay-send".into())
            .spawn(move || send_loop(&queue, &sender))
            .map_err(|e| TunError::Create { name: args.device.clone(), source: e })?;
    }
    {
        let queue = Arc::clone(&queue);
        std::thread::Builder::new()
            .name("delay-read".into())
            .spawn(move || read_loop(&tun, &queue, shaping))
            .map_err(|e| TunError::Create { name: args.device.clone(), source: e })?;
    }
    helpers::report_ready();
    std::thread::sleep(until.saturating_duration_since(Instant::now()));
    if let Err(e) = at_deadline.carry_out() {
        tracing::error!(injection = %args.injection, error = %e, "Removing the delay's rules at the deadline failed; `faultdrill recover` retries.");
    }
    // Nothing new is routed in now; what is held leaves on time.
    std::thread::sleep(hold + Duration::from_millis(20));
    Ok(())
}

/// What each packet suffers.
#[derive(Clone, Copy, Debug)]
struct Shaping {
    latency: Duration,
    jitter: Duration,
    /// 0..1
    correlation: f64,
    loss: f64,
    corrupt: f64,
    duplicate: f64,
}

impl Shaping {
    fn from_args(a: &DelayArgs) -> Shaping {
        let share = |p: f64| (p / 100.0).clamp(0.0, 1.0);
        Shaping {
            latency: Duration::from_micros(a.latency_us),
            jitter: Duration::from_micros(a.jitter_us),
            correlation: share(a.correlation),
            loss: share(a.loss),
            corrupt: share(a.corrupt),
            duplicate: share(a.duplicate),
        }
    }
}

/// Draws delays: latency plus a uniform share of ±jitter, each draw leaning on
/// the previous one by the correlation (netem's scheme).
struct Delays {
    shaping: Shaping,
    last: f64,
}

impl Delays {
    fn next(&mut self, rng: &mut impl Rng) -> Duration {
        if self.shaping.jitter.is_zero() {
            return self.shaping.latency;
        }
        let fresh: f64 = rng.random_range(-1.0..=1.0);
        let c = self.shaping.correlation;
        self.last = fresh * (1.0 - c) + self.last * c;
        let offset = self.shaping.jitter.as_secs_f64() * self.last;
        Duration::from_secs_f64((self.shaping.latency.as_secs_f64() + offset).max(0.0))
    }
}

/// The flow a packet belongs to: protocol, addresses and (TCP/UDP) ports.
fn flow_of(packet: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let proto = packet[9];
            (proto, &packet[12..20]).hash(&mut h);
            let first_fragment = u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff == 0;
            if matches!(proto, 6 | 17) && first_fragment && packet.len() >= ihl + 4 {
                packet[ihl..ihl + 4].hash(&mut h);
            }
        }
        Some(6) if packet.len() >= 40 => {
            let next = packet[6];
            (next, &packet[8..40]).hash(&mut h);
            if matches!(next, 6 | 17) && packet.len() >= 44 {
                packet[40..44].hash(&mut h);
            }
        }
        _ => packet.len().hash(&mut h),
    }
    h.finish()
}

/// Whether a packet is one policy routing could have sent here: unicast, not
/// link-local. Anything else read from the device is the kernel's own chatter
/// on it (IPv6 router solicitations, MLD reports), which must not be sent out
/// on another link.
fn is_routed_unicast(packet: &[u8]) -> bool {
    match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => {
            let dst = std::net::Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
            !(dst.is_multicast() || dst.is_broadcast() || dst.is_link_local())
        }
        Some(6) if packet.len() >= 40 => {
            let dst: [u8; 16] = packet[24..40].try_into().unwrap_or([0xff; 16]);
            let dst = std::net::Ipv6Addr::from(dst);
            !(dst.is_multicast() || dst.is_unicast_link_local())
        }
        _ => false,
    }
}

/// The length of the IP header, where corruption must not land (the packet must still be routable).
fn ip_header_len(packet: &[u8]) -> usize {
    match packet.first().map(|b| b >> 4) {
        Some(4) => usize::from(packet[0] & 0x0f) * 4,
        _ => 40,
    }
}

fn read_loop(tun: &Tun, queue: &Queue, shaping: Shaping) {
    let mut rng = rand::rng();
    let mut delays = Delays { shaping, last: 0.0 };
    // The last release time of each flow: a packet never leaves before its flow's previous one.
    let mut flows: HashMap<u64, Instant> = HashMap::new();
    let mut seq = 0_u64;
    let mut buf = vec![0_u8; 65_536];
    loop {
        let n = match tun.read_packet(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                debug!(error = %e, "TUN read failed; the device is gone.");
                return;
            }
        };
        let arrived = Instant::now();
        if !is_routed_unicast(&buf[..n]) {
            continue;
        }
        if shaping.loss > 0.0 && rng.random::<f64>() < shaping.loss {
            continue;
        }
        let mut packet = buf[..n].to_vec();
        if shaping.corrupt > 0.0 && rng.random::<f64>() < shaping.corrupt {
            let from = ip_header_len(&packet);
            if packet.len() > from {
                let at = rng.random_range(from..packet.len());
                packet[at] ^= 1 << rng.random_range(0..8);
            }
        }
        let flow = flow_of(&packet);
        let mut release = arrived + delays.next(&mut rng);
        if let Some(&previous) = flows.get(&flow) {
            release = release.max(previous);
        }
        flows.insert(flow, release);
        if flows.len() > 4096 {
            flows.retain(|_, r| *r > arrived);
        }
        let twice = shaping.duplicate > 0.0 && rng.random::<f64>() < shaping.duplicate;
        let mut held = queue.held.lock().expect("queue lock");
        if twice {
            held.push(Reverse((release, seq, packet.clone())));
            seq += 1;
        }
        held.push(Reverse((release, seq, packet)));
        seq += 1;
        drop(held);
        queue.wake.notify_one();
    }
}

fn send_loop(queue: &Queue, sender: &RawSender) {
    let mut held = queue.held.lock().expect("queue lock");
    loop {
        let now = Instant::now();
        match held.peek() {
            None => held = queue.wake.wait(held).expect("queue lock"),
            Some(Reverse((release, _, _))) if *release > now => {
                let wait = *release - now;
                held = queue.wake.wait_timeout(held, wait).expect("queue lock").0;
            }
            Some(_) => {
                let Some(Reverse((_, _, packet))) = held.pop() else { continue };
                drop(held);
                if let Err(e) = sender.send(&packet) {
                    debug!(error = %e, len = packet.len(), "Sending a held packet failed.");
                }
                held = queue.held.lock().expect("queue lock");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaping(latency_ms: u64, jitter_ms: u64, correlation: f64) -> Shaping {
        Shaping {
            latency: Duration::from_millis(latency_ms),
            jitter: Duration::from_millis(jitter_ms),
            correlation,
            loss: 0.0,
            corrupt: 0.0,
            duplicate: 0.0,
        }
    }

    #[test]
    fn delays_stay_within_the_jitter_and_spread_over_it() {
        let mut rng = rand::rng();
        let mut d = Delays { shaping: shaping(100, 20, 0.0), last: 0.0 };
        let draws: Vec<f64> = (0..5000).map(|_| d.next(&mut rng).as_secs_f64() * 1000.0).collect();
        assert!(draws.iter().all(|ms| (80.0..=120.0).contains(ms)));
        assert!(draws.iter().any(|ms| *ms < 85.0) && draws.iter().any(|ms| *ms > 115.0));
        let mut fixed = Delays { shaping: shaping(10, 0, 0.0), last: 0.0 };
        assert_eq!(fixed.next(&mut rng), Duration::from_millis(10));
    }

    #[test]
    fn correlation_makes_successive_draws_close() {
        let mut rng = rand::rng();
        let mut step = |c: f64| {
            let mut d = Delays { shaping: shaping(100, 20, c), last: 0.0 };
            let draws: Vec<f64> = (0..2000).map(|_| d.next(&mut rng).as_secs_f64()).collect();
            draws.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / 1999.0
        };
        let (tight, loose) = (step(0.9), step(0.0));
        assert!(tight < loose / 3.0, "{tight} vs {loose}");
    }

    #[test]
    fn flows_are_told_apart_by_ports() {
        let mut a = vec![0x45_u8, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        a.extend([0x1f, 0x90, 0x00, 0x50]);
        let mut b = a.clone();
        b[21] = 0x91;
        assert_ne!(flow_of(&a), flow_of(&b));
        assert_eq!(flow_of(&a), flow_of(&a.clone()));
        assert_eq!(ip_header_len(&a), 20);
        assert!(is_routed_unicast(&a));
        let mut multicast = a.clone();
        multicast[16] = 224;
        assert!(!is_routed_unicast(&multicast));
        let mut solicitation = vec![0x60_u8; 40];
        solicitation[24..40].copy_from_slice(&"ff02::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
        assert!(!is_routed_unicast(&solicitation));
        solicitation[24..40].copy_from_slice(&"fd77::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
        assert!(is_routed_unicast(&solicitation));
        assert!(!is_routed_unicast(&[0x45, 0]));
    }

    #[test]
    fn argv_round_trips_through_clap() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: DelayArgs,
        }
        use clap::Parser;
        let args = DelayArgs {
            injection: "i-1".into(),
            deadline_ms: 5,
            netns: Some("ns".into()),
            device: "fdly1".into(),
            mtu: 1500,
            bypass_mark: 7,
            latency_us: 100_000,
            jitter_us: 10,
            correlation: 25.0,
            loss: 1.5,
            corrupt: 0.0,
            duplicate: 0.0,
            at_deadline: "{\"kind\":\"nothing\"}".into(),
        };
        let mut argv = vec!["x".to_string()];
        argv.extend(args.to_argv());
        assert_eq!(Cli::parse_from(argv).args, args);
    }
}
