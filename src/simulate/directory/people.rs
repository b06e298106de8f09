//! The directory's users as they start: ids, departments, cost centres and offices, a
//! pure function of the user's index (what tests change is kept by the directory).

use crate::simulate::random::CallRandom;
use serde_json::{Map, Value, json};

/// Users in the directory unless the options say otherwise.
pub const DEFAULT_DIRECTORY_USERS: usize = 1000;
/// Users per `/users/delta` page unless the options say otherwise.
pub const DEFAULT_DIRECTORY_PAGE_SIZE: usize = 500;
/// Row `userId`s come from indices below this (5% of them beyond the default directory).
pub const ROW_USER_POOL: u64 = 1050;

/// Departments, with the division each belongs to.
pub const DEPARTMENTS: &[(&str, &str)] = &[
    ("Sales", "Commercial"),
    ("Marketing", "Commercial"),
    ("Customer Success", "Commercial"),
    ("Engineering", "Product"),
    ("Product Management", "Product"),
    ("Design", "Product"),
    ("Finance", "Corporate"),
    ("Legal", "Corporate"),
    ("Human Resources", "Corporate"),
    ("IT", "Operations"),
    ("Facilities", "Operations"),
    ("Support", "Operations"),
];
const OFFICES: &[(&str, &str)] = &[
    ("Seattle", "US"),
    ("Toronto", "CA"),
    ("London", "GB"),
    ("Berlin", "DE"),
    ("Paris", "FR"),
    ("Sydney", "AU"),
];

/// The object id of user `index`: a GUID whose last 12 hex digits are the index, so
/// `GET /users/{id}` finds the user without a table.
pub fn user_id(index: u64) -> String {
    let mut random = CallRandom::new(0x0D1E_C708, 0x05E7, index);
    let a = random.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFF,
        0x8000 | (random.next_u64() & 0x3FFF),
        index
    )
}

/// The index a user id was made from, if it was made by [`user_id`].
pub(super) fn index_of(id: &str) -> Option<u64> {
    let index = u64::from_str_radix(id.get(24..)?, 16).ok()?;
    (user_id(index) == id).then_some(index)
}

/// A row's `userId`: two draws (as a random GUID took), one index of the row pool.
pub(in crate::simulate) fn row_user_id(random: &mut CallRandom) -> String {
    let index = random.next_u64() % ROW_USER_POOL;
    let _ = random.next_u64();
    user_id(index)
}

/// User `index` as the directory starts: a tenth without a department, cost centres
/// two per department, offices and usage locations spread over six countries.
pub(super) fn original(index: u64) -> Map<String, Value> {
    let mut random = CallRandom::new(0x0D1E_C708, 0x0A77, index);
    let (department, division) = DEPARTMENTS[random.below(DEPARTMENTS.len())];
    let with_department = random.unit() >= 0.1;
    let department_index = DEPARTMENTS
        .iter()
        .position(|(name, _)| *name == department)
        .unwrap_or(0);
    let cost_center = format!("CC-{}", 1000 + department_index * 10 + random.below(2));
    let (office, usage) = OFFICES[random.below(OFFICES.len())];
    let company = if random.unit() < 0.8 {
        "Contoso"
    } else {
        "Contoso Services"
    };
    let mut user = Map::new();
    user.insert("id".into(), json!(user_id(index)));
    user.insert(
        "department".into(),
        json!(with_department.then_some(department)),
    );
    user.insert(
        "employeeOrgData".into(),
        json!({"costCenter": cost_center, "division": division}),
    );
    user.insert("officeLocation".into(), json!(office));
    user.insert("usageLocation".into(), json!(usage));
    user.insert("companyName".into(), json!(company));
    user.insert("jobTitle".into(), Value::Null);
    user
}
