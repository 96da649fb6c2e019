//! Bad-input cases as data: each `cases/NAME.toml` runs the real `tenet`
//! binary in `cases/NAME.in/` and compares its exit code, stdout and stderr
//! with `cases/NAME.stdout` / `cases/NAME.stderr`. Regenerate expectations
//! with `TRYCMD=overwrite cargo test --test cases` and review the diff.

#[test]
fn cases() {
    trycmd::TestCases::new()
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("GITHUB_ACTIONS", "false")
        .case("tests/cases/*.toml");
}
