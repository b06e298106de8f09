//! Realistic rows: call types in believable proportions, long-tailed durations,
//! charges by destination in several currencies, unicode names, Graph's nulls.

use super::call_core::CallCore;
use super::fields::{COUNTRIES, USERS, country, guid, money, number, optional, quoted};
use super::random::CallRandom;
use crate::model::ApiVersion;
use crate::time::Timestamp;
use std::fmt::Write;
use std::time::Duration;

fn end_of(call: &CallCore) -> Timestamp {
    call.start
        .saturating_add(Duration::from_secs(call.duration_seconds as u64))
}

pub(super) fn pstn(
    call: &CallCore,
    version: ApiVersion,
    random: &mut CallRandom,
    out: &mut String,
) {
    let call_type = *random.weighted(&[
        ("user_in", 38),
        ("user_out", 30),
        ("user_out_conf", 3),
        ("user_out_transfer", 3),
        ("user_out_forwarding", 3),
        ("conf_in", 10),
        ("conf_out", 4),
        ("ucap_in", 5),
        ("ucap_out", 3),
        ("ByotIn", 1),
    ]);
    // The type drawn decides the draws below, as it did before Operator Connect rows.
    let drawn = call_type;
    let (call_type, operator) = super::operator_connect::operator_connect(drawn, random);
    let operator_connect = operator.is_some();
    let user = &USERS[random.below(USERS.len())];
    let home = country(user.country);
    let bot = call_type.starts_with("ucap");
    let outbound = call_type.contains("out");
    let international = outbound && random.unit() < 0.22;
    let other = if international {
        COUNTRIES[random.below(COUNTRIES.len())]
    } else {
        *home
    };
    let minutes = (call.duration_seconds as f64 / 60.0).ceil();
    let charge = if international && !operator_connect {
        other.4 * minutes * if other.0 == home.0 { 0.0 } else { 1.0 }
    } else {
        0.0
    };
    let connection_charge = if international && random.unit() < 0.3 && !operator_connect {
        0.05
    } else {
        0.0
    };
    let as_string = random.unit() < 0.03;
    let license = if call_type.starts_with("conf") {
        *random.weighted(&[("MCOMEETADD", 3), ("MCOMEETACPEA", 1)])
    } else {
        *random.weighted(&[
            ("MCOPSTN1", 5),
            ("MCOPSTN2", 2),
            ("MCOPSTNU", 2),
            ("MCOPSTNPP", 1),
            ("MCOPSTN5", 1),
            ("MCOPSTN6", 1),
        ])
    };
    let (caller, callee) = if outbound {
        (number(random, home.0), number(random, other.0))
    } else {
        let from = COUNTRIES[random.below(COUNTRIES.len())];
        (number(random, from.0), number(random, home.0))
    };
    let id = guid(random);
    let user_id = (!bot).then(|| super::directory::row_user_id(random));
    let _ = write!(
        out,
        "{{\"id\":\"{id}\",\"callId\":\"{}_{}@10.{}.{}.{}\",\"userId\":{},\"userPrincipalName\":{},\"userDisplayName\":{},\
\"startDateTime\":\"{}\",\"endDateTime\":\"{}\",\"duration\":{},\"charge\":{},\"callType\":\"{call_type}\",\"currency\":\"{}\",\
\"calleeNumber\":\"{callee}\",\"usageCountryCode\":\"{}\",\"tenantCountryCode\":\"US\",\"connectionCharge\":{},\"callerNumber\":\"{caller}\",\
\"destinationContext\":{},\"destinationName\":\"{}\",\"conferenceId\":{},\"licenseCapability\":\"{license}\",\"inventoryType\":\"{}\",\
\"operator\":\"{}\",\"callDurationSource\":\"{}\"",
        random.next_u64() % 10_000_000_000,
        random.next_u64() % 1_000_000_000,
        random.below(255),
        random.below(255),
        random.below(255),
        optional(user_id),
        optional((!bot).then(|| format!("{}@contoso.com", user.upn))),
        optional((!bot).then(|| user.name.to_owned())),
        call.start,
        end_of(call),
        call.duration_seconds,
        money(charge, home.2, as_string),
        home.2,
        home.0,
        money(connection_charge, home.2, false),
        if !outbound {
            "null".to_owned()
        } else if international {
            "\"International\"".into()
        } else {
            "\"Domestic\"".into()
        },
        other.3,
        if call_type.starts_with("conf") {
            quoted(&format!("{}", random.next_u64() % 100_000_000))
        } else {
            "null".into()
        },
        if drawn == "user_in" && random.unit() < 0.1 {
            "Toll-free"
        } else {
            "Subscriber"
        },
        operator.unwrap_or("Microsoft"),
        if operator_connect {
            "operator"
        } else {
            "microsoft"
        },
    );
    if version == ApiVersion::Beta {
        let _ = write!(
            out,
            ",\"otherPartyCountryCode\":\"{}\",\"clientPublicIpV4Address\":\"203.0.113.{}\",\"clientPublicIpV6Address\":\"2001:db8::{:x}\",\"clientLocalIpV4Address\":\"192.168.1.{}\",\"clientLocalIpV6Address\":\"fe80::{:x}\",\"administrativeUnitInfos\":[{{\"id\":\"{}\"}}]",
            other.0.to_lowercase(),
            random.below(255),
            random.below(0xFFFF),
            random.below(255),
            random.below(0xFFFF),
            guid(random)
        );
    }
    out.push('}');
}

