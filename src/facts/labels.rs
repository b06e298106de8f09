//! Label values from closed sets: a metric label never carries an id, a number or a
//! user, and an unexpected value becomes `other`. Lookups return `&'static str`, so
//! labelling a row allocates nothing.

/// Documented `callType` values of `getPstnCalls` (Microsoft's example also shows ByotIn),
/// then the Operator Connect and Teams Phone Mobile types real tenants show though
/// Microsoft's list lacks them (their rows: `callDurationSource = operator`, an
/// `operator` name, no Microsoft charge).
pub(crate) const PSTN_CALL_TYPES: &[&str] = &[
    "user_in",
    "user_out",
    "user_out_conf",
    "user_out_transfer",
    "user_out_forwarding",
    "conf_in",
    "conf_out",
    "ucap_in",
    "ucap_out",
    "ByotIn",
    "oc_user_in",
    "oc_user_out",
    "oc_user_out_conf",
    "oc_fmc_in",
    "oc_fmc_out",
];
/// Documented `callType` values of `getDirectRoutingCalls`.
pub(crate) const DIRECT_ROUTING_CALL_TYPES: &[&str] = &[
    "dr_in",
    "dr_out",
    "dr_out_user_conf",
    "dr_out_user_forwarding",
    "dr_out_user_transfer",
    "dr_emergency_out",
    "dr_in_ucap",
    "dr_out_ucap",
];
/// Documented `licenseCapability` values.
pub(crate) const LICENSE_CAPABILITIES: &[&str] = &[
    "MCOPSTNU",
    "MCOPSTN1",
    "MCOPSTN2",
    "MCOPSTN5",
    "MCOPSTN6",
    "MCOPSTNPP",
    "MCOMEETADD",
    "MCOMEETACPEA",
];
/// `destinationContext` labels: Graph's two values in lower case, then the fallbacks.
pub(crate) const DESTINATIONS: &[&str] = &["domestic", "international", "other", "none"];

/// The label of a `destinationContext`, compared case-insensitively.
pub(crate) fn destination(value: Option<&str>) -> &'static str {
    match value {
        None | Some("") => "none",
        Some(value) if value.eq_ignore_ascii_case("domestic") => "domestic",
        Some(value) if value.eq_ignore_ascii_case("international") => "international",
        Some(_) => "other",
    }
}

/// Documented `smsType` values of `getSmsLog`.
pub(crate) const SMS_TYPES: &[&str] = &["sms_out", "sms_in"];
/// `userBlockMode` labels: Graph's two values, then everything else
/// (`unknownFutureValue`, absent).
pub(crate) const BLOCK_MODES: &[&str] = &["blocked", "unblocked", "other"];

/// The label of a `userBlockMode`.
pub(crate) fn block_mode(value: Option<&str>) -> &'static str {
    match value {
        Some(mode) if mode.eq_ignore_ascii_case("blocked") => "blocked",
        Some(mode) if mode.eq_ignore_ascii_case("unblocked") => "unblocked",
        _ => "other",
    }
}

/// ISO 3166-1 alpha-2 codes, sorted.
pub(crate) const COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];
/// ISO 4217 codes in use, sorted.
pub(crate) const CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWL",
];

/// The label for a value of a small unsorted set, or `other` (`none` when absent).
pub(crate) fn from_list(value: Option<&str>, list: &'static [&'static str]) -> &'static str {
    match value {
        None | Some("") => "none",
        Some(value) => list
            .iter()
            .find(|known| **known == value)
            .copied()
            .unwrap_or("other"),
    }
}

/// The label for a code of a sorted set, compared case-insensitively, or `other`
/// (`none` when absent).
pub(crate) fn from_sorted(value: Option<&str>, list: &'static [&'static str]) -> &'static str {
    let Some(value) = value.filter(|value| !value.is_empty()) else {
        return "none";
    };
    if value.len() > 3 || !value.is_ascii() {
        return "other";
    }
    let mut upper = [0u8; 3];
    for (slot, byte) in upper.iter_mut().zip(value.bytes()) {
        *slot = byte.to_ascii_uppercase();
    }
    let code = packed(&upper[..value.len()]);
    list.binary_search_by_key(&code, |known| packed(known.as_bytes()))
        .map(|index| list[index])
        .unwrap_or("other")
}

