//! Rows of the SMS log and the PSTN blocked-users log, shaped like Microsoft's
//! examples: SMS out and in with charges, masked numbers for some countries, half the
//! rows without an `id` (the documented example has none); blocks for "High Overall
//! Usage" and, later, the same user unblocked under a new `remediationId`.

use super::call_core::CallCore;
use super::fields::{COUNTRIES, USERS, country, guid, money, number, optional, quoted};
use super::random::CallRandom;
use std::fmt::Write;

/// Countries whose external numbers Graph shows partly masked (CA: the area code stays
/// visible, so the country can still be known; NO shares +47 with SJ, so it cannot).
const MASKED: &[&str] = &["DE", "FR", "NO", "CA"];

/// `+4930123456789` as `+4930123456***` for a masked country.
fn shown(number: String, country: &str) -> String {
    if MASKED.contains(&country) && number.len() > 6 {
        format!("{}***", &number[..number.len() - 3])
    } else {
        number
    }
}

/// One `smsLogRow`.
pub(super) fn sms(call: &CallCore, random: &mut CallRandom, out: &mut String) {
    let outbound = *random.weighted(&[(true, 7), (false, 3)]);
    let user = &USERS[random.below(USERS.len())];
    let home = country(user.country);
    let international = random.unit() < 0.25;
    let other = if international {
        COUNTRIES[random.below(COUNTRIES.len())]
    } else {
        *home
    };
    let units = *random.weighted(&[(1u32, 16), (2, 3), (3, 1)]);
    // Outbound messages cost a cent a segment at home, the destination's rate abroad.
    let per_unit = if !outbound {
        0.0
    } else if other.0 == home.0 {
        0.01
    } else {
        (other.4 / 6.0).max(0.04)
    };
    let as_string = random.unit() < 0.05;
    let user_number = number(random, home.0);
    let external = shown(number(random, other.0), other.0);
    let (source, destination) = if outbound {
        (user_number, external)
    } else {
        (external, user_number)
    };
    let with_id = random.unit() < 0.5;
    let id = guid(random);
    let user_id = super::directory::row_user_id(random);
    if with_id {
        let _ = write!(out, "{{\"id\":\"{id}\",");
    } else {
        out.push('{');
    }
    let _ = write!(
        out,
        "\"sentDateTime\":\"{}\",\"smsId\":\"{}\",\"smsType\":\"{}\",\"smsUnits\":{units},\"callCharge\":{},\"currency\":\"{}\",\
\"destinationContext\":{},\"destinationName\":\"{}\",\"destinationNumber\":\"{destination}\",\"sourceNumber\":\"{source}\",\
\"licenseCapability\":\"MCOSMS1\",\"otherPartyCountryCode\":\"{}\",\"userCountryCode\":\"{}\",\"tenantCountryCode\":\"us\",\
\"userId\":\"{user_id}\",\"userPrincipalName\":{},\"userDisplayName\":{}}}",
        call.start,
        random.next_u64() % 100_000,
        if outbound { "sms_out" } else { "sms_in" },
        money(per_unit * f64::from(units), home.2, as_string),
        home.2,
        match (outbound, international) {
            (false, _) => "null",
            (true, true) => "\"International\"",
            (true, false) => "\"Domestic\"",
        },
        other.3,
        other.0.to_lowercase(),
        home.0.to_lowercase(),
        quoted(&format!("{}@contoso.com", user.upn)),
        quoted(user.name),
    );
}

/// One `pstnBlockedUsersLogRow`: the even slot of a pair blocks the pair's user, the
/// odd one unblocks them. `user` draws are the pair's, `random` the row's own.
pub(super) fn blocked_user(
    call: &CallCore,
    user: &mut CallRandom,
    random: &mut CallRandom,
    out: &mut String,
) {
    let person = &USERS[user.below(USERS.len())];
    let user_id = super::directory::row_user_id(user);
    let telephone = number(user, country(person.country).0);
    let mode = if call.slot.rem_euclid(2) == 0 {
        "blocked"
    } else {
        "unblocked"
    };
    let reason = *user.weighted(&[("High Overall Usage", 8), ("High International Usage", 2)]);
    let _ = write!(
        out,
        "{{\"blockDateTime\":\"{}\",\"blockReason\":{},\"remediationId\":\"{}\",\"userBlockMode\":\"{mode}\",\
\"userId\":\"{user_id}\",\"userPrincipalName\":{},\"userDisplayName\":{},\"userTelephoneNumber\":{}}}",
        call.start,
        quoted(reason),
        guid(random),
        quoted(&format!("{}@contoso.com", person.upn)),
        quoted(person.name),
        optional(Some(telephone)),
    );
}
