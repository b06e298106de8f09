//! The directory attributes a source may put beside its rows (`[sources.NAME.directory]
//! attributes`): Graph user properties, some nested in `employeeOrgData`. Config
//! checks names against this list, graph builds its `$select` from it, and the event's
//! `user` object is keyed by each path's last segment.

/// Every attribute the agent knows how to read: string properties of Graph's `user`
/// that say where a user sits in the organisation (never contact data).
pub const DIRECTORY_ATTRIBUTES: &[&str] = &[
    "department",
    "employeeOrgData/costCenter",
    "employeeOrgData/division",
    "officeLocation",
    "usageLocation",
    "companyName",
    "jobTitle",
    "employeeType",
    "city",
    "state",
    "country",
    "preferredLanguage",
];

/// The attributes read when `attributes` is left out (CONTRACT's list).
pub const DEFAULT_DIRECTORY_ATTRIBUTES: &[&str] = &[
    "department",
    "employeeOrgData/costCenter",
    "employeeOrgData/division",
    "officeLocation",
    "usageLocation",
    "companyName",
];

/// One known attribute path (`department`, `employeeOrgData/costCenter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DirectoryAttribute(&'static str);

impl DirectoryAttribute {
    /// The attribute named `path` exactly, when the agent knows it.
    pub fn parse(path: &str) -> Option<DirectoryAttribute> {
        DIRECTORY_ATTRIBUTES
            .iter()
            .find(|known| **known == path)
            .map(|known| DirectoryAttribute(known))
    }

    /// The default list.
    pub fn defaults() -> Vec<DirectoryAttribute> {
        DEFAULT_DIRECTORY_ATTRIBUTES
            .iter()
            .filter_map(|path| DirectoryAttribute::parse(path))
            .collect()
    }

    /// The path as configured.
    pub fn path(&self) -> &'static str {
        self.0
    }

    /// The top-level user property to `$select` (`employeeOrgData` for its members).
    pub fn property(&self) -> &'static str {
        self.0.split('/').next().unwrap_or(self.0)
    }

    /// The member inside the property, for nested paths (`costCenter`).
    pub fn member(&self) -> Option<&'static str> {
        self.0.split_once('/').map(|(_, member)| member)
    }

    /// The key in the event's `user` object: the path's last segment.
    pub fn key(&self) -> &'static str {
        self.0.rsplit('/').next().unwrap_or(self.0)
    }
}

/// `id` and each distinct top-level property of `attributes`, comma-separated: the
/// `$select` of every directory request (`employeeOrgData` only when selected).
pub fn directory_select(attributes: &[DirectoryAttribute]) -> String {
    let mut select = vec!["id"];
    for attribute in attributes {
        if !select.contains(&attribute.property()) {
            select.push(attribute.property());
        }
    }
    select.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_select_names_each_top_level_property_once_and_keys_are_last_segments() {
        let attributes = DirectoryAttribute::defaults();
        assert_eq!(
            directory_select(&attributes),
            "id,department,employeeOrgData,officeLocation,usageLocation,companyName"
        );
        let keys: Vec<&str> = attributes.iter().map(DirectoryAttribute::key).collect();
        assert_eq!(
            keys,
            [
                "department",
                "costCenter",
                "division",
                "officeLocation",
                "usageLocation",
                "companyName"
            ]
        );
        let only = [DirectoryAttribute::parse("department").unwrap()];
        assert_eq!(directory_select(&only), "id,department");
        assert_eq!(DirectoryAttribute::parse("Department"), None);
    }
}