/// A code of up to three bytes as one number that orders as its text does: its bytes,
/// then its length (so `GB` and `GB\0` differ, and `GB` sorts before both `GB\0` and
/// `GBA`), and the search compares numbers, not strings (issue 28: three look-ups a
/// row, each a call to memcmp a step).
fn packed(code: &[u8]) -> u32 {
    let bytes = code
        .iter()
        .take(3)
        .fold(0, |word, byte| word << 8 | u32::from(*byte));
    let length = u32::try_from(code.len().min(3)).unwrap_or(3);
    (bytes << (8 * (3 - length)) << 8) | length
}

/// A final SIP code as a label: 100 to 699, else `other`.
pub(crate) fn sip_code(code: Option<i64>) -> &'static str {
    match code {
        Some(code @ 100..=699) => SIP_TEXT[(code - 100) as usize],
        Some(0) => "0",
        None => "none",
        Some(_) => "other",
    }
}

const SIP_TEXT: [&str; 600] = [
    "100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "110", "111", "112",
    "113", "114", "115", "116", "117", "118", "119", "120", "121", "122", "123", "124", "125",
    "126", "127", "128", "129", "130", "131", "132", "133", "134", "135", "136", "137", "138",
    "139", "140", "141", "142", "143", "144", "145", "146", "147", "148", "149", "150", "151",
    "152", "153", "154", "155", "156", "157", "158", "159", "160", "161", "162", "163", "164",
    "165", "166", "167", "168", "169", "170", "171", "172", "173", "174", "175", "176", "177",
    "178", "179", "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "190",
    "191", "192", "193", "194", "195", "196", "197", "198", "199", "200", "201", "202", "203",
    "204", "205", "206", "207", "208", "209", "210", "211", "212", "213", "214", "215", "216",
    "217", "218", "219", "220", "221", "222", "223", "224", "225", "226", "227", "228", "229",
    "230", "231", "232", "233", "234", "235", "236", "237", "238", "239", "240", "241", "242",
    "243", "244", "245", "246", "247", "248", "249", "250", "251", "252", "253", "254", "255",
    "256", "257", "258", "259", "260", "261", "262", "263", "264", "265", "266", "267", "268",
    "269", "270", "271", "272", "273", "274", "275", "276", "277", "278", "279", "280", "281",
    "282", "283", "284", "285", "286", "287", "288", "289", "290", "291", "292", "293", "294",
    "295", "296", "297", "298", "299", "300", "301", "302", "303", "304", "305", "306", "307",
    "308", "309", "310", "311", "312", "313", "314", "315", "316", "317", "318", "319", "320",
    "321", "322", "323", "324", "325", "326", "327", "328", "329", "330", "331", "332", "333",
    "334", "335", "336", "337", "338", "339", "340", "341", "342", "343", "344", "345", "346",
    "347", "348", "349", "350", "351", "352", "353", "354", "355", "356", "357", "358", "359",
    "360", "361", "362", "363", "364", "365", "366", "367", "368", "369", "370", "371", "372",
    "373", "374", "375", "376", "377", "378", "379", "380", "381", "382", "383", "384", "385",
    "386", "387", "388", "389", "390", "391", "392", "393", "394", "395", "396", "397", "398",
    "399", "400", "401", "402", "403", "404", "405", "406", "407", "408", "409", "410", "411",
    "412", "413", "414", "415", "416", "417", "418", "419", "420", "421", "422", "423", "424",
    "425", "426", "427", "428", "429", "430", "431", "432", "433", "434", "435", "436", "437",
    "438", "439", "440", "441", "442", "443", "444", "445", "446", "447", "448", "449", "450",
    "451", "452", "453", "454", "455", "456", "457", "458", "459", "460", "461", "462", "463",
    "464", "465", "466", "467", "468", "469", "470", "471", "472", "473", "474", "475", "476",
    "477", "478", "479", "480", "481", "482", "483", "484", "485", "486", "487", "488", "489",
    "490", "491", "492", "493", "494", "495", "496", "497", "498", "499", "500", "501", "502",
    "503", "504", "505", "506", "507", "508", "509", "510", "511", "512", "513", "514", "515",
    "516", "517", "518", "519", "520", "521", "522", "523", "524", "525", "526", "527", "528",
    "529", "530", "531", "532", "533", "534", "535", "536", "537", "538", "539", "540", "541",
    "542", "543", "544", "545", "546", "547", "548", "549", "550", "551", "552", "553", "554",
    "555", "556", "557", "558", "559", "560", "561", "562", "563", "564", "565", "566", "567",
    "568", "569", "570", "571", "572", "573", "574", "575", "576", "577", "578", "579", "580",
    "581", "582", "583", "584", "585", "586", "587", "588", "589", "590", "591", "592", "593",
    "594", "595", "596", "597", "598", "599", "600", "601", "602", "603", "604", "605", "606",
    "607", "608", "609", "610", "611", "612", "613", "614", "615", "616", "617", "618", "619",
    "620", "621", "622", "623", "624", "625", "626", "627", "628", "629", "630", "631", "632",
    "633", "634", "635", "636", "637", "638", "639", "640", "641", "642", "643", "644", "645",
    "646", "647", "648", "649", "650", "651", "652", "653", "654", "655", "656", "657", "658",
    "659", "660", "661", "662", "663", "664", "665", "666", "667", "668", "669", "670", "671",
    "672", "673", "674", "675", "676", "677", "678", "679", "680", "681", "682", "683", "684",
    "685", "686", "687", "688", "689", "690", "691", "692", "693", "694", "695", "696", "697",
    "698", "699",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_keep_their_label_and_anything_else_is_other() {
        assert_eq!(from_list(Some("user_out"), PSTN_CALL_TYPES), "user_out");
        assert_eq!(from_list(Some("future_type"), PSTN_CALL_TYPES), "other");
        for operator_connect in [
            "oc_user_in",
            "oc_user_out",
            "oc_user_out_conf",
            "oc_fmc_in",
            "oc_fmc_out",
        ] {
            assert_eq!(
                from_list(Some(operator_connect), PSTN_CALL_TYPES),
                operator_connect,
                "Operator Connect / Teams Phone Mobile types are labels of their own"
            );
        }
        assert_eq!(from_list(None, PSTN_CALL_TYPES), "none");
        assert_eq!(from_sorted(Some("us"), COUNTRIES), "US");
        assert_eq!(from_sorted(Some("XX"), COUNTRIES), "other");
        assert_eq!(from_sorted(Some("+14255550100"), COUNTRIES), "other");
        assert_eq!(from_sorted(Some("EUR"), CURRENCIES), "EUR");
        assert_eq!(from_sorted(Some("zwl"), CURRENCIES), "ZWL");
        assert_eq!(from_sorted(Some("AED"), CURRENCIES), "AED");
        assert_eq!(from_sorted(Some("EU"), CURRENCIES), "other");
        assert_eq!(from_sorted(Some("E"), COUNTRIES), "other");
        assert_eq!(
            from_sorted(Some("gb\0"), COUNTRIES),
            "other",
            "a NUL is no letter"
        );
        assert_eq!(from_sorted(Some(""), COUNTRIES), "none");
        for list in [COUNTRIES, CURRENCIES] {
            for code in list {
                assert_eq!(from_sorted(Some(code), list), *code, "every code is found");
            }
        }
        assert_eq!(sip_code(Some(487)), "487");
        assert_eq!(sip_code(Some(540_000)), "other");
    }

    #[test]
    fn the_sorted_lists_are_sorted() {
        for list in [COUNTRIES, CURRENCIES] {
            assert!(list.windows(2).all(|pair| pair[0] < pair[1]));
            assert!(
                list.windows(2)
                    .all(|pair| packed(pair[0].as_bytes()) < packed(pair[1].as_bytes())),
                "searched as numbers, in the same order"
            );
            assert!(list.iter().all(|code| code.len() <= 3));
        }
        assert!(packed(b"AB") < packed(b"AB\0") && packed(b"AB\0") < packed(b"ABA"));
        assert!(packed(b"AB") > packed(b"AA\0") && packed(b"A") < packed(b"A\0\0"));
    }
}
