//! Sane upper bounds for quotas. A value past these is almost always a typo
//! (an extra digit, bytes instead of gigabytes), so validation refuses it.

/// (field, largest sane value, unit) in the order of `Quotas::fields`.
pub const QUOTA_LIMITS: [(&str, u64, &str); 7] = [
    ("storage_gb", 1_000_000, "GB, a petabyte"),
    ("executions_per_month", 1_000_000_000, "runs a month"),
    ("api_calls_per_month", 1_000_000_000_000, "calls a month"),
    ("max_users", 10_000_000, "users"),
    ("tokens_per_day", 1_000_000_000_000_000, "tokens"),
    ("tokens_per_week", 1_000_000_000_000_000, "tokens"),
    ("tokens_per_month", 1_000_000_000_000_000, "tokens"),
];