pub(super) fn direct_routing(call: &CallCore, random: &mut CallRandom, out: &mut String) {
    let call_type = *random.weighted(&[
        ("dr_in", 50),
        ("dr_out", 35),
        ("dr_out_user_conf", 3),
        ("dr_out_user_forwarding", 4),
        ("dr_out_user_transfer", 3),
        ("dr_emergency_out", 1),
        ("dr_in_ucap", 3),
        ("dr_out_ucap", 1),
    ]);
    let user = &USERS[random.below(USERS.len())];
    let home = country(user.country);
    let bot = call_type.ends_with("ucap");
    let successful = call.duration_seconds > 0;
    let (code, phrase, sub_reason) = if successful {
        (0, "BYE", 540_000)
    } else {
        *random.weighted(&[
            ((404, "Not Found", 404_000), 2),
            ((408, "Request Timeout", 10_408), 1),
            ((480, "Temporarily Unavailable", 560_480), 3),
            ((486, "Busy Here", 0), 3),
            ((487, "Request Terminated", 487), 4),
            ((500, "Server Internal Error", 500_000), 1),
            ((503, "Service Unavailable", 560_503), 1),
            ((603, "Decline", 540_603), 2),
        ])
    };
    let invite = Timestamp::from_ticks(
        call.start.ticks() - (random.unit() * 3.0 * Timestamp::TICKS_PER_SECOND as f64) as i64,
    );
    let failure = if successful {
        "\"0001-01-01T00:00:00Z\"".to_owned()
    } else {
        format!(
            "\"{}\"",
            call.start
                .saturating_add(Duration::from_secs(1 + random.below(30) as u64))
        )
    };
    let end = if successful {
        format!("\"{}\"", end_of(call))
    } else {
        "null".to_owned()
    };
    let inbound = call_type.starts_with("dr_in");
    let caller = if inbound && random.unit() < 0.05 {
        "anonymous".to_owned()
    } else {
        number(random, home.0)
    };
    let callee_country = COUNTRIES[random.below(COUNTRIES.len())].0;
    let callee = number(random, callee_country);
    let locations = ["USWE", "USEA", "EUNO", "EUWE", "APSE"];
    let id = guid(random);
    let correlation = guid(random);
    let user_id = (!bot).then(|| super::directory::row_user_id(random));
    let _ = write!(
        out,
        "{{\"id\":\"{id}\",\"correlationId\":\"{correlation}\",\"userId\":{},\"userPrincipalName\":{},\"userDisplayName\":{},\
\"startDateTime\":\"{}\",\"inviteDateTime\":\"{invite}\",\"failureDateTime\":{failure},\"endDateTime\":{end},\"duration\":{},\
\"callType\":\"{call_type}\",\"successfulCall\":{successful},\"callerNumber\":\"{caller}\",\"calleeNumber\":\"{callee}\",\
\"mediaPathLocation\":\"{}\",\"signalingLocation\":\"{}\",\"finalSipCode\":{code},\"callEndSubReason\":{sub_reason},\
\"finalSipCodePhrase\":\"{phrase}\",\"trunkFullyQualifiedDomainName\":\"{}\",\"mediaBypassEnabled\":{}}}",
        optional(user_id),
        optional((!bot).then(|| format!("{}@contoso.com", user.upn))),
        optional((!bot).then(|| user.name.to_owned())),
        call.start,
        call.duration_seconds,
        if successful {
            locations[random.below(locations.len())]
        } else {
            ""
        },
        locations[random.below(locations.len())],
        ["sbc1.contoso.com", "sbc2.contoso.com", "sbc-eu.contoso.com"][random.below(3)],
        random.unit() < 0.4,
    );
}
