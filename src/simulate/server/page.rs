//! Pages of rows: up to `page_size` per answer, `@odata.nextLink` with `$skip` for the
//! rest, each row rendered by the generator.

use super::Simulator;
use super::call::Call;
use super::respond::{AfterHalf, half_response, json};
use crate::http_server::Body;
use crate::simulate::Generator;
use crate::simulate::faults::Countdown;
use crate::time::Timestamp;
use hyper::{Response, StatusCode};

impl Simulator {
    /// One page of the call's rows as the clock stands, with `@odata.nextLink` when more
    /// follow; `stall_next`/`truncate_next` cut its body half way.
    pub(super) fn page(
        &self,
        generator: &Generator,
        call: &Call,
        from: Timestamp,
        to: Timestamp,
    ) -> Response<Body> {
        let now = self.clock.now();
        let page_size = self.options.page_size.max(1);
        let (rows, count, more) = if call.kind.is_report() {
            // A report sums the range as it stands now; its rows are paged like a log's.
            let all = generator.dialout_report(from, to, call.kind.to_is_inclusive(), now);
            let more = all.len() > call.skip.saturating_add(page_size);
            let page: Vec<String> = all.into_iter().skip(call.skip).take(page_size).collect();
            (page.join(","), page.len(), more)
        } else {
            let mut calls = generator
                .visible_calls(call.kind, from, to, call.kind.to_is_inclusive(), now)
                .skip(call.skip);
            let page: Vec<_> = calls.by_ref().take(page_size).collect();
            let more = calls.next().is_some();
            let mut rows = String::with_capacity(page.len() * 900);
            for (index, row) in page.iter().enumerate() {
                if index > 0 {
                    rows.push(',');
                }
                generator.write_row(call.kind, call.version, row, &mut rows);
            }
            (rows, page.len(), more)
        };
        let mut body = String::with_capacity(rows.len() + 512);
        let row_type = call.kind.row_type();
        body.push_str(&format!(
            "{{\"@odata.context\":\"{}/{}/$metadata#Collection(microsoft.graph.callRecords.{row_type})\",\"@odata.count\":{}",
            self.public_url,
            call.version.as_str(),
            count
        ));
        if more {
            body.push_str(&format!(
                ",\"@odata.nextLink\":\"{}/{}/communications/callRecords/{}(from={},to={})?$skip={}\"",
                self.public_url,
                call.version.as_str(),
                call.kind.function(),
                call.from_text,
                call.to_text,
                call.skip + count
            ));
        }
        body.push_str(",\"value\":[");
        body.push_str(&rows);
        body.push_str("]}");
        self.stats.note_page(count);
        if self.faults.take(Countdown::Stall) {
            return half_response(body, AfterHalf::Stall);
        }
        if self.faults.take(Countdown::Truncation) {
            return half_response(body, AfterHalf::Reset);
        }
        json(StatusCode::OK, body)
    }
}
