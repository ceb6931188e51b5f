//! When each steady-state probe is due during the running phase: every probe at its own
//! interval (its `interval`, else the steady state's), on one ticker at the greatest common
//! divisor of the intervals, never two samples of one probe in flight.

use std::time::Duration;

use tokio::time::Instant;

use crate::experiment::SteadyStatePlan;

/// The shortest tick, so odd intervals (`333ms` and `1s`) do not spin the loop.
const MIN_TICK: Duration = Duration::from_millis(10);

pub struct ProbeClock {
    every: Vec<Duration>,
    due: Vec<Instant>,
    in_flight: Vec<bool>,
}

impl ProbeClock {
    pub fn new(steady: &SteadyStatePlan) -> ProbeClock {
        let every: Vec<Duration> = steady.probes.iter().map(|p| p.interval.unwrap_or(steady.interval)).collect();
        let now = Instant::now();
        ProbeClock { due: vec![now; every.len()], in_flight: vec![false; every.len()], every }
    }

    /// The ticker period: the greatest common divisor of the intervals.
    pub fn tick(&self) -> Duration {
        let ms = self.every.iter().map(|d| d.as_millis().max(1) as u64).fold(0, gcd);
        Duration::from_millis(ms).max(MIN_TICK)
    }

    /// The probes due now (marked in flight, their next time set).
    pub fn take_due(&mut self) -> Vec<usize> {
        let now = Instant::now();
        // Half a tick of slack: a tick that fires a little early still counts.
        let slack = self.tick() / 2;
        let mut due = Vec::new();
        for i in 0..self.every.len() {
            if !self.in_flight[i] && self.due[i] <= now + slack {
                self.in_flight[i] = true;
                self.due[i] = now + self.every[i];
                due.push(i);
            }
        }
        due
    }

    /// Samples of `probes` came back (`None`: a sampling task failed; all may sample again).
    pub fn landed(&mut self, probes: Option<&[usize]>) {
        match probes {
            Some(probes) => probes.iter().for_each(|&i| self.in_flight[i] = false),
            None => self.in_flight.iter_mut().for_each(|f| *f = false),
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::gcd;

    #[test]
    fn the_tick_divides_every_interval() {
        assert_eq!([1000, 300].into_iter().fold(0, gcd), 100);
        assert_eq!([500].into_iter().fold(0, gcd), 500);
    }
}
