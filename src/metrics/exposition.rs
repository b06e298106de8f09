//! The text a scrape of `/metrics` reads, written one metric family at a time.
//! `Registry::gather` builds every series of every family as protobuf structs before
//! the first byte is written (a `String` per label name and value): at 1,000 tenants
//! about 60,000 series, tens of MB on every scrape. Here only one family's series are
//! built at a time, and the text is the same: families by name, each family's series
//! by their label values, empty families left out (as `gather` does).

use prometheus::core::Collector;
use prometheus::proto::Metric;
use prometheus::{Encoder, Registry, TextEncoder};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// The registry, which refuses a clashing or malformed definition, and the same
/// collectors in a list a scrape walks family by family.
#[derive(Default)]
pub(crate) struct Exposition {
    registry: Registry,
    /// Each collector with the name of its one family, kept sorted by that name.
    collectors: Mutex<Vec<(String, Box<dyn Collector>)>>,
    /// The length of the last text, to reserve the next one's buffer at once
    /// rather than doubling it (and copying it) on the way.
    last_len: AtomicUsize,
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Exposition")
            .field("last_len", &self.last_len)
            .finish_non_exhaustive()
    }
}

impl Exposition {
    /// Registers `collector`, a collector of one family (every [`super::Registrar`]
    /// makes such): the registry checks it, the list keeps it for scrapes.
    pub(crate) fn register<T: Collector + Clone + 'static>(
        &self,
        collector: &T,
    ) -> Result<(), prometheus::Error> {
        let name = match collector.desc().as_slice() {
            [desc] => desc.fq_name.clone(),
            descs => {
                return Err(prometheus::Error::Msg(format!(
                    "a collector of {} families; the exposition takes one family each",
                    descs.len()
                )));
            }
        };
        self.registry.register(Box::new(collector.clone()))?;
        let mut collectors = self
            .collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let at = collectors.partition_point(|(other, _)| *other < name);
        collectors.insert(at, (name, Box::new(collector.clone())));
        Ok(())
    }

    /// The Prometheus text exposition of every family.
    pub(crate) fn encode(&self) -> String {
        let reserve = self.last_len.load(Ordering::Relaxed);
        let mut buffer = Vec::with_capacity(reserve + reserve / 16);
        let collectors = self
            .collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, collector) in collectors.iter() {
            for mut family in collector.collect() {
                if family.get_metric().is_empty() {
                    continue;
                }
                family.mut_metric().sort_by(by_label_values);
                if let Err(error) = TextEncoder::new().encode(&[family], &mut buffer) {
                    tracing::error!(%error, "encoding metrics failed");
                }
            }
        }
        drop(collectors);
        self.last_len.store(buffer.len(), Ordering::Relaxed);
        String::from_utf8(buffer).unwrap_or_default()
    }

    /// What `Registry::gather` gives, for the tests that compare the two.
    #[cfg(test)]
    pub(crate) fn gathered(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("a registry encodes");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

/// The order `Registry::gather` gives a family's series: by their label values in
/// turn (each series of a family has the same label names, in the same order).
fn by_label_values(one: &Metric, other: &Metric) -> std::cmp::Ordering {
    let (left, right) = (one.get_label(), other.get_label());
    if left.len() != right.len() {
        return left.len().cmp(&right.len());
    }
    left.iter()
        .zip(right)
        .map(|(a, b)| a.value().cmp(b.value()))
        .find(|order| order.is_ne())
        .unwrap_or_else(|| one.timestamp_ms().cmp(&other.timestamp_ms()))
}

#[cfg(test)]
mod tests {
    use super::super::{Metrics, SourceCadence, SourceId};
    use crate::facts::CallFacts;
    use crate::model::{LogKind, Row};
    use std::time::Duration;

    const CADENCE: SourceCadence = SourceCadence {
        poll_interval: Duration::from_secs(60),
        real_poll_interval: Duration::from_secs(60),
    };

    /// Calls of several types, currencies and destinations, so that each family has
    /// series whose hash order is not their label order.
    fn calls(tenant: usize) -> Vec<CallFacts> {
        let rows: Vec<String> = (0..12)
            .map(|index| {
                let call_type = ["user_out", "user_in", "emergency", "conf_out"][index % 4];
                let currency = ["EUR", "USD", "GBP"][(index + tenant) % 3];
                let context = ["International", "Domestic"][index % 2];
                format!(
                    r#"{{"id":"{index}","startDateTime":"2024-05-01T00:00:00Z","endDateTime":"2024-05-01T00:00:{index:02}Z","duration":{index},"callType":"{call_type}","currency":"{currency}","charge":0.{index},"destinationContext":"{context}"}}"#
                )
            })
            .collect();
        rows.iter()
            .map(|raw| CallFacts::of(&Row::parse(raw).unwrap(), LogKind::Pstn))
            .collect()
    }

    #[test]
    fn a_scrape_reads_exactly_as_the_registry_gathers_it() {
        let metrics = Metrics::new().unwrap();
        for (index, tenant) in ["d.example", "a.example", "c.example", "b.example"]
            .into_iter()
            .enumerate()
        {
            for (name, kind) in [("zeta", LogKind::Pstn), ("alpha", LogKind::DirectRouting)] {
                let id = SourceId {
                    name,
                    tenant,
                    one_of_many: index % 2 == 0,
                };
                metrics.source(id, kind, CADENCE);
                metrics.calls.record(id, kind, &calls(index), &[]);
            }
        }
        // Registered last, named between the others: it still reads in name order.
        metrics.leases().unwrap();
        let scraped = metrics.encode();
        let samples = scraped.lines().filter(|line| !line.starts_with('#'));
        assert!(samples.count() > 300, "{scraped}");
        assert_eq!(scraped, metrics.exposition.gathered());
    }
}
