//! The trace generator: an iterator of [`TraceCall`]s in arrival order, one day of 5-minute
//! bins in memory at a time.

use super::profile::DayModel;
use super::rng::Rng;
use super::routing::SiteModel;
use super::{Bin, GenConfig, GenError, Patience, day_bins, day_number};
use crate::error::SimError;
use crate::timefmt::TimeFormatter;
use crate::trace::{TraceCall, TraceWriter};
use std::io;
use vaxel_core::Timestamp;
use vaxel_core::route::{OpenCache, Start};
use vaxel_core::site::{Site, Target};

/// Durations are written to a tenth of a second.
fn tenth_ms(s: f64) -> u64 {
    let ms = (s.max(0.0) * 10.0).round() * 100.0;
    if ms.is_finite() && ms < 1e15 {
        ms as u64
    } else {
        0
    }
}

/// Generates the calls of a site, day by day (see the [module docs](super)).
#[derive(Debug)]
pub struct TraceGenerator<'a> {
    site: &'a Site,
    cfg: GenConfig,
    model: SiteModel,
    days: DayModel,
    open: OpenCache,
    rng: Rng,
    fmt: TimeFormatter,
    /// The day being generated and the first day past the end.
    day: i64,
    end_day: i64,
    bins: Vec<Bin>,
    bin: usize,
    /// Current time in ms (fractional), within `bins[bin]`.
    t: f64,
    /// Entry weights for the current bin (cumulative), and which entries are open.
    entry_cum: Vec<f64>,
    entry_open: Vec<bool>,
    seq: u64,
}

impl<'a> TraceGenerator<'a> {
    pub fn new(site: &'a Site, cfg: GenConfig) -> Result<TraceGenerator<'a>, GenError> {
        cfg.validate()?;
        if site.entries.is_empty() {
            return Err(GenError::NoEntries);
        }
        let first = day_number(cfg.start);
        let surge: Vec<(i64, f64)> = cfg.surge.iter().map(|&(d, f)| (day_number(d), f)).collect();
        let days = DayModel::new(cfg.calls_per_year, first, i64::from(cfg.days), &surge);
        Ok(TraceGenerator {
            site,
            model: SiteModel::new(site, &cfg),
            days,
            open: OpenCache::new(site),
            rng: Rng::derived(cfg.seed, 0x7ACE),
            fmt: TimeFormatter::new(site.timezone.clone()),
            day: first - 1,
            end_day: first + i64::from(cfg.days),
            bins: Vec::new(),
            bin: 0,
            t: 0.0,
            entry_cum: vec![0.0; site.entries.len()],
            entry_open: vec![false; site.entries.len()],
            seq: 0,
            cfg,
        })
    }

    /// The choice model (entry weights, group talk times …), for tests and the roster.
    #[must_use]
    pub fn model(&self) -> &SiteModel {
        &self.model
    }

    /// Writes every remaining call; returns how many.
    pub fn write_all<W: io::Write>(&mut self, out: &mut TraceWriter<W>) -> Result<u64, SimError> {
        let mut n = 0;
        for call in self.by_ref() {
            out.write(&call)?;
            n += 1;
        }
        out.flush()?;
        Ok(n)
    }

    /// Moves to bin `i` of the current day: its start time and entry weights.
    fn enter_bin(&mut self, i: usize) {
        self.bin = i;
        let Some(b) = self.bins.get(i) else { return };
        self.t = b.start_ms as f64;
        let at = Timestamp(b.start_ms);
        let mut acc = 0.0;
        for e in 0..self.site.entries.len() {
            let open = self.open.open(self.site, e, at);
            self.entry_open[e] = open;
            let w = self.model.entry_weight[e] * if open { 1.0 } else { self.cfg.closed_share };
            acc += w;
            self.entry_cum[e] = acc;
        }
    }

    fn make_call(&mut self, arrival: Timestamp) -> TraceCall {
        let rng = &mut self.rng;
        let e = rng.pick_cumulative(&self.entry_cum).unwrap_or(0);
        let entry = &self.site.entries[e];
        let route = match entry.start(self.entry_open[e]) {
            Start::Route { target, .. } => Some(target),
            Start::Closed { .. } => None,
        };
        let walk = match route {
            Some(r) => self.model.walk(r, rng),
            None => self.model.walk(&Target::Callback, rng),
        };
        let group = walk.group.map(|g| &self.model.groups[g.ix()]);
        let (talk_mean, sigma) = group.map_or((240.0, 0.6), |g| (g.talk_mean_s, g.talk_sigma));
        let talk_ms = tenth_ms(rng.lognormal(talk_mean, sigma)).max(1000);
        let wrapup_ms = if rng.chance(self.cfg.explicit_wrapup_share) {
            let default = group.map_or(30.0, |g| g.wrapup_s).max(5.0);
            Some(tenth_ms(rng.lognormal(default, 0.5)))
        } else {
            None
        };
        let patience_ms = if rng.chance(self.cfg.never_hang_up_share) {
            None
        } else {
            Some(tenth_ms(match self.cfg.patience {
                Patience::Exponential { mean_s } => rng.exp(mean_s),
                Patience::Weibull { scale_s, shape } => rng.weibull(scale_s, shape),
            }))
        };
        let (case_type, resolved) = match walk.group {
            Some(g) => (
                self.model.case_type(g, rng).map(str::to_owned),
                Some(rng.chance(self.model.groups[g.ix()].resolved_share)),
            ),
            None => (None, None),
        };
        let accept_callback = rng.chance(self.cfg.accept_callback_share);
        // A pool of 400 000 callers, so some call again.
        let caller = rng.below(400_000);
        const PREFIX: [&str; 5] = ["+4670", "+4672", "+4673", "+4676", "+468"];
        let from = format!(
            "{}{:07}",
            PREFIX[(caller % 5) as usize],
            caller.wrapping_mul(7_919) % 10_000_000
        );
        self.seq += 1;
        TraceCall {
            call_id: format!("c{:07}", self.seq),
            arrival,
            to: entry.number.to_string(),
            from,
            digits: walk.digits,
            patience_ms,
            talk_ms,
            wrapup_ms,
            case_type,
            resolved,
            accept_callback,
        }
    }
}

impl Iterator for TraceGenerator<'_> {
    type Item = TraceCall;

    fn next(&mut self) -> Option<TraceCall> {
        loop {
            if self.bin >= self.bins.len() {
                self.day += 1;
                if self.day >= self.end_day {
                    return None;
                }
                self.bins = day_bins(self.day, &self.days, &self.site.timezone, &mut self.fmt);
                self.enter_bin(0);
                continue;
            }
            let b = self.bins[self.bin];
            let rate = b.calls / (b.end_ms - b.start_ms).max(1) as f64;
            if rate > 0.0 {
                self.t += self.rng.exp(1.0 / rate);
                if self.t < b.end_ms as f64 {
                    let at = Timestamp(self.t as u64);
                    return Some(self.make_call(at));
                }
            }
            self.enter_bin(self.bin + 1);
        }
    }
}
